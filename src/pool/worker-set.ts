// The pool's workers: which exist, how many to keep, and what a worker's end does to its tasks.
//
// Owns: the Worker objects (by id), starting new ones (up to maxWorkers, always or while work waits; fresh spares
// a moment after a worker retires), the count of workers that died before doing anything, and the functions
// fresh spares define in advance. It asks the host to start and signal workers, and hands each worker what the
// host reports about it. It may not settle a task's promise or queue a task: it tells the pool (WorkerSetEvents),
// which settles and requeues.

import type { Socket } from 'node:net';
import { BrokenPoolError, type ExitReason, ProtocolError, WorkerExitedError } from '../errors.js';
import type { WorkerChannel } from './channel/channel.js';
import type { HostEvents } from './host/host.js';
import type { FnEntry } from './functions.js';
import type { PoolStats } from './options.js';
import type { Task } from './task.js';
import { Worker, type WorkerContext, type WorkerEvents } from './worker.js';

/** Where workers run (host/): the worker set's view of it. */
export interface WorkerStarter {
  /** Workers can be started now (the supervisor is connected, or systemd starts each). */
  readonly canSpawn: boolean;
  /** Starts worker `id`; what follows comes back through the worker set's methods. */
  spawn(id: number): void;
  /** Sends `signal` to worker `id` (its end is reported after). */
  signal(id: number, signal: string): void;
  /** Worker `id` is gone: a key drawn for its link is void. */
  forget(id: number): void;
  /** Why a worker ended, from its signal (and whether the kernel's OOM killer took it, when the host knows). */
  exitReason(signal: string | null, oomKilled?: boolean): ExitReason;
}

/** What the worker set tells the pool. */
export interface WorkerSetEvents {
  onReply(task: Task, ok: boolean, value: unknown, tookMs: number): void;
  /** A task cannot finish: its worker died running it, or broke the protocol. */
  onTaskFailed(task: Task, err: unknown): void;
  /** A task its worker never started goes back to the queue. */
  onRequeue(task: Task): void;
  /** The pool cannot go on (workers die as they start, an initializer threw, onWorkerExit: 'break'). */
  onBreak(err: Error): void;
  /** Workers that take tasks changed: the scheduler's capacity with it. */
  onCapacity(): void;
  /** A worker takes tasks (the pool's start waits for the first). */
  onUsable(): void;
  onOutput(fd: 1 | 2, bytes: Uint8Array, from: Socket | undefined): boolean;
  /** Tasks waiting in the queue (idleTimeout starts workers only for them). */
  queued(): number;
  /** The pool takes no new work (closing or broken): no new workers. */
  closed(): boolean;
}

export interface WorkerSetOptions {
  maxWorkers: number;
  tasksPerWorker: number | undefined;
  idleTimeout: number | undefined;
  onWorkerExit: 'replace' | 'break';
  init: WorkerContext['init'];
}

export class WorkerSet {
  private readonly all = new Map<number, Worker>();
  private nextId = 1;
  /** Workers in a row that died before finishing any task (reset by every finished task). */
  private earlyDeaths = 0;
  /** With fresh workers: the functions of the latest tasks, newest first (spares define them in advance). */
  private recentFns: FnEntry[] = [];
  private replaceTimer: NodeJS.Timeout | undefined;
  private onNone: (() => void) | undefined;
  private readonly ctx: WorkerContext;

  /** Where workers start: set once, by attach() (the host is made with this set's hostEvents()). */
  private host!: WorkerStarter;

  constructor(
    private readonly options: WorkerSetOptions,
    private readonly events: WorkerSetEvents,
  ) {
    const workerEvents: WorkerEvents = {
      onReply: (_worker, task, ok, value, took) => {
        this.earlyDeaths = 0;
        events.onReply(task, ok, value, took);
      },
      onInitError: (_worker, error) =>
        events.onBreak(new BrokenPoolError('the initializer threw in a new worker', { cause: error })),
      onOutput: (fd, bytes, from) => events.onOutput(fd, bytes, from),
      onFault: (worker, what) => this.fault(worker, what),
      onListenerError: (task, err) => events.onTaskFailed(task, err),
      onCapacity: (worker) => {
        if (worker.takesTasks) events.onUsable();
        events.onCapacity();
      },
      onKilled: () => this.changed(),
      onRetired: () => (options.tasksPerWorker === 1 ? this.replaceSoon() : this.changed()),
      onLeaving: (_worker, tasks) => {
        for (const task of tasks) if (task.state !== 'settled') events.onRequeue(task);
        this.changed();
      },
      signal: (worker, signal) => this.host.signal(worker.id, signal),
    };
    this.ctx = {
      events: workerEvents,
      tasksPerWorker: options.tasksPerWorker,
      idleTimeout: options.idleTimeout,
      init: options.init,
      prelude: () => this.recentFns,
    };
  }

