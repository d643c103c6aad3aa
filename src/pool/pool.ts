// UnitPool: a process pool executor whose workers run inside systemd transient units.
// Owns the tasks, the worker slots and their life cycle, the scheduler and the settling of promises; the unit's
// channels are below it (link-server.ts, link.ts, worker-units.ts, unit/launch.ts), which report up by callbacks.
//
// Data flow (compare CPython's Lib/concurrent/futures/process.py):
//
//   submit(fn, args) ─┐ encode args now (SerializationError at once), register fn (key + source, once)
//   map(fn, items) ───┤ chunks of `chunksize`, a bounded number in flight
//                     ▼
//              ┌────────────┐  a slot frees on a ready worker   ┌───────────────────────────────────────────────┐
//              │  p-queue   │ ────────────────────────────────> │ dispatch: [Define fn] + Call frame, worker k  │
//              │ (pending)  │   timeout / AbortSignal remove    └─────┬─────────────────────────────────┬───────┘
//              └────────────┘                                         │ worker k's direct link          │ control socket
//                                                                     │ (accepted by link-server.ts;    │ (channel 0)
//                                                                     │ relayed on the control socket   │
//                                                                     │ if no link can be opened)       │
//   ┌── isolation: 'pool': systemd transient unit unitpool-<id>.service ──▼─────────────────────────────────▼───────┐
//   │  supervisor: the main process, stdin/stdout = control socket (connected by systemd); forks worker k       │
//   │     when the pool asks (Spawn + a key for its link), reports exits and console output; if it dies, a      │
//   │     fresh unit takes over (relaunch)                                                                      │
//   │  worker k (fd 3 = its link): decode, run fn(...args) one at a time, encode the result or the error        │
//   └───────────────────────────────────────────────────────────────────────────────────────────────────────────┘
//   ┌── isolation: 'worker' (worker-units.ts): slice unitpool-<id>.slice, the pool's budget ─────────────────────┐
//   │  unitpool-<id>-w<k>.service: worker k alone, stdin+stdout = its link (connected by systemd); no supervisor │
//   └───────────────────────────────────────────────────────────────────────────────────────────────────────────┘
//
//   result frame ──> decode (untrusted: checked against the worker's in-flight tasks) ──> settle the promise
//
// A worker has at most `depth` tasks in flight; it runs them in order, so its first in-flight task is the one
// running. `depth` adapts to how long tasks take: about 1 ms of queued work per worker (1 for slow tasks, up to 64
// for tiny ones), so tiny tasks are pipelined without making long ones wait behind each other. When a worker dies,
// that task rejects with WorkerExitedError and the tasks behind it go back to the front of the queue. When the
// supervisor dies, the running tasks reject (reason 'supervisor-exit') and a fresh unit takes over; when the unit is
// stopped on purpose, every task rejects with BrokenPoolError. With `fresh`, every worker runs one task and exits.

import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { debuglog } from 'node:util';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import PQueue from 'p-queue';
import {
  BrokenPoolError,
  OptionError,
  SerializationError,
  type ExitReason,
  PoolClosedError,
  ProtocolError,
  QueueFullError,
  TaskTimeoutError,
  UnitPoolError,
  WorkerExitedError,
} from '../errors.js';
import { compileUnitOptions, type CompiledUnitOptions, type UnitOptions } from '../properties/index.js';
import { type BusChoice, SystemdBus } from '../unit/bus.js';
import { type Capabilities, enforceCapabilities, hostCapabilities } from '../unit/capabilities.js';
import { cgroupUsage, type CgroupUsage, oomKillCount } from '../unit/cgroup.js';
import { launchLocal, launchSupervisor } from '../unit/launch.js';
import type { DBusProperty, TransientUnit, UnitInfo } from '../unit/transient.js';
import { decode, encode, encodeWithPath } from '../wire/codec.js';
import { encodeBoot } from '../wire/direct.js';
import { DEFAULT_MAX_FRAME, FrameDecoder, FrameWriter } from '../wire/frame.js';
import { FromSupervisor, FromWorker, ToSupervisor, ToWorker } from '../wire/messages.js';
import { type FnEntry, FunctionRegistry, type TaskFunction } from './functions.js';
import { DirectLink } from './link.js';
import { LinkServer } from './link-server.js';
import { WorkerUnits } from './worker-units.js';
import { newTask, newWorkerSlot, type Task, type WorkerSlot } from './task.js';
import { TaskQueue } from './task-queue.js';
import { MapIterator, type MapProgress } from './map.js';

export interface UnitPoolOptions extends UnitOptions {
  /** Worker processes; default: the CPUs available to the unit (CPUQuota and AllowedCPUs count). */
  maxWorkers?: number;
  /** Which systemd: 'system' (default), 'user', or { address } of a D-Bus socket. */
  bus?: BusChoice;
  /**
   * Where the workers run. 'pool' (the default; 'systemd' is the same): one transient unit for the pool, whose
   * supervisor forks every worker: all its tasks share the unit's uid, namespaces and /tmp. 'worker' (the default
   * with the untrusted preset): the pool is a transient slice that carries CPUQuota, MemoryMax, TasksMax and the IO
   * limits, and every worker is a unit of its own inside it with the other properties (its own uid with
   * DynamicUser=, its own /tmp): no task can read, signal or reach another. 'none': plain child processes with the
   * same API (timeouts and crash handling only), for development machines without systemd; no properties then.
   */
  isolation?: 'pool' | 'worker' | 'systemd' | 'none';
  /** Largest frame accepted from the unit, in bytes (default 64 MiB). */
  maxFrame?: number;
  /**
   * Errors thrown in workers also show where their task was submitted (a "submitted from" part of the stack).
   * Off by default: capturing a stack per task costs about a quarter of the throughput of tiny tasks.
   */
  callSites?: boolean;
  /** Where workers' console output goes (default: this process's stdout / stderr). */
  stdout?: Writable;
  stderr?: Writable;
  /** What a worker's death does to the pool: start a new worker (default), or break the pool like Python does. */
  onWorkerExit?: 'replace' | 'break';
  /** Runs once in every new worker before its first task; if it throws, the pool breaks with that error as cause. */
  initializer?: TaskFunction;
  initArgs?: unknown[];
  /** A worker exits after this many tasks and a fresh one takes its place (no task is lost). */
  maxTasksPerWorker?: number;
  /**
   * Every task runs in a worker process that ran nothing before (nothing an earlier task patched, stored or
   * started survives into it): each worker exits after one task, and `maxWorkers` fresh workers are kept started
   * and waiting, so a task does not wait for a process to start while one is warm. With isolation: 'worker' each
   * task also gets a fresh unit: its own /tmp and, with DynamicUser=, its own uid.
   */
  fresh?: boolean;
  /** Idle workers exit after this many ms, and are forked again when work comes. */
  idleTimeout?: number;
  /** At most this many tasks wait in the queue; beyond it submit() rejects with QueueFullError, or waits. */
  maxQueue?: number;
  queueMode?: 'reject' | 'wait';
  /** How long creating the unit may take, in ms (default 30 s). */
  startTimeout?: number;
}

