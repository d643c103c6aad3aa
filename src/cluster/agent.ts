// An agent: one host's share of a cluster. It owns one UnitPool (one systemd unit with that host's confinement)
// and BullMQ Workers that take jobs from the queue and run each in that pool. BullMQ does the scheduling: locks
// and stalled-job recovery (a job whose agent died runs again elsewhere), retries, global concurrency and rate
// limits. This module may not touch the pool's internals: it uses UnitPool's public API, plus SourceText for
// functions that arrive as text (compiled by the workers only, never here).
//
//   Redis ──job──> Worker (concurrency N) ──decodeJob──> resolve fn (modules dir / --allow-source)
//                                               └──> pool.submit / pool.map chunk ──> outcome { host, ok, bytes }
//
// Every outcome is a return value, the task's failures too (BullMQ would keep only a message); BullMQ's own
// `failed` is for what no agent could answer: stalls past maxStalledCount, and retryable failures (the worker or
// unit died) while attempts remain, which are thrown so that BullMQ runs the job again.

import { hostname } from 'node:os';
import { type Job, WaitingError, Worker } from 'bullmq';
import { BrokenPoolError, UnitStartError, WorkerExitedError } from '../errors.js';
import {
  boolean,
  checkOptions,
  func,
  milliseconds,
  nested,
  nonEmptyString,
  positiveInteger,
  refusalOf,
  required,
  type SchemaOf,
  wholeNumber,
} from '../options/check.js';
import { UNIT_POOL_OPTIONS_SCHEMA } from '../options/pool.js';
import { SourceText, type TaskFunction } from '../pool/functions.js';
import { UnitPool, type UnitPoolOptions } from '../pool/pool.js';
import { CONNECTION_FORM, checkQueueName, type ConnectionOption, redisOptions } from './connection.js';
import { SourceRefusedError } from './errors.js';
import { decodeJob, DEFAULT_MAX_PAYLOAD, encodeOutcome, type JobFunction, type JobSpec, type Outcome } from './job.js';
import { ModuleDirectory } from './modules.js';

export interface AgentOptions {
  /** Redis: a URL (`redis://127.0.0.1:6380`), a unix socket path, or ioredis options. */
  connection: ConnectionOption;
  /** The BullMQ queue to take jobs from. */
  queue: string;
  /** This host's pool: its confinement, CPU quota, memory cap, workers. */
  pool?: UnitPoolOptions;
  /** Module references resolve inside this directory and nowhere else; without it, the agent runs no module. */
  modules?: string;
  /** Jobs this agent runs at once (default: the pool's maxWorkers). */
  concurrency?: number;
  /** Run functions sent as source text: whoever can write to the queue then runs code in this host's unit. */
  allowSource?: boolean;
  /** The name results carry as `host` (default: os.hostname()). */
  host?: string;
  /** Largest encoded payload accepted or sent, in bytes (default 16 MiB); the clients' must be the same or lower. */
  maxPayload?: number;
  /** How long a job's lock lasts without renewal, in ms (default 30 s): a dead agent's jobs return after about this long. */
  lockDuration?: number;
  /** How often this agent looks for stalled jobs, in ms (default: lockDuration). */
  stalledInterval?: number;
  /** How many times a job may stall (its agent died) and run again before it fails (default 1). */
  maxStalledCount?: number;
  /** BullMQ's key prefix (default 'bull'). */
  prefix?: string;
  /** Where the agent logs what goes wrong (default: nothing). */
  log?: (line: string) => void;
}

export interface AgentStats {
  host: string;
  done: number;
  failed: number;
  running: number;
}

const RETRYABLE = [WorkerExitedError, BrokenPoolError, UnitStartError];

/** The form of every key of AgentOptions (checkOptions, src/options/check.ts); `pool` is checked as UnitPool's options. */
export const AGENT_OPTIONS_SCHEMA = {
  connection: required(CONNECTION_FORM),
  queue: required(nonEmptyString),
  pool: nested(UNIT_POOL_OPTIONS_SCHEMA, "UnitPool's options, e.g. { preset: 'untrusted', maxWorkers: 4 }"),
  modules: nonEmptyString,
  concurrency: positiveInteger,
  allowSource: boolean,
  host: nonEmptyString,
  maxPayload: positiveInteger,
  lockDuration: positiveInteger,
  stalledInterval: positiveInteger,
  maxStalledCount: wholeNumber,
  prefix: nonEmptyString,
  log: func,
} satisfies SchemaOf<AgentOptions>;

const CLOSE_OPTIONS_SCHEMA = { timeout: milliseconds } satisfies SchemaOf<{ timeout?: number }>;

export class Agent {
  readonly host: string;
  readonly pool: UnitPool;
  private readonly worker: Worker;
  private readonly modules: ModuleDirectory;
  private readonly sources = new Map<string, SourceText>();
  private readonly maxPayload: number;
  private readonly counts = { done: 0, failed: 0, running: 0 };
  private closing: Promise<void> | undefined;
  /** Resolves the running jobs' hand-back: they go back to the queue for another agent. */
  private readonly handBacks = new Set<() => void>();
  private hurry: (() => void) | undefined;
  private readonly running: Promise<void>;
  private readonly stopped: Promise<void>;
  private markStopped!: () => void;