  attach(host: WorkerStarter): void {
    this.host = host;
  }

  /** What the host reports about workers, routed to them (the rest goes to `pool`). */
  hostEvents(pool: Pick<HostEvents, 'output' | 'unitGone'>): HostEvents {
    return {
      ...pool,
      started: (id, pid, relay) => this.started(id, pid, relay),
      relayed: (id, channel) => this.relayed(id, channel),
      linked: (id, channel) => this.linked(id, channel),
      frame: (id, payload) => this.get(id)?.receive(payload),
      fault: (id, what) => {
        const worker = this.get(id);
        if (worker) this.fault(worker, what);
      },
      linkClosed: (id) => this.get(id)?.linkClosed(),
      exited: (id, code, signal, error, oomKilled) => this.exited(id, code, signal, error, oomKilled),
    };
  }

  get size(): number {
    return this.all.size;
  }

  values(): IterableIterator<Worker> {
    return this.all.values();
  }

  /** A task of `fn` was submitted: fresh spares define the latest functions before a task asks. */
  noteFunction(fn: FnEntry): void {
    if (this.options.tasksPerWorker === 1 && this.recentFns[0] !== fn)
      this.recentFns = [fn, ...this.recentFns.filter((e) => e !== fn)].slice(0, 8);
  }

  /** New workers for a unit about to start (its supervisor forks them as it runs); their ids. */
  addInitial(): number[] {
    const n = this.options.idleTimeout !== undefined ? 0 : this.options.maxWorkers;
    return Array.from({ length: n }, () => this.add().id);
  }

  /** The least busy worker with room for one more task under `depth`. */
  pick(depth: number): Worker | undefined {
    let best: Worker | undefined;
    for (const w of this.all.values())
      if (w.takesTasks && (!best || w.inflight.length < best.inflight.length)) best = w;
    return best && best.inflight.length < depth ? best : undefined;
  }

  /** Starts workers up to maxWorkers: always (default), or only while work waits (idleTimeout). */
  ensure(): void {
    if (this.events.closed() || !this.host.canSpawn) return;
    let live = 0;
    for (const w of this.all.values()) if (w.state === 'starting' || w.state === 'ready') live++;
    const { maxWorkers, idleTimeout } = this.options;
    const want = idleTimeout === undefined ? maxWorkers : Math.min(maxWorkers, live + this.events.queued());
    for (; live < want; live++) {
      const worker = this.add();
      worker.spawned = true;
      this.host.spawn(worker.id);
    }
  }

  // ── what the host reports ────────────────────────────────────────────────────────────────────────────

  get(id: number): Worker | undefined {
    const w = this.all.get(id);
    return w && w.state !== 'dead' ? w : undefined;
  }

  /** Its process runs; `relay`: it could not open its direct link, and is relayed. */
  started(id: number, pid: number, relay?: WorkerChannel): void {
    this.all.get(id)?.started(pid, relay);
  }

  /**
   * Its frames are relayed by the supervisor from the start. (Reported while ensure() or the host's launch runs:
   * the capacity is updated by their callers, once, after.)
   */
  relayed(id: number, channel: WorkerChannel): void {
    this.get(id)?.useRelay(channel);
  }

  /** Its direct connection was admitted: false if no live worker wants it (the host closes it). */
  linked(id: number, channel: WorkerChannel): boolean {
    return this.get(id)?.offerLink(channel) ?? false;
  }

  /** It sent garbage (or the supervisor says it broke its framing): kill it; its running task fails. */
  fault(worker: Worker, what: string): void {
    const err = new ProtocolError(`worker ${worker.pid ?? worker.id} sent ${what}; it was killed`);
    const running = worker.inflight[0];
    if (running) this.events.onTaskFailed(running, err);
    worker.kill();
  }