export interface SubmitOptions {
  /** Reject with TaskTimeoutError after this many ms (counted from submit); a running task's worker is killed. */
  timeout?: number | undefined;
  /** Abort: a queued task is removed, a running task's worker is killed; rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

export interface MapOptions extends SubmitOptions {
  /** Items per task (default 1). Larger chunks amortize the per-task cost for small items. */
  chunksize?: number;
  /** Called as results arrive: items done, the total when `items` has a length or size, and items per second. */
  onProgress?: (progress: MapProgress) => void;
}

export type { MapProgress };

export interface ShutdownOptions {
  /** Wait for running and queued tasks to finish and for the unit to stop (default true). */
  wait?: boolean;
  /** Reject queued tasks that have not started yet (default false). */
  cancelPending?: boolean;
}

/** Resource usage of the pool's unit; fields this host cannot tell are absent. */
export interface PoolUsage extends CgroupUsage {
  /** Where each figure came from. */
  source: { dbus: string[]; cgroup: string[] };
}

export interface PoolStats {
  queued: number;
  running: number;
  done: number;
  failed: number;
  workers: {
    id: number;
    pid: number | undefined;
    state: WorkerSlot['state'];
    tasks: number;
    /** How its frames travel: on its own connection from the pool, or relayed by the unit's supervisor. */
    channel: 'direct' | 'relay' | 'pending';
  }[];
}

/** NODE_DEBUG=unitpool prints the pool's life: units, workers, faults. */
const debug = debuglog('unitpool');

let taskIds = 0;
const noop = () => {};
const RESOLVED = Promise.resolve();
/** p-queue options of tasks without an AbortSignal (shared: one object less per task). */
const NORMAL = { priority: 0 } as const;
const URGENT = { priority: 1 } as const;
const UINT64_MAX = 2n ** 64n - 1n;

export class UnitPool implements AsyncDisposable {
  readonly maxWorkers: number;
  /** Where the workers run: one unit for the pool ('pool'), a unit each in the pool's slice ('worker'), or 'none'. */
  readonly isolation: 'pool' | 'worker' | 'none';
  /** Tasks a worker runs before a fresh one takes its place (1 with `fresh`; unbounded when undefined). */
  private readonly tasksPerWorker: number | undefined;
  private readonly options: UnitPoolOptions;
  private readonly registry = new FunctionRegistry();
  private readonly init: { entry: FnEntry; message: Buffer } | undefined;
  private readonly queue: PQueue;
  private readonly workers = new Map<number, WorkerSlot>();
  /** Tasks not yet on a worker. */
  private readonly queued = new Set<Task>();
  /** Tasks p-queue handed over when no worker could take them (capacity shrank): sent first when a slot frees. */
  private readonly parked: Task[] = [];
  private readonly spaceWaiters: (() => void)[] = [];
  private nextWorkerId = 1;
  /** Largest frame accepted from the unit: 64 MiB of data plus room for the envelope, unless configured. */
  private get maxFrame(): number {
    return this.options.maxFrame ?? DEFAULT_MAX_FRAME + 1024 * 1024;
  }
  private replaceTimer: NodeJS.Timeout | undefined;
  /** With fresh workers: the functions of the latest tasks, newest first (spares define them in advance). */
  private recentFns: FnEntry[] = [];
  /** Tasks in flight per worker; see adaptDepth(). */
  private depth = 1;
  /** Moving average of how long a task takes on its worker, in ms. */
  private serviceMs = 1;
  private readonly started: Promise<void>;
  private bus: SystemdBus | undefined;
  private transient: TransientUnit | undefined;
  private control: Socket | undefined;
  private writer: FrameWriter | undefined;
  /**
   * How new workers get their channel: 'direct' (a link of their own to our link server; see src/wire/direct.ts) or
   * 'relay' (their frames pass through the supervisor, on the control socket).
   */
  private spawnMode: 'direct' | 'relay' = 'relay';
  /** Where workers open their direct links (none with isolation: 'none', or when nothing can reach it). */
  private links: LinkServer | undefined;
  /** isolation: 'worker': the pool's slice and its worker units (then there is no supervisor, no control socket). */
  private units: WorkerUnits | undefined;
  private linkKind: 'system' | 'user' | undefined;
  /** The unit's properties, as checked against the host at start (a fresh unit after a supervisor death reuses them). */
  private unitProperties: readonly DBusProperty[] = [];
  /** Units whose supervisor died, in a row, with no task finished in between. */
  private supervisorDeaths = 0;
  /** Why the supervisor was cut off, for the report when its connection closes. */
  private supervisorFaultSeen: string | undefined;
  /** A fresh unit being started after a supervisor died (shutdown waits for it). */
  private relaunching: Promise<void> | undefined;
  private broken: Error | undefined;
  private closing = false;
  private shutdownDone: Promise<void> | undefined;
  private oomKillsSeen = 0;
  /** Workers in a row that died before finishing any task (reset by every finished task). */
  private earlyDeaths = 0;
  /** Called once the first worker can take tasks (ready() waits for it). */
  private onInitialWorkers: (() => void) | undefined;
  private counts = { done: 0, failed: 0 };
  /** Tasks submitted and not settled yet (queued or on a worker); shutdown waits for this to reach 0. */
  private unsettled = 0;
  private onAllSettled: (() => void) | undefined;
  /** terminate() or kill(): workers are not asked to finish, the unit is stopped at once. */
  private abandoned = false;
  /** Called when the last worker's exit was handled (a graceful shutdown waits for it). */
  private onNoWorkers: (() => void) | undefined;
  /** The compiled unit options: the capability check at start needs what was requested and what is best-effort. */
  private readonly unitOptions: CompiledUnitOptions;

  /** What the host's systemd can enforce, per property (a property it cannot is refused at start unless bestEffort). */
  static capabilities(options: { bus?: BusChoice } = {}): Promise<Capabilities> {
    return hostCapabilities(options.bus ?? 'system');
  }

  constructor(options: UnitPoolOptions = {}) {
    this.options = options;
    // Validate everything synchronously: a wrong option throws here, naming the option.
    checkIsolation(options);
    this.isolation = resolveIsolation(options);
    const compiled = compileUnitOptions(options);
    this.unitOptions = compiled;
    this.maxWorkers = resolveMaxWorkers(options.maxWorkers, compiled.cpus);
    checkPoolOptions(options);
    this.tasksPerWorker = options.fresh ? 1 : options.maxTasksPerWorker;
    if (options.initializer) {
      const entry = this.registry.resolve(options.initializer);
      this.init = { entry, message: encodeWithPath([ToWorker.Init, entry.key, options.initArgs ?? []], 'initArgs', 2) };
    }
    this.queue = new PQueue({ concurrency: this.maxWorkers, autoStart: false, queueClass: TaskQueue });
    this.started = this.start(compiled.properties);
    this.started.catch(noop);
  }

  /** The pool's transient unit, once it exists. */
  get unit(): UnitInfo | undefined {
    return this.transient;
  }

  /** Resolves when the unit is running and its first workers are forked; rejects if it could not be started. */
  ready(): Promise<void> {
    return this.started;
  }

