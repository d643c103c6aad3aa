// UnitPool: a process pool executor whose workers run inside systemd transient units. This is the facade: it owns
// the pool's life (open -> closing -> finished, or broken), the settling of every task's promise (results,
// errors, timeouts, aborts), and the wiring of the objects below, which report up through callbacks:
//
//   submit(fn, args) ─┐ encode args now (SerializationError at once), register fn (key + source, once)
//   map(fn, items) ───┤ chunks of `chunksize`, a bounded number in flight (map.ts)
//                     ▼
//   ┌─ Scheduler (scheduler.ts) ─────────────────────┐   a slot frees   ┌─ WorkerSet (worker-set.ts) ────────────┐
//   │ the one gate: a task goes out when a worker    │ ───────────────> │ Worker (worker.ts), one per process:   │
//   │ has room; tasks put back after a death first   │   least busy     │ state, tasks in flight, its channel    │
//   └────────────────────────────────────────────────┘                  └──────┬───────────────────────▲─────────┘
//                                       [Define fn] + Call frame on the channel│      result frames  │ (untrusted:
//                                       (channel/: direct link, or relayed)    ▼                     │  parsed once)
//   ┌─ host (host/): everything systemd ────────────────────────────────────────────────────────────────────────────┐
//   │ isolation 'pool' (supervisor-host.ts): unitpool-<id>.service; its supervisor (stdin/stdout = control socket,  │
//   │   connected by systemd) forks worker k when asked; worker k's frames go on its own link (link-server.ts)    │
//   │   or are relayed on the control socket. If the supervisor dies, a fresh unit takes over (relaunch).         │
//   │ isolation 'worker' (slice-host.ts): unitpool-<id>.slice, the pool's budget; unitpool-<id>-w<k>.service      │
//   │   is worker k alone, stdin+stdout = its link (connected by systemd); no supervisor.                         │
//   │ isolation 'none': the same supervisor as a plain child process.                                            │
//   └────────────────────────────────────────────────────────────────────────────────────────────────────────────┘
//
//   result frame -> Worker (checked against its in-flight tasks) -> WorkerSet -> here: settle the promise
//
// A worker has at most `depth` tasks in flight; it runs them in order, so its first in-flight task is the one
// running. `depth` adapts to how long tasks take: about 1 ms of queued work per worker (1 for slow tasks, up to 64
// for tiny ones). When a worker dies, that task rejects with WorkerExitedError and the tasks behind it go back to
// the front of the queue. When the supervisor dies, the running tasks reject (reason 'supervisor-exit') and a
// fresh unit takes over; when the unit is stopped on purpose, every task rejects with BrokenPoolError.
//
// This module may not read frames, talk to systemd or pick workers: those belong to the objects above.

import type { Socket } from 'node:net';
import { debuglog } from 'node:util';
import { BrokenPoolError, PoolClosedError, UnitPoolError } from '../errors.js';
import { checkOptions, refusalOf } from '../options/check.js';
import { SHUTDOWN_OPTIONS_SCHEMA, UNIT_POOL_OPTIONS_SCHEMA } from '../options/pool.js';
import { compileUnitOptions } from '../properties/index.js';
import type { BusChoice } from '../unit/bus.js';
import { type Capabilities, hostCapabilities } from '../unit/capabilities.js';
import type { UnitInfo } from '../unit/transient.js';
import { encodeWithPath } from '../wire/codec.js';
import { ToWorker } from '../wire/messages.js';
import { type FnEntry, FunctionRegistry, type TaskFunction } from './functions.js';
import type { PoolUsage, WorkerHost } from './host/host.js';
import { createHost } from './host/index.js';
import type { MapProgress } from './map.js';
import { Calls } from './calls.js';
import {
  checkPoolOptions,
  type Isolation,
  type MapOptions,
  resolveIsolation,
  resolveMaxWorkers,
  type ShutdownOptions,
  type StreamOptions,
  type SubmitOptions,
  type TaskOptions,
  type UnitPoolOptions,
  type PoolStats,
} from './options.js';
import { Scheduler } from './scheduler.js';
import { remoteError, type Task } from './task.js';
import { TaskBook } from './task-book.js';
import { WorkerSet } from './worker-set.js';

export type {
  PoolStats,
  MapOptions,
  MapProgress,
  PoolUsage,
  ShutdownOptions,
  StreamOptions,
  SubmitOptions,
  TaskOptions,
  UnitPoolOptions,
};