  /** It ended: its running task fails (unless its end was asked for), the ones behind it go back to the queue. */
  exited(id: number, exitCode: number | null, signal: string | null, spawnError?: Error, oomKilled?: boolean): void {
    const worker = this.get(id);
    worker?.exited((expected, running, behind) => {
      this.all.delete(id);
      this.host.forget(id);
      if (this.all.size === 0) this.onNone?.();
      let exited: WorkerExitedError | undefined;
      if (!expected || (running && running.state !== 'settled')) {
        const reason = this.host.exitReason(signal, oomKilled);
        exited = new WorkerExitedError({ exitCode, signal, reason, pid: worker.pid }, { cause: spawnError });
      }
      if (running && exited) this.events.onTaskFailed(running, exited);
      for (const task of behind) if (task.state !== 'settled') this.events.onRequeue(task);
      // Workers that die before running anything, again and again, would be started forever: stop and say why.
      if (!expected && !running && worker.done === 0) this.earlyDeaths++;
      if (this.earlyDeaths >= 3) {
        const why =
          `workers die as soon as they start (last one: ${exited?.message ?? 'exited'}); the unit's restrictions may keep Node ` +
          `from running (a syscall filter, memory or task limits, an unreadable path): see the workers' output above`;
        return this.events.onBreak(new BrokenPoolError(why, { cause: exited }));
      }
      if (exited && !expected && this.options.onWorkerExit === 'break') {
        return this.events.onBreak(new BrokenPoolError('a worker died and onWorkerExit is "break"', { cause: exited }));
      }
      this.changed();
    });
  }

  /**
   * The supervisor died and took every worker with it: the tasks that were running fail (reason 'supervisor-exit'),
   * the ones queued behind them go back to the queue.
   */
  abandonAll(why: string): void {
    for (const worker of [...this.all.values()]) {
      const [running, ...behind] = worker.abandon();
      this.all.delete(worker.id);
      this.host.forget(worker.id);
      const cause = new Error(why);
      const exited = new WorkerExitedError(
        { exitCode: null, signal: null, reason: 'supervisor-exit', pid: worker.pid },
        { cause },
      );
      if (running) this.events.onTaskFailed(running, exited);
      for (const task of behind) if (task.state !== 'settled') this.events.onRequeue(task);
    }
    this.onNone?.();
    this.events.onCapacity();
  }

  /**
   * Asks every worker to exit and waits (at most 2 s) for each exit to be reported: a report comes after all of the
   * worker's console output, so none of it is lost to the unit's stop.
   */
  async retireAll(): Promise<void> {
    for (const w of [...this.all.values()]) {
      if (w.state === 'ready') w.retire();
      else if (w.state === 'starting' && !w.spawned) {
        w.abandon();
        this.all.delete(w.id);
      } else if (w.state === 'starting') w.kill('SIGTERM');
    }
    if (this.all.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.onNone = resolve;
      timer = setTimeout(resolve, 2000);
    });
    clearTimeout(timer);
    this.onNone = undefined;
  }

  /** Tasks running (not settled: a killed worker keeps its timed-out task until its exit), and each worker. */
  stats(): Pick<PoolStats, 'running' | 'workers'> {
    let running = 0;
    const workers: PoolStats['workers'] = [];
    for (const w of this.all.values()) {
      for (const t of w.inflight) if (t.state !== 'settled') running++;
      workers.push({ id: w.id, pid: w.pid, state: w.state, tasks: w.done, channel: w.channelKind });
    }
    return { running, workers };
  }

  /** Every task on a worker (settled ones included: a killed worker keeps its task until its exit). */
  *tasks(): IterableIterator<Task> {
    for (const w of this.all.values()) yield* w.inflight;
  }

  stopTimers(): void {
    clearTimeout(this.replaceTimer);
    for (const w of this.all.values()) w.stopTimers();
  }

  closeLinks(): void {
    for (const w of this.all.values()) w.closeLink();
  }

  private add(): Worker {
    const worker = new Worker(this.nextId++, this.ctx);
    this.all.set(worker.id, worker);
    return worker;
  }

  /** Something changed that may want a new worker, or changes the capacity. */
  private changed(): void {
    this.ensure();
    this.events.onCapacity();
  }

  /**
   * With fresh workers every task retires its worker as it is sent: the replacement is asked for a moment later,
   * not at once, so that starting it (a unit to create, a fork to ask for) does not delay that task's own round
   * trip; a task shorter than that gets its result first.
   */
  private replaceSoon(): void {
    this.events.onCapacity();
    if (this.replaceTimer) return;
    this.replaceTimer = setTimeout(() => {
      this.replaceTimer = undefined;
      this.changed();
    }, 1);
  }
}
