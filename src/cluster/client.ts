// ClusterPool: UnitPool's API over a BullMQ queue. Each submit() is one job (each map() chunk one job), run by
// whichever agent takes it, in that host's own unit. The client owns its jobs' promises, their timers and the
// queue-wide settings it was given (global concurrency, rate limit); it never talks to an agent directly, and it
// reads what comes back as untrusted bytes (job.ts, results.ts).
//
// Delivery is at least once: a job whose agent died (its lock expired) runs again on another agent, so a task can
// run twice; the caller still gets exactly one answer, the first.

import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { OptionError, PoolClosedError, TaskTimeoutError } from '../errors.js';
import {
  checkOptions,
  either,
  nested,
  nonEmptyString,
  positiveInteger,
  refusalOf,
  required,
  type SchemaOf,
  url,
  wholeNumber,
} from '../options/check.js';
import { MAP_OPTIONS_SCHEMA, SHUTDOWN_OPTIONS_SCHEMA, SUBMIT_OPTIONS_SCHEMA } from '../options/pool.js';
import type { TaskFunction } from '../pool/functions.js';
import { mapArguments, MapIterator } from '../pool/map.js';
import type { MapOptions, ShutdownOptions, SubmitOptions, UnitPool } from '../pool/pool.js';
import { CONNECTION_FORM, checkQueueName, type ConnectionOption, redisOptions } from './connection.js';
import { JobFunctions } from './functions.js';
import { type CallKind, DEFAULT_MAX_PAYLOAD, encodeJob } from './job.js';
import { type Pending, ResultListener } from './results.js';

export interface Retention {
  /** Seconds a finished job (and its result) stays in Redis. */
  age?: number;
  /** At most this many finished jobs stay. */
  count?: number;
}

export interface ClusterPoolOptions {
  /** Redis: a URL (`redis://127.0.0.1:6380`), a unix socket path, or ioredis options. */
  connection: ConnectionOption;
  /** The BullMQ queue the agents take jobs from. */
  queue: string;
  /** The local copy of the agents' --modules directory: absolute module references inside it are sent relative to it. */
  modules?: string | URL;
  /** Largest encoded arguments or result, in bytes (default 16 MiB); larger ones are refused at submit. */
  maxPayload?: number;
  /** Runs of a job whose worker or unit died (WorkerExitedError, BrokenPoolError, UnitStartError); default 1: no retry. */
  attempts?: number;
  /** Delay before such a retry, in ms (default 0). */
  backoff?: number;
  /** How long finished jobs stay in Redis (default: 1 hour, at most 1000 completed and 1000 failed). */
  retention?: Retention;
  /** Cluster-wide limit on running jobs of this queue (BullMQ's global concurrency; a setting of the queue). */
  concurrency?: number;
  /** Cluster-wide rate limit: at most `max` jobs started per `duration` ms (BullMQ's global rate limit). */
  rateLimit?: { max: number; duration: number };
  /** map(): chunks in flight at once (default 64). */
  maxInFlight?: number;
  /** Entries kept in the queue's event stream (default 10000, approximate). */
  eventsMaxLen?: number;
  /** BullMQ's key prefix (default 'bull'). */
  prefix?: string;
}

export interface ClusterStats {
  /** Jobs submitted by this client and not answered yet. */
  pending: number;
  done: number;
  failed: number;
  /** Per agent: this client's tasks it answered, and every job of the queue it runs now. */
  hosts: Record<string, { done: number; failed: number; running: number }>;
}

/** After a task's timeout, how long the client still waits for the agent's own TaskTimeoutError, in ms. */
const TIMEOUT_GRACE = 5000;

/** The form of every key of ClusterPoolOptions (checkOptions, src/options/check.ts). */
export const CLUSTER_POOL_OPTIONS_SCHEMA = {
  connection: required(CONNECTION_FORM),
  queue: required(nonEmptyString),
  modules: either([nonEmptyString, url], 'an absolute path or a file: URL'),
  maxPayload: positiveInteger,
  attempts: positiveInteger,
  backoff: wholeNumber,
  retention: nested({ age: positiveInteger, count: wholeNumber }),
  concurrency: positiveInteger,
  rateLimit: nested({ max: required(positiveInteger), duration: required(positiveInteger) }),
  maxInFlight: positiveInteger,
  eventsMaxLen: positiveInteger,
  prefix: nonEmptyString,
} satisfies SchemaOf<ClusterPoolOptions>;

/** What code written for a UnitPool calls: ClusterPool has it with the same types (checked by the compiler). */
export type PoolCalls = Pick<UnitPool, 'submit' | 'map' | 'shutdown' | 'ready' | typeof Symbol.asyncDispose>;