  /** Runs fn(...args) in a worker; resolves with its result or rejects with what it threw. */
  submit<A extends unknown[], R>(fn: ((...args: A) => R) | TaskFunction, args?: A, options?: SubmitOptions): Promise<Awaited<R>>;
  submit(fn: TaskFunction, args: unknown[] = [], options: SubmitOptions = {}): Promise<unknown> {
    try {
      this.checkOpen('submit');
      if (!Array.isArray(args)) throw new TypeError(`submit(fn, args): args must be an array of arguments, got ${typeof args}`);
      const entry = this.registry.resolve(fn);
      const id = ++taskIds;
      const payload = encodeWithPath([ToWorker.Call, id, entry.key, args], 'args', 3);
      if (this.options.maxQueue !== undefined && this.queued.size >= this.options.maxQueue) {
        if (this.options.queueMode !== 'wait') throw new QueueFullError(this.options.maxQueue, { unit: this.transient?.name });
        return this.waitForSpace().then(() => {
          this.checkOpen('submit');
          return this.enqueue(id, entry, payload, options)[1];
        });
      }
      return this.enqueue(id, entry, payload, options)[1];
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Applies fn to every item, in order: an AsyncIterable of the results. Items are pulled lazily, `chunksize` per task,
   * with a bounded number of chunks in flight; leaving the loop early cancels the chunks that have not started.
   */
  map<T, R>(fn: ((item: T) => R) | TaskFunction, items: Iterable<T> | AsyncIterable<T>, options: MapOptions = {}): AsyncIterableIterator<Awaited<R>> {
    const chunksize = options.chunksize ?? 1;
    if (!Number.isInteger(chunksize) || chunksize < 1) throw new TypeError(`map(): chunksize must be a positive integer, got ${String(chunksize)}`);
    this.checkOpen('map');
    const entry = this.registry.resolve(fn);
    // Enough chunks in flight to keep every worker's pipeline full, and never fewer than two per worker.
    const maxInFlight = () => Math.min(256, this.maxWorkers * Math.max(2, this.depth));
    const submitChunk = (chunk: T[]) => {
      this.checkOpen('map');
      const id = ++taskIds;
      const payload = encodeWithPath([ToWorker.CallChunk, id, entry.key, chunk], 'items', 3);
      const [task, result] = this.enqueue(id, entry, payload, options);
      return { result, cancel: () => task.state === 'queued' && this.fail(task, new PoolClosedError('map() was left before this chunk ran')) };
    };
    return new MapIterator<T, Awaited<R>>(items, chunksize, maxInFlight, submitChunk, options.onProgress);
  }

  /** Stops the pool: no new tasks; waits for the queued ones (unless cancelPending) and stops the unit. */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelPending = false } = options;
    this.closing = true;
    this.wakeSpaceWaiters();
    if (cancelPending) this.failQueued(new PoolClosedError('task cancelled by shutdown({ cancelPending: true }) before it started', { unit: this.transient?.name }));
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
    await this.transient?.kill(9).catch(noop);
    await this.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** CPU time, memory (current and peak), tasks and IO bytes of the unit, from systemd and its cgroup files. */
  async usage(): Promise<PoolUsage> {
    await this.started;
    const unit = this.transient!;
    const out: PoolUsage = { source: { dbus: [], cgroup: [] } };
    const props = await unit.properties().catch(() => undefined);
    const set = (key: keyof CgroupUsage, value: unknown, scale = 1) => {
      if (typeof value !== 'bigint' || value === UINT64_MAX) return;
      out[key] = Number(value) / scale;
      out.source.dbus.push(key);
    };
    if (props) {
      set('cpuUsec', props.service.CPUUsageNSec, 1000);
      set('memoryCurrent', props.service.MemoryCurrent);
      set('tasks', props.service.TasksCurrent);
      set('ioReadBytes', props.service.IOReadBytes);
      set('ioWriteBytes', props.service.IOWriteBytes);
    }
    for (const [key, value] of Object.entries(cgroupUsage(unit.controlGroup)) as [keyof CgroupUsage, number][]) {
      if (out[key] !== undefined) continue;
      out[key] = value;
      out.source.cgroup.push(key);
    }
    return out;
  }

  /** Counters of the pool right now. */
  stats(): PoolStats {
    let running = 0;
    const workers: PoolStats['workers'] = [];
    for (const s of this.workers.values()) {
      // A killed worker keeps its timed-out or aborted task in `inflight` until its exit arrives: that task is
      // settled already, and no longer running.
      for (const t of s.inflight) if (t.state !== 'settled') running++;
      workers.push({ id: s.id, pid: s.pid, state: s.state, tasks: s.done, channel: s.link ? 'direct' : s.out ? 'relay' : 'pending' });
    }
    return { queued: this.queued.size, running, done: this.counts.done, failed: this.counts.failed, workers };
  }

  // ── start ────────────────────────────────────────────────────────────────────────────────────────────────

  private async start(properties: readonly DBusProperty[]): Promise<void> {
    try {
      if (this.options.isolation !== 'none') {
        const bus = this.options.bus ?? 'system';
        this.bus = await SystemdBus.connect(bus);
        this.unitProperties = await enforceCapabilities(this.bus, bus, this.unitOptions);
        if (this.isolation === 'worker') return await this.startWorkerUnits();
        // The system manager binds our link socket into the unit read-only; a user manager's unit runs as us and
        // sees our own directory. Anyone else (a non-root caller of the system manager) relays.
        this.linkKind = bus === 'user' ? 'user' : process.getuid?.() === 0 ? 'system' : undefined;
        if (this.linkKind) this.links = await LinkServer.listen(this.linkKind, (id, socket, rest) => this.onLink(id, socket, rest));
      } else {
        this.unitProperties = properties;
      }
      const initial = await this.launch();
      const forked = new Promise<void>((resolve) => (this.onInitialWorkers = resolve));
      this.ensureWorkers();
      this.updateCapacity();
      if (initial > 0) await forked;
      if (this.broken) throw this.broken;
    } catch (err) {
      this.breakPool(err instanceof Error ? err : new Error(String(err)));
      // Without a unit there is nothing for shutdown() to stop: let go of the connection now, or it keeps the
      // process alive until someone calls shutdown().
      if (!this.transient) {
        this.bus?.close();
        this.links?.close();
      }
      throw err;
    }
  }

  /** isolation: 'worker': the slice now; each worker's unit as it is wanted. */
  private async startWorkerUnits(): Promise<void> {
    const name = `unitpool-${randomBytes(5).toString('hex')}`;
    this.units = await WorkerUnits.start(this.bus!, name, this.unitProperties, this.options.startTimeout);
    this.transient = this.units.slice;
    this.oomKillsSeen = oomKillCount(this.units.slice.controlGroup) ?? 0;
    debug('slice started: %s', name);
    const first = new Promise<void>((resolve) => (this.onInitialWorkers = resolve));
    this.ensureWorkers();
    this.updateCapacity();
    if (this.options.idleTimeout === undefined) await first;
    if (this.broken) throw this.broken;
  }

  /** Starts the unit and its supervisor, with the first workers (the pool's start, and after a supervisor died). */
  private async launch(): Promise<number> {
    const initial = this.options.idleTimeout !== undefined ? 0 : this.maxWorkers;
    const first = this.nextWorkerId;
    for (let i = 0; i < initial; i++) this.addWorkerSlot();
    const supervisor = { initialWorkers: initial, firstWorkerId: first, maxFrame: this.maxFrame, workerOomScoreAdj: 500, workerExecArgv: [] };
    const onLog = (chunk: Buffer) => (this.options.stderr ?? process.stderr).write(chunk);
    this.spawnMode = this.links ? 'direct' : 'relay';
    let control: Socket;
    if (this.options.isolation === 'none') {
      control = (await launchLocal(supervisor, onLog)).control;
    } else {
      // The first workers' keys go in the boot frame, so the supervisor forks them as soon as it runs.
      const links = this.links;
      const boot = links ? encodeBoot([...this.workers.values()].map((slot) => ((slot.spawned = true), [slot.id, links.expect(slot.id)] as const))) : undefined;
      const launched = await launchSupervisor({
        bus: this.bus!,
        properties: this.unitProperties,
        supervisor,
        onLog,
        ...(links ? { link: { path: links.path, bind: this.linkKind === 'system' && this.unitChangesUser() }, boot } : {}),
        ...(this.options.startTimeout !== undefined ? { startTimeoutMs: this.options.startTimeout } : {}),
      });
      this.transient = launched.unit;
      control = launched.control;
      this.oomKillsSeen = oomKillCount(launched.unit.controlGroup) ?? 0;
    }
    debug('unit started: %s, %d workers', this.transient?.name ?? '(isolation: none)', initial);
    this.control = control;
    // What we send is ours (no limit but the wire's 4 GiB); what we receive is checked against maxFrame.
    this.writer = new FrameWriter(control, { maxFrame: Number.MAX_SAFE_INTEGER });
    this.attach(control);
    // Relayed, the initial workers were forked by the supervisor at once (ids first..first+initial-1).
    if (this.spawnMode === 'relay') for (const slot of this.workers.values()) this.useRelay(slot);
    return initial;
  }

  /**
   * Does the unit run as another user than ours? Then it cannot reach our private directory, and sees our link
   * socket through a read-only bind mount (which gives the unit a mount namespace). A unit that runs as root, as
   * we do, reaches the socket where it is.
   */
  private unitChangesUser(): boolean {
    const requested = this.unitOptions.requested;
    return requested.User !== undefined || requested.DynamicUser === true || this.unitProperties.some(([key]) => key === 'User' || key === 'DynamicUser');
  }

  /**
   * The supervisor died (a task killed it, or it crashed) while the pool was open: the tasks that were running fail
   * with reason 'supervisor-exit', the ones queued behind them go back to the queue, and a fresh unit takes over.
   * Three deaths in a row with no task finished in between break the pool instead (something kills every unit).
   */
  private async relaunch(why: string): Promise<void> {
    const old = this.transient;
    const name = old?.name;
    debug('supervisor of %s died (%s); starting a fresh unit', name, why);
    this.writer = undefined;
    this.control = undefined;
    for (const slot of [...this.workers.values()]) {
      const [running, ...behind] = slot.inflight;
      slot.inflight.length = 0;
      slot.state = 'dead';
      clearTimeout(slot.idleTimer);
      slot.link?.destroy();
      this.links?.forget(slot.id);
      this.workers.delete(slot.id);
      const exited = new WorkerExitedError({ exitCode: null, signal: null, reason: 'supervisor-exit', pid: slot.pid }, { unit: name, cause: new Error(why) });
      if (running) this.fail(running, exited);
      for (const task of behind) if (task.state !== 'settled') this.requeue(task);
    }
    this.onNoWorkers?.();
    this.updateCapacity();
    try {
      // KillMode=control-group: whatever the task left in the old unit goes with it.
      await old?.stop(this.bus).catch(noop);
      await old?.unref();
      if (this.closing && this.unsettled === 0) return;
      await this.launch();
      this.ensureWorkers();
      this.updateCapacity();
    } catch (err) {
      this.breakPool(new BrokenPoolError(`the pool's unit ${name} lost its supervisor (${why}), and a fresh unit could not be started`, { cause: err, unit: name }));
    }
  }

  private addWorkerSlot(): WorkerSlot {
    const slot = newWorkerSlot(this.nextWorkerId++);
    this.workers.set(slot.id, slot);
    return slot;
  }

  private attach(control: Socket): void {
    const decoder = new FrameDecoder({
      maxFrame: this.maxFrame,
      onFrame: (channel: number, payload: Buffer) => {
        if (channel === 0) this.onSupervisorMessage(payload);
        else this.onWorkerMessage(channel, payload);
      },
    });
    control.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        this.supervisorFault(`an unusable frame (${(err as Error).message})`);
      }
    });
    control.on('error', noop);
    control.on('close', () => void this.onUnitGone(control));
  }

  /**
   * The control connection closed: expected during shutdown. Otherwise the supervisor died (or misbehaved, and
   * was cut off): a fresh unit takes over, unless onWorkerExit is 'break', the unit was stopped on purpose (by
   * systemd's RuntimeMaxSec=, or by someone's stop job), or units keep dying; then the pool breaks.
   */
  private async onUnitGone(control: Socket): Promise<void> {
    if (control !== this.control || this.broken || (this.closing && this.unsettled === 0)) return;
    this.control = undefined;
    this.writer = undefined;
    const name = this.transient?.name;
    let why = this.supervisorFaultSeen ?? 'its supervisor went away';
    this.supervisorFaultSeen = undefined;
    const props = await this.transient?.properties().catch(() => undefined);
    const result = props ? String(props.service.Result) : undefined;
    if (props) why += `; systemd says ActiveState=${String(props.unit.ActiveState)}, Result=${result}`;
    const kills = this.transient ? oomKillCount(this.transient.controlGroup) : undefined;
    if (kills !== undefined && kills > this.oomKillsSeen) why += `; the kernel's OOM killer killed ${kills - this.oomKillsSeen} process(es) of the unit: its memory limit is too small`;
    // Stopped on purpose: by systemd (RuntimeMaxSec=; an OOM kill under OOMPolicy=stop or kill, which asks for the
    // whole unit to go), or by a stop job someone started (the unit has a job then).
    const job = props?.unit.Job;
    const oomStops = result === 'oom-kill' && ['stop', 'kill'].includes(String(this.unitOptions.requested.OOMPolicy));
    const onPurpose = result === 'timeout' || oomStops || (Array.isArray(job) && Number(job[0]) !== 0) || (props?.unit.ActiveState === 'inactive' && result === 'success');
    if (this.options.onWorkerExit !== 'break' && !onPurpose && ++this.supervisorDeaths < 3) {
      this.relaunching = this.relaunch(why);
      return this.relaunching;
    }
    this.breakPool(new BrokenPoolError(`the pool's unit ${name} stopped (${why})`, { unit: name }));
  }

  // ── messages from the unit (untrusted bytes) ────────────────────────────────────────────────────────────

  private onSupervisorMessage(payload: Buffer): void {
    let msg: unknown;
    try {
      msg = decode(payload);
    } catch {
      /* below */
    }
    if (!Array.isArray(msg)) return this.supervisorFault('a frame that is not a valid message');
    switch (msg[0]) {
      case FromSupervisor.Hello:
        return debug('supervisor %s is up; workers are %s', msg[1], this.spawnMode === 'direct' ? 'linked directly' : 'relayed');
      case FromSupervisor.Spawned:
        return this.onWorkerStarted(this.workers.get(msg[1] as number), Number(msg[2]), msg[3] === 1);
      case FromSupervisor.Exited:
        return this.onWorkerExit(msg[1] as number, typeof msg[2] === 'number' ? msg[2] : null, typeof msg[3] === 'string' ? msg[3] : null);
      case FromSupervisor.SpawnFailed:
        return this.onWorkerExit(msg[1] as number, null, null, new Error(String(msg[2])));
      case FromSupervisor.Output:
        this.onOutput(msg[2], msg[3]);
        return;
      case FromSupervisor.WorkerFault: {
        const slot = this.workers.get(msg[1] as number);
        return slot ? this.protocolFault(slot, `a bad frame (${String(msg[2])})`) : undefined;
      }
      default:
        return this.supervisorFault(`an unknown message ${String(msg[0])}`);
    }
  }

  /** The supervisor sent what it never would: it is broken or taken over; cut it off (onUnitGone follows). */
  private supervisorFault(what: string): void {
    debug('protocol fault from the supervisor: %s', what);
    this.supervisorFaultSeen = `its supervisor sent ${what}, and was cut off`;
    this.control?.destroy();
  }

  /** Console output: written through, and the unit waits (backpressure) while the destination is full. */
  /**
   * Console output: written through; while the destination is full, `from` (the control socket, or the worker's
   * own console socket) waits (backpressure). Returns false when it had to wait.
   */
  private onOutput(fd: unknown, bytes: unknown, from: Socket | undefined = this.control): boolean {
    if (!(bytes instanceof Uint8Array)) return true;
    const out = fd === 1 ? (this.options.stdout ?? process.stdout) : (this.options.stderr ?? process.stderr);
    if (out.write(bytes)) return true;
    if (from && !from.isPaused()) {
      from.pause();
      out.once('drain', () => from.resume());
    }
    return false;
  }

  private onWorkerStarted(slot: WorkerSlot | undefined, pid: number, fellBack: boolean): void {
    // Killed before the supervisor had forked it (its Spawn was on its way): kill it now.
    if (slot?.state === 'killed' && slot.pid === undefined) this.signalWorker(slot, 'SIGKILL');
    // It may be retiring already: it can take tasks before this report (its direct link's Ready came first, or,
    // relayed, they queued behind its Spawn), and maxTasksPerWorker counts them.
    if (!slot || (slot.state !== 'starting' && slot.state !== 'retiring') || slot.pid !== undefined) return;
    slot.pid = pid;
    if (fellBack && !slot.out) {
      // Its link could not be opened from inside the unit (a path hidden, socket(2) denied): relay from now on.
      debug('worker %d: no direct link possible; relaying every worker from now on', slot.id);
      this.links?.forget(slot.id);
      this.spawnMode = 'relay';
      this.useRelay(slot);
    }
    if (slot.state === 'starting') slot.state = 'ready';
    if (slot.out) this.onUsable();
    this.updateCapacity();
  }

  /** A worker takes tasks: forked and relayed, or Ready on its direct link. */
  private onUsable(): void {
    this.onInitialWorkers?.();
    this.onInitialWorkers = undefined;
  }

  /** Workers can be started: the supervisor is connected, or (isolation: 'worker') systemd starts each. */
  private canSpawn(): boolean {
    return this.writer !== undefined || this.units !== undefined;
  }

  /**
   * Asks for slot's worker: a unit of its own (isolation: 'worker'), or a fork by the supervisor, on a direct link
   * that opens with a key drawn for it, or relayed.
   */
  private spawn(slot: WorkerSlot): void {
    slot.spawned = true;
    if (this.units) {
      this.units.start(slot.id, {
        onStarted: (pid) => this.onWorkerStarted(slot, pid, false),
        onChannel: (socket) => this.onLink(slot.id, socket, Buffer.alloc(0)),
        onOutput: (fd, bytes, from) => this.onOutput(fd, bytes, from),
        onExit: (code, signal, error, oomKilled) => this.onWorkerExit(slot.id, code, signal, error, oomKilled),
      });
      return;
    }
    if (this.spawnMode === 'direct' && this.links) {
      this.writer!.write(0, encode([ToSupervisor.Spawn, slot.id, this.links.expect(slot.id)]));
      return;
    }
    this.writer!.write(0, encode([ToSupervisor.Spawn, slot.id]));
    this.useRelay(slot);
  }

  /** The link server admitted worker id's link (it had the key drawn for it). */
  private onLink(id: number, socket: Socket, rest: Buffer): void {
    const slot = this.workers.get(id);
    if (!slot || slot.state === 'dead' || slot.link || slot.out) return void socket.destroy();
    slot.link = new DirectLink(socket, rest, this.maxFrame, {
      onFrame: (payload) => this.onWorkerMessage(slot.id, payload),
      onFault: (err) => this.protocolFault(slot, `a bad frame (${err.message})`),
      onClose: () => this.onLinkClosed(slot),
    });
  }

  /** The slot's frames go through the supervisor: it takes tasks at once, they queue behind the Spawn request. */
  private useRelay(slot: WorkerSlot): void {
    slot.spawned = true;
    slot.out = this.writer;
    this.prepare(slot);
  }

  private onLinkClosed(slot: WorkerSlot): void {
    if (slot.pendingExit) return slot.pendingExit();
    if (slot.state === 'dead') return;
    // Closed while its worker lives: it is exiting (the kernel closes its files after its exit status is set), or
    // it closed its channel and can do nothing useful any more. Make sure it ends, without calling the exit
    // expected: the supervisor's exit report settles its tasks.
    if (slot.state !== 'retiring' && slot.state !== 'killed') this.signalWorker(slot, 'SIGKILL');
  }

  /** A worker about to take tasks: the initializer goes first. */
  private prepare(slot: WorkerSlot): void {
    // A fresh worker is a spare: it compiles or imports the functions of the latest tasks before one comes, so a
    // task that finds it waiting does not wait for an import.
    for (const entry of this.recentFns) this.define(slot, entry);
    if (!this.init) return;
    this.define(slot, this.init.entry);
    slot.out!.write(slot.id, this.init.message);
  }

  private define(slot: WorkerSlot, entry: FnEntry): void {
    if (slot.defined.has(entry.key)) return;
    slot.defined.add(entry.key);
    slot.out!.write(slot.id, entry.definition);
  }

  private onWorkerMessage(workerId: number, payload: Buffer): void {
    const slot = this.workers.get(workerId);
    if (!slot || slot.state === 'dead') return;
    let msg: unknown;
    try {
      msg = decode(payload);
    } catch {
      /* below */
    }
    if (!Array.isArray(msg)) return this.protocolFault(slot, 'a frame that is not a valid message');
    if (msg[0] === FromWorker.Ready) {
      // A direct link takes tasks from now on (relayed workers took them from the start).
      if (slot.link && !slot.out) {
        slot.out = slot.link.writer;
        this.prepare(slot);
        this.onUsable();
        this.updateCapacity();
      }
      return;
    }
    if (msg[0] === FromWorker.Output) {
      this.onOutput(1, msg[1], slot.link?.socket);
      return;
    }
    if (msg[0] === FromWorker.InitError) {
      return this.breakPool(new BrokenPoolError('the initializer threw in a new worker', { cause: msg[1], unit: this.transient?.name }));
    }
    if (msg[0] !== FromWorker.Result && msg[0] !== FromWorker.Error) return this.protocolFault(slot, `an unknown message type ${String(msg[0])}`);
    const task = slot.inflight[0];
    if (!task || task.id !== msg[1]) return this.protocolFault(slot, `a reply for task ${String(msg[1])}, which is not the task it is running`);
    slot.inflight.shift();
    slot.done++;
    this.earlyDeaths = 0;
    this.supervisorDeaths = 0;
    this.adaptDepth(slot, task);
    if (msg[0] === FromWorker.Result) this.succeed(task, msg[2]);
    else this.fail(task, withCallSite(msg[2], task.callSite));
    this.afterTask(slot);
  }

  /** A worker sent garbage: kill it; its running task fails with ProtocolError, the rest are requeued. */
  private protocolFault(slot: WorkerSlot, what: string): void {
    debug('protocol fault from worker %d: %s', slot.id, what);
    const err = new ProtocolError(`worker ${slot.pid ?? slot.id} sent ${what}; it was killed`, { unit: this.transient?.name });
    const running = slot.inflight[0];
    if (running) this.fail(running, err);
    this.killWorker(slot);
  }

  private onWorkerExit(workerId: number, exitCode: number | null, signal: string | null, spawnError?: Error, oomKilled?: boolean): void {
    const slot = this.workers.get(workerId);
    if (!slot || slot.state === 'dead') return;
    const link = slot.link;
    if (link && !link.closed) {
      // Its last frames may still be on their way on the direct link: finish them first (the link closes when the
      // worker is gone, unless something it started holds the connection: then give up after a second).
      slot.pendingExit = () => {
        slot.pendingExit = undefined;
        this.onWorkerExit(workerId, exitCode, signal, spawnError, oomKilled);
      };
      setTimeout(() => link.destroy(), 1000).unref();
      return;
    }
    debug('worker %d (pid %s) exited: code %s, signal %s, state %s', workerId, slot.pid, exitCode, signal, slot.state);
    const expected = slot.state === 'retiring' || slot.state === 'killed';
    slot.state = 'dead';
    clearTimeout(slot.idleTimer);
    this.workers.delete(workerId);
    this.links?.forget(workerId);
    if (this.workers.size === 0) this.onNoWorkers?.();
    const [running, ...behind] = slot.inflight;
    slot.inflight.length = 0;
    let exited: WorkerExitedError | undefined;
    if (!expected || (running && running.state !== 'settled')) {
      exited = new WorkerExitedError(
        { exitCode, signal, reason: oomKilled ? 'oom-kill' : this.exitReason(signal), pid: slot.pid },
        { unit: this.transient?.name, cause: spawnError },
      );
    }
    if (running && exited) this.fail(running, exited);
    for (const task of behind) if (task.state !== 'settled') this.requeue(task);
    // Workers that die before running anything, again and again, would be re-forked forever: stop and say why.
    if (!expected && !running && slot.done === 0) this.earlyDeaths++;
    if (this.earlyDeaths >= 3) {
      this.breakPool(
        new BrokenPoolError(
          `workers die as soon as they start (last one: ${exited?.message ?? 'exited'}); the unit's restrictions may keep Node ` +
            `from running (a syscall filter, memory or task limits, an unreadable path): see the workers' output above`,
          { cause: exited, unit: this.transient?.name },
        ),
      );
      return;
    }
    if (exited && !expected && this.options.onWorkerExit === 'break') {
      this.breakPool(new BrokenPoolError('a worker died and onWorkerExit is "break"', { cause: exited, unit: this.transient?.name }));
      return;
    }
    this.ensureWorkers();
    this.updateCapacity();
  }

  /** Why did a worker die? SIGKILL plus a new OOM kill in the unit's memory cgroup means the OOM killer. */
  private exitReason(signal: string | null): ExitReason {
    if (!signal) return 'exit';
    if (signal === 'SIGKILL' && this.transient) {
      const kills = oomKillCount(this.transient.controlGroup);
      if (kills !== undefined && kills > this.oomKillsSeen) {
        this.oomKillsSeen++;
        return 'oom-kill';
      }
    }
    return 'signal';
  }

  // ── dispatch ─────────────────────────────────────────────────────────────────────────────────────────────

  private checkOpen(what: string): void {
    if (this.closing) throw new PoolClosedError(`${what}() after shutdown(): this pool takes no new tasks`, { unit: this.transient?.name });
    if (this.broken) throw this.broken;
  }

  private enqueue(id: number, fn: FnEntry, payload: Buffer, options: SubmitOptions): [Task, Promise<unknown>] {
    const [task, result] = newTask(id, fn, payload, this.options.callSites === true);
    if (this.tasksPerWorker === 1 && this.recentFns[0] !== fn) this.recentFns = [fn, ...this.recentFns.filter((e) => e !== fn)].slice(0, 8);
    this.unsettled++;
    if (options.signal || options.timeout !== undefined) this.arm(task, options);
    this.queued.add(task);
    this.schedule(task, 0);
    if (this.options.idleTimeout !== undefined) this.ensureWorkers();
    return [task, result];
  }

  private schedule(task: Task, priority: number): void {
    const options = task.abort ? { priority, signal: task.abort.signal } : priority > 0 ? URGENT : NORMAL;
    this.queue.add(() => this.dispatch(task), options).catch(noop);
  }

  private requeue(task: Task): void {
    task.release?.();
    task.release = undefined;
    task.state = 'queued';
    task.worker = undefined;
    this.queued.add(task);
    this.schedule(task, 1);
  }

  /** Called by p-queue when a slot is free: send the task to the least busy ready worker. */
  private dispatch(task: Task): Promise<void> {
    if (task.state !== 'queued') return RESOLVED;
    const slot = this.pickWorker();
    if (!slot) {
      // Capacity shrank under p-queue (a worker died): wait here for the next free slot.
      this.parked.push(task);
      return RESOLVED;
    }
    this.send(task, slot);
    return new Promise<void>((release) => (task.release = release));
  }

  private send(task: Task, slot: WorkerSlot): void {
    this.queued.delete(task);
    this.wakeSpaceWaiters();
    task.state = 'sent';
    task.worker = slot;
    task.sentAt = performance.now();
    slot.inflight.push(task);
    slot.sent++;
    clearTimeout(slot.idleTimer);
    try {
      this.define(slot, task.fn);
      slot.out!.write(slot.id, task.payload);
    } catch (err) {
      // Only a frame the wire cannot carry (over 4 GiB) gets here: this task fails, nothing else is affected.
      slot.inflight.pop();
      this.fail(task, new SerializationError('args', `the task is too large to send (${task.payload.length} bytes)`, { cause: err }));
      return;
    }
    if (this.tasksPerWorker !== undefined && slot.sent >= this.tasksPerWorker) this.retireWorker(slot);
  }

  private pickWorker(): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const slot of this.workers.values()) {
      if ((slot.state !== 'ready' && slot.state !== 'starting') || !slot.out) continue;
      if (!best || slot.inflight.length < best.inflight.length) best = slot;
    }
    return best && best.inflight.length < this.depth ? best : undefined;
  }

  /**
   * Learns how long tasks take (from the worker's reply times, so queueing inside the worker is not counted) and
   * keeps about 1 ms of work queued per worker: enough to hide the round trip for tiny tasks, none for long ones.
   */
  private adaptDepth(slot: WorkerSlot, task: Task): void {
    const now = performance.now();
    const took = now - Math.max(task.sentAt, slot.lastReplyAt);
    slot.lastReplyAt = now;
    this.serviceMs += (took - this.serviceMs) * 0.2;
    const depth = Math.max(1, Math.min(64, Math.floor(1 / Math.max(this.serviceMs, 1e-3))));
    if (depth !== this.depth) {
      this.depth = depth;
      this.updateCapacity();
    }
  }

  /** A worker finished a task: maybe start its idle timer; give its slot to parked work. */
  private afterTask(slot: WorkerSlot): void {
    if (slot.inflight.length === 0 && slot.state === 'ready' && this.options.idleTimeout !== undefined) {
      slot.idleTimer = setTimeout(() => {
        if (slot.inflight.length === 0 && slot.state === 'ready') this.retireWorker(slot);
      }, this.options.idleTimeout);
      slot.idleTimer.unref();
    }
    if (this.parked.length > 0) this.updateCapacity();
  }

  /** Workers that take tasks: forked or being forked, and not told to stop. */
  private readyWorkers(): number {
    let n = 0;
    for (const slot of this.workers.values()) if ((slot.state === 'ready' || slot.state === 'starting') && slot.out) n++;
    return n;
  }


  /** Keep p-queue's concurrency equal to the slots workers can take; send parked tasks first. */
  private updateCapacity(): void {
    const ready = this.canSpawn() ? this.readyWorkers() : 0;
    if (ready === 0 || this.broken) {
      this.queue.pause();
      return;
    }
    while (this.parked.length > 0) {
      const slot = this.pickWorker();
      if (!slot) break;
      const task = this.parked.shift()!;
      if (task.state === 'queued') this.send(task, slot);
    }
    this.queue.concurrency = ready * this.depth;
    if (this.queue.isPaused) this.queue.start();
  }

  /** Fork workers up to maxWorkers: always (default), or only while work waits (idleTimeout). */
  private ensureWorkers(): void {
    if (this.closing || this.broken || !this.canSpawn()) return;
    let live = 0;
    for (const slot of this.workers.values()) if (slot.state === 'starting' || slot.state === 'ready') live++;
    const want = this.options.idleTimeout === undefined ? this.maxWorkers : Math.min(this.maxWorkers, live + this.queued.size);
    for (; live < want; live++) this.spawn(this.addWorkerSlot());
  }

  /** Kills a worker; it gets no more tasks. Its exit report requeues the tasks that were waiting behind. */
  private killWorker(slot: WorkerSlot, signal = 'SIGKILL'): void {
    if (slot.state === 'dead') return;
    slot.state = 'killed';
    this.signalWorker(slot, signal);
    this.ensureWorkers();
    this.updateCapacity();
  }
  /** Asks the supervisor to send `signal` to slot's worker (its exit report follows). */
  private signalWorker(slot: WorkerSlot, signal: string): void {
    if (this.units) this.units.kill(slot.id, signal);
    else this.writer?.write(0, encode([ToSupervisor.Kill, slot.id, signal]));
  }


  /** Asks a worker to exit once its tasks are done (it takes no new ones); a fresh one takes its place. */
  private retireWorker(slot: WorkerSlot): void {
    // A starting worker too: it may take tasks before its fork is reported (onWorkerStarted); Exit queues behind them.
    if (slot.state !== 'ready' && slot.state !== 'starting') return;
    if (!slot.out) return this.killWorker(slot, 'SIGTERM');
    slot.state = 'retiring';
    slot.out.write(slot.id, encode([ToWorker.Exit]));
    if (this.tasksPerWorker === 1) this.replaceSoon();
    else this.ensureWorkers();
    this.updateCapacity();
  }

  /**
   * With fresh workers every task retires its worker as it is sent: the replacement is asked for a moment later,
   * not at once, so that starting it (a unit to create, a fork to ask for) does not delay that task's own round
   * trip; a task shorter than that gets its result first.
   */
  private replaceSoon(): void {
    if (this.replaceTimer) return;
    this.replaceTimer = setTimeout(() => {
      this.replaceTimer = undefined;
      this.ensureWorkers();
      this.updateCapacity();
    }, 1);
  }

  private waitForSpace(): Promise<void> {
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  private wakeSpaceWaiters(): void {
    const max = this.options.maxQueue;
    while (this.spaceWaiters.length > 0 && (this.closing || this.broken || max === undefined || this.queued.size < max)) this.spaceWaiters.shift()!();
  }

  // ── settling ─────────────────────────────────────────────────────────────────────────────────────────────

  private arm(task: Task, options: SubmitOptions): void {
    task.abort = new AbortController();
    const cancel = (err: unknown) => {
      if (task.state === 'settled') return;
      const slot = task.state === 'sent' ? task.worker : undefined;
      task.abort!.abort(err);
      this.fail(task, err);
      // A running task cannot be interrupted inside its worker: kill the worker; a new one takes its place.
      if (slot && slot.inflight.includes(task)) this.killWorker(slot);
    };
    const ms = options.timeout;
    const timer = ms !== undefined ? setTimeout(() => cancel(new TaskTimeoutError(ms, { unit: this.transient?.name })), ms) : undefined;
    const signal = options.signal;
    const onAbort = () => cancel(signal!.reason);
    if (signal?.aborted) queueMicrotask(onAbort);
    else signal?.addEventListener('abort', onAbort, { once: true });
    task.disarm = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
  }

  private succeed(task: Task, value: unknown): void {
    if (task.state === 'settled') return;
    this.settle(task);
    this.counts.done++;
    task.resolve(value);
  }

  private fail(task: Task, err: unknown): void {
    if (task.state === 'settled') return;
    this.settle(task);
    this.counts.failed++;
    task.reject(err);
  }

  private settle(task: Task): void {
    task.release?.();
    task.state = 'settled';
    if (this.queued.delete(task)) this.wakeSpaceWaiters();
    task.disarm?.();
    if (--this.unsettled === 0) {
      this.onAllSettled?.();
      this.onAllSettled = undefined;
    }
  }

  private failQueued(err: Error): void {
    for (const task of [...this.queued]) this.fail(task, err);
  }

  private abandonAll(how: string): void {
    this.closing = true;
    this.abandoned = true;
    const err = new PoolClosedError(`task abandoned: the pool was ${how}`, { unit: this.transient?.name });
    this.failQueued(err);
    for (const slot of this.workers.values()) for (const task of slot.inflight) this.fail(task, err);
    this.wakeSpaceWaiters();
  }

  private breakPool(err: Error): void {
    if (this.broken) return;
    this.onInitialWorkers?.();
    this.broken = err instanceof UnitPoolError ? err : new BrokenPoolError(err.message, { cause: err });
    for (const slot of this.workers.values()) for (const task of slot.inflight) this.fail(task, this.broken);
    this.failQueued(this.broken);
    this.queue.clear();
    this.queue.pause();
    this.wakeSpaceWaiters();
  }

  // ── shutdown ─────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Asks every worker to exit and waits (at most 2 s) for the supervisor to report each exit: a report comes after
   * all of the worker's console output, so none of it is lost to the unit's stop.
   */
  private async retireAll(): Promise<void> {
    for (const slot of [...this.workers.values()]) {
      if (slot.state === 'ready') this.retireWorker(slot);
      else if (slot.state === 'starting' && !slot.spawned) {
        slot.state = 'dead';
        this.workers.delete(slot.id);
      } else if (slot.state === 'starting') this.killWorker(slot, 'SIGTERM');
    }
    if (this.workers.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.onNoWorkers = resolve;
      timer = setTimeout(resolve, 2000);
    });
    clearTimeout(timer);
    this.onNoWorkers = undefined;
  }

  private async finish(): Promise<void> {
    await this.started.catch(noop);
    // Wait for every task to settle (breaking the pool settles them all).
    if (this.unsettled > 0) await new Promise<void>((resolve) => (this.onAllSettled = resolve));
    await this.relaunching;
    this.queue.clear();
    for (const slot of this.workers.values()) clearTimeout(slot.idleTimer);
    if (!this.broken && !this.abandoned) await this.retireAll();
    this.control?.end();
    this.control?.destroy();
    // Stopping the unit ends every worker and so every direct link; these are only in case one lingers.
    const links = [...this.workers.values()].flatMap((slot) => (slot.link ? [slot.link] : []));
    if (!this.transient) {
      this.bus?.close();
      this.links?.close();
      return;
    }
    // The D-Bus connection may have dropped (dbus-daemon restarted): the unit must still be stopped.
    let bus = this.bus!;
    try {
      if (bus.isClosed) bus = await SystemdBus.connect(this.options.bus ?? 'system');
      await this.transient.stop(bus);
    } finally {
      for (const link of links) link.destroy();
      this.links?.close();
      bus.close();
      this.bus?.close();
    }
  }
}