/** NODE_DEBUG=unitpool prints the pool's life: units, workers, faults. */
const debug = debuglog('unitpool');

/** submit() without options (not checked: the hot path of tiny tasks). */
const NO_OPTIONS: SubmitOptions = Object.freeze({});
const noop = () => {};

export class UnitPool implements AsyncDisposable {
  readonly maxWorkers: number;
  /** Where the workers run: one unit for the pool ('pool'), a unit each in the pool's slice ('worker'), or 'none'. */
  readonly isolation: Isolation;
  private readonly options: UnitPoolOptions;
  private readonly registry = new FunctionRegistry();
  private readonly host: WorkerHost;
  private readonly workers: WorkerSet;
  private readonly scheduler: Scheduler;
  private readonly tasks: TaskBook;
  private readonly calls: Calls;
  private readonly started: Promise<void>;
  /** The pool's life: takes tasks, or not any more (closing), or cannot (broken). */
  private broken: Error | undefined;
  private closing = false;
  /** terminate() or kill(): workers are not asked to finish, the unit is stopped at once. */
  private abandoned = false;
  private shutdownDone: Promise<void> | undefined;
  /** A fresh unit being started after a supervisor died (shutdown waits for it). */
  private relaunching: Promise<void> | undefined;
  /** Units whose supervisor died, in a row, with no task finished in between. */
  private unitDeaths = 0;
  /** Called once the first worker can take tasks (ready() waits for it). */
  private onFirstWorker: (() => void) | undefined;

  /** What the host's systemd can enforce, per property (a property it cannot is refused at start unless bestEffort). */
  static capabilities(options: { bus?: BusChoice } = {}): Promise<Capabilities> {
    return hostCapabilities(options.bus ?? 'system');
  }

  constructor(options: UnitPoolOptions = {}) {
    // Validate everything synchronously: a wrong option throws here, naming the option (a misspelt one too).
    checkOptions('new UnitPool()', options, UNIT_POOL_OPTIONS_SCHEMA);
    this.options = options;
    this.isolation = resolveIsolation(options);
    const compiled = compileUnitOptions(options);
    this.maxWorkers = resolveMaxWorkers(options.maxWorkers, compiled.cpus);
    checkPoolOptions(options);
    let init: { entry: FnEntry; message: Buffer } | undefined;
    if (options.initializer) {
      const entry = this.registry.resolve(options.initializer);
      init = { entry, message: encodeWithPath([ToWorker.Init, entry.key, options.initArgs ?? []], 'initArgs', 2) };
    }
    const workerOptions = {
      maxWorkers: this.maxWorkers,
      tasksPerWorker: options.fresh ? 1 : options.maxTasksPerWorker,
      idleTimeout: options.idleTimeout,
      onWorkerExit: options.onWorkerExit ?? 'replace',
      init,
    };
    this.workers = new WorkerSet(workerOptions, {
      onReply: (task, ok, value, took) => this.onReply(task, ok, value, took),
      onTaskFailed: (task, err) => this.fail(task, err),
      onRequeue: (task) => this.scheduler.requeue(task),
      onBreak: (err) => this.break(err),
      onCapacity: () => this.scheduler.updateCapacity(),
      onUsable: () => this.onFirstWorker?.(),
      onOutput: (fd, bytes, from) => this.write(fd, bytes, from),
      queued: () => this.scheduler.queuedCount,
      closed: () => this.closing || this.broken !== undefined,
    });
    const hostEvents = this.workers.hostEvents({
      output: (fd, bytes, from) => this.write(fd, bytes, from),
      unitGone: (why, onPurpose) => this.onUnitGone(why, onPurpose),
    });
    this.host = createHost(this.isolation, options, compiled, hostEvents);
    this.workers.attach(this.host);
    this.scheduler = new Scheduler(this.workers, options.maxQueue, (task, err) => this.fail(task, err));
    this.tasks = new TaskBook(this.scheduler, () => this.host.unitName, options.callSites === true);
    const { scheduler, tasks, workers, maxWorkers } = this;
    const context = { scheduler, tasks, workers, maxWorkers, maxQueue: options.maxQueue, queueMode: options.queueMode };
    const checkOpen = (what: string) => this.checkOpen(what);
    this.calls = new Calls(
      { ...context, startsWorkersOnDemand: options.idleTimeout !== undefined, checkOpen },
      this.registry,
    );
    this.started = this.start();
    this.started.catch(noop);
  }

  /** The pool's transient unit (its slice with isolation 'worker'), once it exists. */
  get unit(): UnitInfo | undefined {
    return this.host.unit;
  }