export class ClusterPool implements PoolCalls {
  private readonly queue: Queue;
  private readonly results: ResultListener;
  private readonly functions: JobFunctions;
  private readonly started: Promise<void>;
  private readonly id = randomBytes(6).toString('hex');
  private seq = 0;
  private closing = false;
  private shutdownDone: Promise<void> | undefined;
  private readonly jobOptions: Record<string, unknown>;
  private readonly maxPayload: number;
  private readonly maxInFlight: number;

  constructor(private readonly options: ClusterPoolOptions) {
    checkOptions('new ClusterPool()', options === undefined ? {} : options, CLUSTER_POOL_OPTIONS_SCHEMA);
    const name = checkQueueName(options.queue);
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.maxInFlight = options.maxInFlight ?? 64;
    const retention = options.retention ?? {};
    const keep = { age: retention.age ?? 3600, count: retention.count ?? 1000 };
    this.jobOptions = {
      attempts: options.attempts ?? 1,
      ...(options.backoff ? { backoff: { type: 'fixed', delay: options.backoff } } : {}),
      removeOnComplete: keep,
      removeOnFail: keep,
    };
    this.functions = new JobFunctions(options.modules);
    const connection = redisOptions(options.connection);
    const maxLen = options.eventsMaxLen ?? 10_000;
    this.queue = new Queue(name, { connection, prefix: options.prefix, streams: { events: { maxLen } } });
    this.queue.on('error', () => {}); // ioredis reconnects by itself; commands wait for it
    this.results = new ResultListener(this.queue, connection, this.maxPayload);
    this.started = this.start();
    this.started.catch(() => {});
  }

  private async start(): Promise<void> {
    await this.queue.waitUntilReady();
    await this.results.start();
    if (this.options.concurrency !== undefined) await this.queue.setGlobalConcurrency(this.options.concurrency);
    const rate = this.options.rateLimit;
    if (rate !== undefined) await this.queue.setGlobalRateLimit(rate.max, rate.duration);
  }

  /** Resolves when the client is connected and listens for results. */
  ready(): Promise<void> {
    return this.started;
  }

  /** Runs fn(...args) on an agent; resolves with its result or rejects with what it threw (with `host` set). */
  submit<A extends unknown[], R>(
    fn: ((...args: A) => R) | TaskFunction,
    args?: A,
    options?: SubmitOptions,
  ): Promise<Awaited<R>>;
  submit(fn: TaskFunction, args: unknown[] = [], options: SubmitOptions = {}): Promise<unknown> {
    return this.enqueue(fn, 'call', args, options).result;
  }

  /**
   * fn over every item, in order (or as jobs complete with ordered: false), chunksize items per job, a bounded number
   * of jobs in flight (maxInFlight). Over several iterables as UnitPool.map does (zipped, the shortest wins).
   */
  map: UnitPool['map'] = (fn: TaskFunction, ...rest: unknown[]): AsyncIterableIterator<never> => {
    const { items, spread, options: given } = mapArguments(rest);
    checkOptions('map()', given, MAP_OPTIONS_SCHEMA);
    const options = (given ?? {}) as MapOptions;
    const chunksize = options.chunksize ?? 1;
    this.checkOpen('map');
    this.functions.of(fn);
    const submitChunk = (chunk: unknown[]) =>
      this.enqueue(fn, spread ? 'zip' : 'chunk', chunk, { timeout: options.timeout, signal: options.signal });
    return new MapIterator<unknown, never>(items, {
      chunksize,
      maxInFlight: () => this.maxInFlight,
      submitChunk,
      onProgress: options.onProgress,
      ordered: options.ordered !== false,
    });
  };

  /** No new tasks; waits for this client's jobs (unless wait: false), cancelling the waiting ones with cancelPending. */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const refused = refusalOf('shutdown()', options, SHUTDOWN_OPTIONS_SCHEMA);
    if (refused) return Promise.reject(refused);
    const { wait = true, cancelPending = false } = options;
    this.closing = true;
    if (cancelPending) {
      for (const p of [...this.results.pending.values()]) {
        if (!p.started)
          void this.cancel(
            p,
            new PoolClosedError('task cancelled by shutdown({ cancelPending: true }) before it started'),
          );
      }
    }
    this.shutdownDone ??= this.finish();
    return wait ? this.shutdownDone : Promise.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** This client's answers per host, and the jobs each agent runs now (read from Redis). */
  async stats(): Promise<ClusterStats> {
    const hosts: ClusterStats['hosts'] = {};
    for (const [host, c] of this.results.hosts) hosts[host] = { ...c, running: 0 };
    await this.started;
    for (const job of await this.queue.getJobs(['active'], 0, 999)) {
      const host = job?.processedBy;
      if (!host) continue;
      hosts[host] ??= { done: 0, failed: 0, running: 0 };
      hosts[host].running++;
    }
    return { pending: this.results.pending.size, ...this.results.totals, hosts };
  }