  /** Use startAgent(), which also waits for the unit to start. */
  constructor(private readonly options: AgentOptions) {
    checkOptions('new Agent()', options === undefined ? {} : options, AGENT_OPTIONS_SCHEMA);
    const queue = checkQueueName(options.queue);
    this.host = options.host ?? hostname();
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.modules = new ModuleDirectory(options.modules);
    this.pool = new UnitPool(options.pool ?? {});
    const concurrency = options.concurrency ?? this.pool.maxWorkers;
    const lockDuration = options.lockDuration ?? 30_000;
    this.worker = new Worker(queue, (job: Job, token?: string) => this.process(job, token), {
      connection: redisOptions(options.connection),
      prefix: options.prefix,
      name: this.host,
      autorun: false,
      concurrency,
      lockDuration,
      stalledInterval: options.stalledInterval ?? lockDuration,
      maxStalledCount: options.maxStalledCount ?? 1,
    });
    this.worker.on('error', (err) => this.log(`queue: ${err.message}`));
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
    this.running = this.pool.ready().then(() => this.worker.run());
    this.running.catch(() => {});
  }

  /** Resolves when the agent has stopped: after close(), or by itself when its pool broke (the unit died). */
  get done(): Promise<void> {
    return this.stopped;
  }

  /** Resolves when the unit runs and the workers take jobs. */
  async ready(): Promise<void> {
    await this.pool.ready();
    await this.worker.waitUntilReady();
  }

  stats(): AgentStats {
    return { host: this.host, ...this.counts };
  }

  /**
   * Stops taking jobs, lets the running ones finish for up to `timeout` ms (default 30 s), hands those still
   * running back to the queue (another agent runs them), then stops the unit. A second call with timeout 0
   * hands back at once.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    const refused = refusalOf('close()', options, CLOSE_OPTIONS_SCHEMA);
    if (refused) return Promise.reject(refused);
    if (this.closing && options.timeout === 0) this.hurry?.();
    this.closing ??= this.stop(options.timeout ?? 30_000).finally(() => this.markStopped());
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async stop(timeout: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      this.hurry = resolve;
      timer = setTimeout(resolve, timeout);
    });
    const closed = this.worker.close();
    const finished = await Promise.race([closed.then(() => true), late.then(() => false)]);
    clearTimeout(timer);
    if (!finished) {
      this.log(`stop: handing ${this.handBacks.size} running job(s) back to the queue`);
      for (const handBack of this.handBacks) handBack();
    }
    await closed;
    await this.pool.terminate();
  }

  private log(line: string): void {
    this.options.log?.(`${this.host}: ${line}`);
  }

  private async process(job: Job, token: string | undefined): Promise<Outcome> {
    this.counts.running++;
    let handBack!: () => void;
    const handedBack = new Promise<'back'>((resolve) => (handBack = () => resolve('back')));
    this.handBacks.add(handBack);
    try {
      const outcome = await Promise.race([this.run(job), handedBack]);
      if (outcome === 'back') {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (outcome.ok) this.counts.done++;
      else this.counts.failed++;
      return outcome;
    } finally {
      this.handBacks.delete(handBack);
      this.counts.running--;
    }
  }

  private async run(job: Job): Promise<Outcome> {
    let spec: JobSpec;
    let fn: TaskFunction;
    try {
      spec = decodeJob(job.id, job.data, this.maxPayload);
      fn = this.taskFunction(spec.fn);
    } catch (err) {
      return encodeOutcome(this.host, false, err, this.maxPayload);
    }
    try {
      const result = await this.execute(fn, spec);
      return encodeOutcome(this.host, true, result, this.maxPayload);
    } catch (err) {
      if (err instanceof BrokenPoolError) {
        this.log(`the pool broke (${err.message}); stopping`);
        void this.close({ timeout: 1000 });
      }
      // a retryable failure while attempts remain: thrown, so that BullMQ runs the job again (maybe elsewhere)
      if (RETRYABLE.some((c) => err instanceof c) && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) throw err;
      return encodeOutcome(this.host, false, err, this.maxPayload);
    }
  }

  private async execute(fn: TaskFunction, spec: JobSpec): Promise<unknown> {
    const options = spec.timeout === null ? {} : { timeout: spec.timeout };
    if (spec.call === 'call') return this.pool.submit(fn, spec.values, options);
    const results: unknown[] = [];
    if (spec.values.length === 0) return results;
    const chunk = { ...options, chunksize: spec.values.length };
    // 'zip': the tuples back into one column per iterable, for map(fn, a, b, ...)
    const columns =
      spec.call === 'zip'
        ? (spec.values[0] as unknown[]).map((_, j) => spec.values.map((t) => (t as unknown[])[j]))
        : [spec.values];
    for await (const r of this.pool.map(fn, ...columns, chunk)) results.push(r);
    return results;
  }

  private taskFunction(fn: JobFunction): TaskFunction {
    if (fn[0] === 'm') return this.modules.resolve(fn[1], fn[2]);
    if (!this.options.allowSource) throw new SourceRefusedError(this.host);
    let text = this.sources.get(fn[1]);
    if (!text) {
      text = new SourceText(fn[1], fn[2] || 'anonymous function');
      if (this.sources.size >= 1024) this.sources.clear();
      this.sources.set(fn[1], text);
    }
    return text as unknown as TaskFunction;
  }
}

/** Starts an agent and waits until its unit runs and it takes jobs. */
export async function startAgent(options: AgentOptions): Promise<Agent> {
  const agent = new Agent(options);
  try {
    await agent.ready();
  } catch (err) {
    await agent.close({ timeout: 0 }).catch(() => {});
    throw err;
  }
  return agent;
}