  /** Resolves when the unit is running and its first workers are forked; rejects if it could not be started. */
  ready(): Promise<void> {
    return this.started;
  }

  /** Runs fn(...args) in a worker; resolves with its result or rejects with what it threw. */
  submit<A extends unknown[], R>(
    fn: ((...args: A) => R) | TaskFunction,
    args?: A,
    options?: SubmitOptions,
  ): Promise<Awaited<R>>;
  submit(fn: TaskFunction, args: unknown[] = [], options: SubmitOptions = NO_OPTIONS): Promise<unknown> {
    return this.calls.submit(fn, args, options, options !== NO_OPTIONS);
  }

  /**
   * Runs fn(...args), where fn is an async generator function (or returns any iterable): an AsyncIterable of what it
   * yields, with backpressure across the process boundary (the worker runs at most `window` values ahead of the
   * loop). Leaving the loop early stops the generator in the worker (its `finally` runs); an error it throws comes
   * out of the loop after the values before it.
   */
  stream<A extends unknown[], T>(
    fn: ((...args: A) => AsyncIterable<T> | Iterable<T>) | TaskFunction,
    args?: A,
    options?: StreamOptions,
  ): AsyncIterableIterator<T>;
  stream(fn: TaskFunction, args: unknown[] = [], options: StreamOptions = {}): AsyncIterableIterator<unknown> {
    return this.calls.stream(fn, args, options);
  }