function resolveMaxWorkers(requested: number | undefined, unitCpus: number | undefined): number {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 1) throw new TypeError(`maxWorkers must be a positive integer, got ${String(requested)}`);
    return requested;
  }
  return Math.max(1, Math.min(availableParallelism(), unitCpus ?? Infinity));
}

/** isolation: 'none' confines nothing, so asking for confinement with it is an error, never silently dropped. */
function checkIsolation(o: UnitPoolOptions): void {
  if (o.isolation === undefined || o.isolation === 'systemd' || o.isolation === 'pool' || o.isolation === 'worker') return;
  if (o.isolation !== 'none') throw new OptionError('isolation', o.isolation, 'unknown isolation', `'pool' (default; 'systemd' is the same), 'worker' (a unit per worker) or 'none'`);
  for (const key of ['properties', 'preset', 'raw', 'bestEffort', 'bus'] as const) {
    if (o[key] !== undefined) {
      throw new OptionError(
        key,
        o[key],
        `isolation: 'none' runs plain child processes, which cannot enforce ${key}`,
        `no ${key} with isolation: 'none'; or drop isolation: 'none' and run under systemd (\`npx unitpool sandbox -- <command>\` where systemd is not PID 1)`,
      );
    }
  }
  if (o.env !== undefined && o.env !== 'inherit') {
    throw new OptionError('env', o.env, `isolation: 'none' workers inherit this process's environment`, `env: 'inherit' or no env`);
  }
}