  private checkOpen(what: string): void {
    if (this.closing) throw new PoolClosedError(`cannot ${what}() after shutdown()`);
  }

  private async finish(): Promise<void> {
    const waiting = [...this.results.pending.values()].map((p) => new Promise<void>((r) => p.done.push(r)));
    await Promise.all(waiting);
    await this.results.close();
    await this.queue.close().catch(() => {});
  }

  /** One job; what cannot be submitted is a rejected result. */
  private enqueue(
    fn: TaskFunction,
    call: CallKind,
    values: unknown[],
    options: SubmitOptions,
  ): { result: Promise<unknown>; cancel(): void } {
    try {
      if (call === 'call') checkOptions('submit()', options, SUBMIT_OPTIONS_SCHEMA);
      if (options.onProgress !== undefined) {
        // Refused rather than dropped: progress reports do not travel through the queue (yet).
        throw new OptionError(
          'onProgress',
          options.onProgress,
          'a ClusterPool does not carry progress reports from its agents',
          'no onProgress with ClusterPool (a UnitPool on one machine has it)',
        );
      }
      this.checkOpen(call === 'call' ? 'submit' : 'map');
      if (!Array.isArray(values)) {
        const message = `submit(fn, args): args must be an array of arguments, got ${typeof values}`;
        throw new OptionError('args', values, message, 'an array, e.g. submit(fn, [1, 2])', { message });
      }
      return this.add(fn, call, values, options);
    } catch (err) {
      return { result: Promise.reject(err), cancel: () => {} };
    }
  }

  private add(
    fn: TaskFunction,
    call: CallKind,
    values: unknown[],
    options: SubmitOptions,
  ): { result: Promise<unknown>; cancel(): void } {
    const timeout = options.timeout;
    const data = encodeJob({ fn: this.functions.of(fn), call, values, timeout: timeout ?? null }, this.maxPayload);
    options.signal?.throwIfAborted();
    const id = `${this.id}-${++this.seq}`;
    let p!: Pending;
    const result = new Promise<unknown>((resolve, reject) => {
      p = { id, added: false, started: false, since: Date.now(), done: [], resolve, reject };
    });
    const cleanup = this.arm(p, options);
    const settleHooks = () => {
      cleanup();
      for (const d of p.done) d();
    };
    const { resolve, reject } = p;
    p.resolve = (v) => (settleHooks(), resolve(v));
    p.reject = (e) => (settleHooks(), reject(e));
    this.results.pending.set(id, p);
    this.started
      // a job cancelled before it was added is not added
      .then(() =>
        this.results.pending.has(id) ? this.queue.add(call, data, { ...this.jobOptions, jobId: id }) : undefined,
      )
      .then(
        () => (p.added = true),
        (err: unknown) => this.results.settle(id, undefined, err),
      );
    return { result, cancel: () => void this.cancel(p, new PoolClosedError('map() was left before this chunk ran')) };
  }

  /** Timeout and AbortSignal of one job; returns what undoes them. */
  private arm(p: Pending, options: SubmitOptions): () => void {
    const timers: NodeJS.Timeout[] = [];
    const { timeout, signal } = options;
    if (timeout !== undefined) {
      timers.push(
        setTimeout(() => {
          // not started: take it off the queue; started: the agent's own TaskTimeoutError (with its host) comes soon
          if (!p.started) void this.cancel(p, new TaskTimeoutError(timeout));
          timers.push(
            setTimeout(() => this.results.settle(p.id, undefined, new TaskTimeoutError(timeout)), TIMEOUT_GRACE),
          );
        }, timeout),
      );
    }
    const onAbort = () => void this.cancel(p, signal!.reason, true);
    signal?.addEventListener('abort', onAbort, { once: true });
    return () => {
      for (const t of timers) clearTimeout(t);
      signal?.removeEventListener('abort', onAbort);
    };
  }

  /** Removes a job that no agent has taken and rejects it; a job already running keeps running (or `always`: its result is dropped). */
  private async cancel(p: Pending, reason: unknown, always = false): Promise<void> {
    if (!this.results.pending.has(p.id)) return;
    try {
      await this.started;
      // remove() refuses a locked job: an agent runs it
      const removed = await this.queue.remove(p.id);
      if (removed === 1 || !p.added || always) this.results.settle(p.id, undefined, reason);
    } catch {
      if (always) this.results.settle(p.id, undefined, reason);
    }
  }
}