  /**
   * Applies fn to every item: an AsyncIterable of the results, in input order (or as they complete, with
   * `ordered: false`). Items are pulled lazily, `chunksize` per task, with a bounded number of chunks in flight;
   * leaving the loop early cancels the chunks that have not started.
   */
  map<T, R>(
    fn: ((item: T) => R) | TaskFunction,
    items: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>>;
  map<A, B, R>(
    fn: ((a: A, b: B) => R) | TaskFunction,
    a: Iterable<A> | AsyncIterable<A>,
    b: Iterable<B> | AsyncIterable<B>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>>;
  map<A, B, C, R>(
    fn: ((a: A, b: B, c: C) => R) | TaskFunction,
    a: Iterable<A> | AsyncIterable<A>,
    b: Iterable<B> | AsyncIterable<B>,
    c: Iterable<C> | AsyncIterable<C>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>>;
  /** Any number of iterables, then the options. */
  map<R>(
    fn: ((...items: never[]) => R) | TaskFunction,
    ...iterablesThenOptions: (Iterable<unknown> | AsyncIterable<unknown> | MapOptions)[]
  ): AsyncIterableIterator<Awaited<R>>;
  map(fn: TaskFunction, ...rest: unknown[]): AsyncIterableIterator<unknown> {
    return this.calls.map(fn, rest);
  }

  /** Stops the pool: no new tasks; waits for the queued ones (unless cancelPending) and stops the unit. */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const refused = refusalOf('shutdown()', options, SHUTDOWN_OPTIONS_SCHEMA);
    if (refused) return Promise.reject(refused);
    const { wait = true, cancelPending = false } = options;
    this.closing = true;
    this.scheduler.wakeWaiters(true);
    if (cancelPending)
      this.failQueued(new PoolClosedError('task cancelled by shutdown({ cancelPending: true }) before it started'));
    this.shutdownDone ??= this.finish();
    return wait ? this.shutdownDone : Promise.resolve();
  }

  /**
   * Stops the unit now: every queued and running task rejects with PoolClosedError. systemd sends SIGTERM to every
   * process of the unit, then SIGKILL after the stop timeout (3 s).
   */
  async terminate(): Promise<void> {
    this.abandonAll('terminated by terminate()');
    await this.shutdown();
  }

  /** Like terminate(), with SIGKILL at once. */
  async kill(): Promise<void> {
    this.abandonAll('killed by kill()');
    await this.host.killAll();
    await this.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** CPU time, memory (current and peak), tasks and IO bytes of the unit, from systemd and its cgroup files. */
  async usage(): Promise<PoolUsage> {
    await this.started;
    return this.host.usage();
  }

  /** Counters of the pool right now. */
  stats(): PoolStats {
    const { running, workers } = this.workers.stats();
    const { done, failed } = this.tasks.counts;
    return { queued: this.scheduler.queuedCount, running, done, failed, workers };
  }

  // ── start ────────────────────────────────────────────────────────────────────────────────────────────────

  private async start(): Promise<void> {
    try {
      const first = new Promise<void>((resolve) => (this.onFirstWorker = resolve));
      await this.host.open(() => this.workers.addInitial());
      this.workers.ensure();
      this.scheduler.updateCapacity();
      // With idleTimeout, workers start only when work comes.
      if (this.options.idleTimeout === undefined) await first;
      if (this.broken) throw this.broken;
    } catch (err) {
      this.break(err instanceof Error ? err : new Error(String(err)));
      throw err;
    } finally {
      this.onFirstWorker = undefined;
    }
  }

  /**
   * The unit lost its supervisor (a task killed it, or it crashed). A fresh unit takes over, unless onWorkerExit is
   * 'break', the unit was stopped on purpose, or units keep dying (three in a row with no task finished in between):
   * then the pool breaks.
   */
  private onUnitGone(why: string, onPurpose: boolean): void {
    if (this.broken || (this.closing && this.tasks.pending === 0)) return;
    const name = this.host.unitName;
    if (this.options.onWorkerExit === 'break' || onPurpose || ++this.unitDeaths >= 3) {
      return this.break(new BrokenPoolError(`the pool's unit ${name} stopped (${why})`));
    }
    debug('supervisor of %s died (%s); starting a fresh unit', name, why);
    this.workers.abandonAll(why);
    this.relaunching = this.host
      .relaunch(
        () => !(this.closing && this.tasks.pending === 0),
        () => this.workers.addInitial(),
      )
      .then(
        () => {
          this.workers.ensure();
          this.scheduler.updateCapacity();
        },
        (err: unknown) =>
          this.break(
            new BrokenPoolError(
              `the pool's unit ${name} lost its supervisor (${why}), and a fresh unit could not be started`,
              { cause: err },
            ),
          ),
      );
  }

  /** Console output: written through; while the destination is full, `from` waits (backpressure). */
  private write(fd: 1 | 2, bytes: Uint8Array, from: Socket | undefined): boolean {
    const out = fd === 1 ? (this.options.stdout ?? process.stdout) : (this.options.stderr ?? process.stderr);
    if (out.write(bytes)) return true;
    if (from && !from.isPaused()) {
      from.pause();
      out.once('drain', () => from.resume());
    }
    return false;
  }

  // ── tasks ────────────────────────────────────────────────────────────────────────────────────────────────

  private checkOpen(what: string): void {
    if (this.closing)
      throw this.withUnit(new PoolClosedError(`${what}() after shutdown(): this pool takes no new tasks`));
    if (this.broken) throw this.broken;
  }

  private onReply(task: Task, ok: boolean, value: unknown, tookMs: number): void {
    this.unitDeaths = 0;
    this.scheduler.learn(tookMs);
    if (ok) this.tasks.succeed(task, value);
    else this.tasks.fail(task, remoteError(value, task.callSite));
    // Its worker has room for one more.
    this.scheduler.dispatch();
  }

  private fail(task: Task, err: unknown): void {
    this.tasks.fail(task, err);
  }

  private withUnit<E>(err: E): E {
    return this.tasks.withUnit(err);
  }

  private failQueued(err: Error): void {
    for (const task of this.scheduler.queuedTasks()) this.fail(task, err);
  }

  private abandonAll(how: string): void {
    this.closing = true;
    this.abandoned = true;
    const err = new PoolClosedError(`task abandoned: the pool was ${how}`);
    this.failQueued(err);
    for (const task of [...this.workers.tasks()]) this.fail(task, err);
    this.scheduler.wakeWaiters(true);
  }

  private break(err: Error): void {
    if (this.broken) return;
    this.onFirstWorker?.();
    this.broken = this.withUnit(err instanceof UnitPoolError ? err : new BrokenPoolError(err.message, { cause: err }));
    for (const task of [...this.workers.tasks()]) this.fail(task, this.broken);
    this.failQueued(this.broken);
    this.scheduler.stop();
  }

  // ── shutdown ─────────────────────────────────────────────────────────────────────────────────────────────

  private async finish(): Promise<void> {
    await this.started.catch(noop);
    // Wait for every task to settle (breaking the pool settles them all).
    await this.tasks.allSettled();
    await this.relaunching;
    this.scheduler.clear();
    this.workers.stopTimers();
    if (!this.broken && !this.abandoned) await this.workers.retireAll();
    try {
      // Stopping the unit ends every worker and so every direct link.
      await this.host.close();
    } finally {
      this.workers.closeLinks();
    }
  }
}