/** isolation: as given ('systemd' is the old name of 'pool'); by default 'worker' for the untrusted preset. */
function resolveIsolation(o: UnitPoolOptions): 'pool' | 'worker' | 'none' {
  if (o.isolation === 'none' || o.isolation === 'worker') return o.isolation;
  if (o.isolation === 'pool' || o.isolation === 'systemd') return 'pool';
  const presets: unknown[] = Array.isArray(o.preset) ? o.preset : [o.preset];
  return presets.includes('untrusted') ? 'worker' : 'pool';
}

function checkPoolOptions(o: UnitPoolOptions): void {
  const positiveInt = (name: keyof UnitPoolOptions) => {
    const v = o[name];
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1)) throw new TypeError(`${name} must be a positive integer, got ${String(v)}`);
  };
  positiveInt('maxTasksPerWorker');
  if (o.fresh !== undefined && typeof o.fresh !== 'boolean') throw new OptionError('fresh', o.fresh, 'fresh must be true or false', 'fresh: true');
  if (o.fresh && o.maxTasksPerWorker !== undefined && o.maxTasksPerWorker !== 1) {
    throw new OptionError('maxTasksPerWorker', o.maxTasksPerWorker, 'with fresh: true every worker runs exactly one task', 'no maxTasksPerWorker with fresh: true');
  }
  positiveInt('maxFrame');
  if (o.maxQueue !== undefined && (!Number.isInteger(o.maxQueue) || o.maxQueue < 0)) throw new TypeError(`maxQueue must be a whole number, got ${String(o.maxQueue)}`);
  for (const name of ['idleTimeout', 'startTimeout'] as const) {
    const v = o[name];
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && Number.isFinite(v))) throw new TypeError(`${name} must be a number of milliseconds, got ${String(v)}`);
  }
  if (o.onWorkerExit !== undefined && o.onWorkerExit !== 'replace' && o.onWorkerExit !== 'break') {
    throw new TypeError(`onWorkerExit must be 'replace' or 'break', got ${String(o.onWorkerExit)}`);
  }
  if (o.queueMode !== undefined && o.queueMode !== 'reject' && o.queueMode !== 'wait') {
    throw new TypeError(`queueMode must be 'reject' or 'wait', got ${String(o.queueMode)}`);
  }
  if (o.initArgs !== undefined && !Array.isArray(o.initArgs)) throw new TypeError('initArgs must be an array of arguments');
}

/** Gives a remote error the place where its task was submitted: remote stack first, then the local one. */
function withCallSite(remote: unknown, callSite: Error | undefined): unknown {
  if (remote instanceof Error && callSite) {
    const local = (callSite.stack ?? '').split('\n').slice(1).join('\n');
    remote.stack = `${remote.stack ?? `${remote.name}: ${remote.message}`}\n    --- in a unitpool worker; submitted from ---\n${local}`;
  }
  return remote;
}
