// Where a client's results come from: BullMQ's QueueEvents (the queue's event stream, read from the id it had when
// the client started, and resumed from the last id seen after a reconnection), and, for what the stream did not
// deliver (trimmed, or an event the client could not parse), a sweep that reads the job itself from Redis. Each
// job settles once: the first answer wins, later ones (a job that ran twice after a stall) are dropped.
//
// This module owns the table of pending jobs; it does not add or remove jobs (client.ts does).

import { Job, type Queue, QueueEvents } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import { decodeOutcome } from './job.js';
import { JobFailedError, MalformedJobError, reviveRemoteError } from './errors.js';

export interface Pending {
  readonly id: string;
  /** The job is in Redis (add() returned). */
  added: boolean;
  /** An agent took it (an `active` event was seen). */
  started: boolean;
  readonly since: number;
  /** Called when the job settles (shutdown waits on these). */
  readonly done: (() => void)[];
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface HostCounts {
  done: number;
  failed: number;
}

/** How often the sweep runs, and how old a job must be before it is looked up, in ms. */
const SWEEP_MS = 2000;

export class ResultListener {
  readonly pending = new Map<string, Pending>();
  readonly hosts = new Map<string, HostCounts>();
  readonly totals = { done: 0, failed: 0 };
  private events: QueueEvents | undefined;
  private lastId = '$';
  private readonly sweeper: NodeJS.Timeout;
  private sweeping = false;
  private closed = false;

  constructor(
    private readonly queue: Queue,
    private readonly connection: RedisOptions,
    private readonly maxPayload: number,
  ) {
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Starts reading the event stream from its current end. */
  async start(): Promise<void> {
    const redis = await this.queue.client;
    const last = (await redis.runCommand('xrevrange', [this.queue.keys.events, '+', '-', 'COUNT', 1])) as [
      string,
      string[],
    ][];
    this.lastId = last[0]?.[0] ?? '0-0';
    await this.listen();
  }

  private async listen(): Promise<void> {
    const events = new QueueEvents(this.queue.name, {
      connection: this.connection,
      prefix: this.queue.opts.prefix,
      lastEventId: this.lastId,
      autorun: false,
    });
    this.events = events;
    events.on('active', ({ jobId }, id) => {
      this.lastId = id;
      const p = this.pending.get(jobId);
      if (p) p.started = true;
    });
    events.on('completed', ({ jobId, returnvalue }, id) => {
      this.lastId = id;
      this.complete(jobId, returnvalue);
    });
    events.on('failed', ({ jobId, failedReason }, id) => {
      this.lastId = id;
      this.settle(jobId, undefined, new JobFailedError(jobId, String(failedReason)));
    });
    events.on('error', () => {}); // connection errors: ioredis reconnects, the loop goes on
    await events.waitUntilReady();
    // The reading loop ends on an error it cannot retry (such as an event it cannot parse): a new one starts after
    // the last event seen.
    events.run().then(
      () => {},
      () => {
        if (this.closed || this.events !== events) return;
        this.events = undefined;
        void events.close().catch(() => {});
        void this.skipBadEvent().finally(() => this.relisten());
      },
    );
  }

  /**
   * Moves past the first event after the last one seen that QueueEvents cannot parse (it would stop the new
   * reading loop too). What that skips, the sweep finds in the jobs themselves.
   */
  private async skipBadEvent(): Promise<void> {
    try {
      const redis = await this.queue.client;
      const entries = (await redis.runCommand('xrange', [
        this.queue.keys.events,
        `(${this.lastId}`,
        '+',
        'COUNT',
        1000,
      ])) as [string, string[]][];
      for (const [id, fields] of entries) {
        const event: Record<string, string> = {};
        for (let i = 0; i + 1 < fields.length; i += 2) event[fields[i]!] = fields[i + 1]!;
        try {
          if (event.event === 'completed') JSON.parse(event.returnvalue ?? '');
          if (event.event === 'progress') JSON.parse(event.data ?? '');
        } catch {
          this.lastId = id;
          return;
        }
      }
    } catch {
      /* Redis is away: start again from the last event seen */
    }
  }

  /** Starts listening again, retrying while Redis cannot be reached. */
  private relisten(): void {
    setTimeout(() => {
      if (!this.closed) this.listen().catch(() => this.relisten());
    }, 100).unref();
  }

  /** Settles a job from its return value. */
  complete(jobId: string, returnvalue: unknown): void {
    const p = this.pending.get(jobId);
    if (!p) return;
    let outcome;
    try {
      outcome = decodeOutcome(jobId, returnvalue, this.maxPayload);
    } catch (err) {
      this.settle(jobId, undefined, err);
      return;
    }
    if (outcome.ok) this.settle(jobId, outcome.host, undefined, outcome.value);
    else this.settle(jobId, outcome.host, reviveRemoteError(outcome.value, outcome.host));
  }

  /** Removes the job from the table and settles its promise (once). */
  settle(jobId: string, host: string | undefined, error: unknown, value?: unknown): void {
    const p = this.pending.get(jobId);
    if (!p) return;
    this.pending.delete(jobId);
    const failed = error !== undefined;
    if (failed) this.totals.failed++;
    else this.totals.done++;
    if (host !== undefined) {
      let counts = this.hosts.get(host);
      if (!counts) this.hosts.set(host, (counts = { done: 0, failed: 0 }));
      if (failed) counts.failed++;
      else counts.done++;
    }
    if (failed) p.reject(error);
    else p.resolve(value);
  }

  /** Reads jobs that have waited a while from Redis: settled ones are settled here, vanished ones fail. */
  async sweep(): Promise<void> {
    if (this.sweeping || this.closed) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      const old = [...this.pending.values()].filter((p) => p.added && now - p.since >= SWEEP_MS).slice(0, 500);
      for (const p of old) {
        const state = await this.queue.getJobState(p.id);
        if (!this.pending.has(p.id)) continue;
        if (state === 'unknown') {
          this.settle(
            p.id,
            undefined,
            new JobFailedError(
              p.id,
              'the job is no longer in the queue (removed, or trimmed by retention before its result was read)',
            ),
          );
        } else if (state === 'completed' || state === 'failed') {
          let job: Job | undefined;
          try {
            job = await Job.fromId(this.queue, p.id);
          } catch (err) {
            this.settle(
              p.id,
              undefined,
              new MalformedJobError(p.id, 'it cannot be read back from Redis', { cause: err }),
            );
            continue;
          }
          if (!job) continue;
          if (state === 'failed') this.settle(p.id, undefined, new JobFailedError(p.id, job.failedReason));
          else this.complete(p.id, job.returnvalue);
        }
      }
    } catch {
      /* Redis is away: the next sweep tries again */
    } finally {
      this.sweeping = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await this.events?.close().catch(() => {});
  }
}
