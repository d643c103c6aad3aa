// UnitPool: a process pool executor whose workers all run inside one systemd transient unit.
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
//                                                                     │ (link.ts; relayed on the        │ (channel 0)
//                                                                     │ control socket if impossible)   │
//   ┌── systemd transient unit unitpool-<id>.service ─────────────────▼─────────────────────────────────▼───────┐
//   │  supervisor: the main process, stdin/stdout = control socket (connected by systemd); forks worker k       │
//   │     when the pool connects for it, reports exits and console output                                       │
//   │  worker k (fd 3 = its link): decode, run fn(...args) one at a time, encode the result or the error        │
//   └───────────────────────────────────────────────────────────────────────────────────────────────────────────┘
//
//   result frame ──> decode (untrusted: checked against the worker's in-flight tasks) ──> settle the promise
//
// A worker has at most `depth` tasks in flight; it runs them in order, so its first in-flight task is the one
// running. `depth` adapts to how long tasks take: about 1 ms of queued work per worker (1 for slow tasks, up to 64
// for tiny ones), so tiny tasks are pipelined without making long ones wait behind each other. When a worker dies,
// that task rejects with WorkerExitedError and the tasks behind it go back to the front of the queue. When the unit
// dies, every task rejects with BrokenPoolError.

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
import { type BusChoice, managerRuntimeRoot, SystemdBus } from '../unit/bus.js';
import { type Capabilities, enforceCapabilities, hostCapabilities } from '../unit/capabilities.js';
import { cgroupUsage, type CgroupUsage, oomKillCount } from '../unit/cgroup.js';
import { launchLocal, launchSupervisor } from '../unit/launch.js';
import type { DBusProperty, TransientUnit, UnitInfo } from '../unit/transient.js';
import { decode, encode, encodeWithPath } from '../wire/codec.js';
import { TOKEN_SIZE } from '../wire/direct.js';
import { DEFAULT_MAX_FRAME, FrameDecoder, FrameWriter } from '../wire/frame.js';
import { FromSupervisor, FromWorker, ToSupervisor, ToWorker } from '../wire/messages.js';
import { type FnEntry, FunctionRegistry, type TaskFunction } from './functions.js';
import { DirectLink } from './link.js';
import { newTask, newWorkerSlot, type Task, type WorkerSlot } from './task.js';
import { TaskQueue } from './task-queue.js';
import { MapIterator, type MapProgress } from './map.js';

export interface UnitPoolOptions extends UnitOptions {
  /** Worker processes; default: the CPUs available to the unit (CPUQuota and AllowedCPUs count). */
  maxWorkers?: number;
  /** Which systemd: 'system' (default), 'user', or { address } of a D-Bus socket. */
  bus?: BusChoice;
  /**
   * 'systemd' (default): workers run in a transient unit. 'none': plain child processes with the same API (timeouts
   * and crash handling only), for development machines without systemd; no properties may be given with it.
   */
  isolation?: 'systemd' | 'none';
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
   * How new workers are forked: 'direct' (the pool connects to each; see src/wire/direct.ts), 'relay' (a Spawn
   * message; its frames pass through the supervisor), or 'wait' for the supervisor's Hello to say which.
   */
  private spawnMode: 'wait' | 'direct' | 'relay' = 'relay';
  private direct: { path: string; token: Buffer } | undefined;
  private directPath: string | undefined;
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
    const compiled = compileUnitOptions(options);
    this.unitOptions = compiled;
    this.maxWorkers = resolveMaxWorkers(options.maxWorkers, compiled.cpus);
    checkPoolOptions(options);
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
      const initial = this.options.idleTimeout !== undefined ? 0 : this.maxWorkers;
      for (let i = 0; i < initial; i++) this.addWorkerSlot();
      const supervisor = { initialWorkers: initial, maxFrame: this.maxFrame, workerOomScoreAdj: 500, workerExecArgv: [] };
      const onLog = (chunk: Buffer) => (this.options.stderr ?? process.stderr).write(chunk);
      if (this.options.isolation === 'none') {
        this.control = (await launchLocal(supervisor, onLog)).control;
      } else {
        this.bus = await SystemdBus.connect(this.options.bus ?? 'system');
        properties = await enforceCapabilities(this.bus, this.options.bus ?? 'system', this.options, this.unitOptions);
        const launched = await launchSupervisor({
          bus: this.bus,
          properties,
          supervisor,
          onLog,
          runtimeRoot: managerRuntimeRoot(this.options.bus ?? 'system'),
          ...(this.options.startTimeout !== undefined ? { startTimeoutMs: this.options.startTimeout } : {}),
        });
        this.transient = launched.unit;
        this.control = launched.control;
        // With a direct socket the supervisor forks no worker on its own: each is forked when we connect for it.
        this.directPath = launched.directPath;
        if (this.directPath) this.spawnMode = 'wait';
        this.oomKillsSeen = oomKillCount(launched.unit.controlGroup) ?? 0;
      }
      debug('pool started: unit %s, %d workers', this.transient?.name ?? '(isolation: none)', initial);
      // What we send is ours (no limit but the wire's 4 GiB); what we receive is checked against maxFrame.
      this.writer = new FrameWriter(this.control, { maxFrame: Number.MAX_SAFE_INTEGER });
      const forked = new Promise<void>((resolve) => (this.onInitialWorkers = resolve));
      this.attach(this.control);
      // Relayed, the initial workers were forked by the supervisor at once (ids 1..initial).
      if (this.spawnMode === 'relay') for (const slot of this.workers.values()) this.useRelay(slot);
      this.ensureWorkers();
      this.updateCapacity();
      if (initial > 0) await forked;
      if (this.broken) throw this.broken;
    } catch (err) {
      this.breakPool(err instanceof Error ? err : new Error(String(err)));
      // Without a unit there is nothing for shutdown() to stop: let go of the connection now, or it keeps the
      // process alive until someone calls shutdown().
      if (!this.transient) this.bus?.close();
      throw err;
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
        this.breakPool(new ProtocolError(`the unit sent an unusable frame: ${(err as Error).message}`, { cause: err, unit: this.transient?.name }));
        control.destroy();
      }
    });
    control.on('error', noop);
    control.on('close', () => void this.onUnitGone());
  }

  /** The control connection closed: expected during shutdown; otherwise the unit died under us. */
  private async onUnitGone(): Promise<void> {
    if (this.broken || (this.closing && this.unsettled === 0)) return;
    const name = this.transient?.name;
    let why = 'its supervisor went away';
    const props = await this.transient?.properties().catch(() => undefined);
    if (props) why += `; systemd says ActiveState=${String(props.unit.ActiveState)}, Result=${String(props.service.Result)}`;
    const kills = this.transient ? oomKillCount(this.transient.controlGroup) : undefined;
    if (kills !== undefined && kills > this.oomKillsSeen) why += `; the kernel's OOM killer killed ${kills - this.oomKillsSeen} process(es) of the unit: its memory limit is too small`;
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
        return this.onHello(msg[2]);
      case FromSupervisor.Spawned:
        return this.onWorkerStarted(this.workers.get(msg[1] as number), Number(msg[2]));
      case FromSupervisor.Exited:
        return this.onWorkerExit(msg[1] as number, typeof msg[2] === 'number' ? msg[2] : null, typeof msg[3] === 'string' ? msg[3] : null);
      case FromSupervisor.SpawnFailed:
        return this.onWorkerExit(msg[1] as number, null, null, String(msg[2]));
      case FromSupervisor.Output:
        return this.onOutput(msg[2], msg[3]);
      case FromSupervisor.WorkerFault: {
        const slot = this.workers.get(msg[1] as number);
        return slot ? this.protocolFault(slot, `a bad frame (${String(msg[2])})`) : undefined;
      }
      default:
        return this.supervisorFault(`an unknown message ${String(msg[0])}`);
    }
  }

  private supervisorFault(what: string): void {
    this.breakPool(new ProtocolError(`the unit's supervisor sent ${what}`, { unit: this.transient?.name }));
    this.control?.destroy();
  }

  /** Console output: written through, and the unit waits (backpressure) while the destination is full. */
  private onOutput(fd: unknown, bytes: unknown): void {
    if (!(bytes instanceof Uint8Array)) return;
    const out = fd === 1 ? (this.options.stdout ?? process.stdout) : (this.options.stderr ?? process.stderr);
    if (!out.write(bytes) && this.control && !this.control.isPaused()) {
      const control = this.control;
      control.pause();
      out.once('drain', () => control.resume());
    }
  }

  private onWorkerStarted(slot: WorkerSlot | undefined, pid: number): void {
    // Killed before the supervisor had forked it (a direct connection's hello was on its way): kill it now.
    if (slot?.state === 'killed' && slot.pid === undefined) this.signalWorker(slot, 'SIGKILL');
    // It may be retiring already: it can take tasks before this report (its direct link's Ready came first, or,
    // relayed, they queued behind its Spawn), and maxTasksPerWorker counts them.
    if (!slot || (slot.state !== 'starting' && slot.state !== 'retiring') || slot.pid !== undefined) return;
    slot.pid = pid;
    if (slot.state === 'starting') slot.state = 'ready';
    if (slot.out) this.onUsable();
    this.updateCapacity();
  }

  /** A worker takes tasks: forked and relayed, or Ready on its direct link. */
  private onUsable(): void {
    this.onInitialWorkers?.();
    this.onInitialWorkers = undefined;
  }

  /** The supervisor is up; its Hello says whether workers can be connected to directly. */
  private onHello(token: unknown): void {
    if (this.spawnMode !== 'wait') return;
    if (this.directPath && token instanceof Uint8Array && token.length === TOKEN_SIZE) {
      this.direct = { path: this.directPath, token: Buffer.from(token) };
      this.spawnMode = 'direct';
    } else {
      this.spawnMode = 'relay';
    }
    debug('supervisor hello: workers are %s', this.spawnMode === 'direct' ? `connected directly at ${this.directPath}` : 'relayed');
    for (const slot of this.workers.values()) if (!slot.spawned && slot.state === 'starting') this.spawn(slot);
  }

  /** Asks for slot's worker: by connecting to the supervisor's socket for it, or with a Spawn message. */
  private spawn(slot: WorkerSlot): void {
    slot.spawned = true;
    if (this.spawnMode === 'direct' && this.direct) {
      slot.link = new DirectLink(this.direct.path, this.direct.token, slot.id, this.maxFrame, {
        onFrame: (payload) => this.onWorkerMessage(slot.id, payload),
        onFault: (err) => this.protocolFault(slot, `a bad frame (${err.message})`),
        onClose: (connected) => this.onLinkClosed(slot, connected),
      });
      return;
    }
    this.writer!.write(0, encode([ToSupervisor.Spawn, slot.id]));
    this.useRelay(slot);
  }

  /** The slot's frames go through the supervisor: it takes tasks at once, they queue behind the Spawn request. */
  private useRelay(slot: WorkerSlot): void {
    slot.spawned = true;
    slot.out = this.writer;
    this.prepare(slot);
  }

  private onLinkClosed(slot: WorkerSlot, connected: boolean): void {
    if (slot.pendingExit) return slot.pendingExit();
    if (slot.state === 'dead') return;
    if (!connected && slot.pid === undefined) {
      // The socket cannot be reached from here (a path the unit's settings moved or hid): relay from now on.
      debug('worker %d: no direct connection possible; relaying every worker from now on', slot.id);
      this.spawnMode = 'relay';
      slot.link = undefined;
      this.spawn(slot);
      return;
    }
    // Closed while its worker lives: it is exiting (the kernel closes its files after its exit status is set), or
    // it closed its channel and can do nothing useful any more. Make sure it ends, without calling the exit
    // expected: the supervisor's exit report settles its tasks.
    if (slot.state !== 'retiring' && slot.state !== 'killed') this.signalWorker(slot, 'SIGKILL');
  }

  /** A worker about to take tasks: the initializer goes first. */
  private prepare(slot: WorkerSlot): void {
    if (!this.init) return;
    slot.defined.add(this.init.entry.key);
    slot.out!.write(slot.id, this.init.entry.definition);
    slot.out!.write(slot.id, this.init.message);
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
    if (msg[0] === FromWorker.InitError) {
      return this.breakPool(new BrokenPoolError('the initializer threw in a new worker', { cause: msg[1], unit: this.transient?.name }));
    }
    if (msg[0] !== FromWorker.Result && msg[0] !== FromWorker.Error) return this.protocolFault(slot, `an unknown message type ${String(msg[0])}`);
    const task = slot.inflight[0];
    if (!task || task.id !== msg[1]) return this.protocolFault(slot, `a reply for task ${String(msg[1])}, which is not the task it is running`);
    slot.inflight.shift();
    slot.done++;
    this.earlyDeaths = 0;
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

  private onWorkerExit(workerId: number, exitCode: number | null, signal: string | null, spawnError?: string): void {
    const slot = this.workers.get(workerId);
    if (!slot || slot.state === 'dead') return;
    const link = slot.link;
    if (link && !link.closed) {
      // Its last frames may still be on their way on the direct link: finish them first (the link closes when the
      // worker is gone, unless something it started holds the connection: then give up after a second).
      slot.pendingExit = () => {
        slot.pendingExit = undefined;
        this.onWorkerExit(workerId, exitCode, signal, spawnError);
      };
      setTimeout(() => link.destroy(), 1000).unref();
      return;
    }
    debug('worker %d (pid %s) exited: code %s, signal %s, state %s', workerId, slot.pid, exitCode, signal, slot.state);
    const expected = slot.state === 'retiring' || slot.state === 'killed';
    slot.state = 'dead';
    clearTimeout(slot.idleTimer);
    this.workers.delete(workerId);
    if (this.workers.size === 0) this.onNoWorkers?.();
    const [running, ...behind] = slot.inflight;
    slot.inflight.length = 0;
    let exited: WorkerExitedError | undefined;
    if (!expected || (running && running.state !== 'settled')) {
      exited = new WorkerExitedError(
        { exitCode, signal, reason: this.exitReason(signal), pid: slot.pid },
        { unit: this.transient?.name, cause: spawnError ? new Error(spawnError) : undefined },
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
      if (!slot.defined.has(task.fn.key)) {
        slot.defined.add(task.fn.key);
        slot.out!.write(slot.id, task.fn.definition);
      }
      slot.out!.write(slot.id, task.payload);
    } catch (err) {
      // Only a frame the wire cannot carry (over 4 GiB) gets here: this task fails, nothing else is affected.
      slot.inflight.pop();
      this.fail(task, new SerializationError('args', `the task is too large to send (${task.payload.length} bytes)`, { cause: err }));
      return;
    }
    if (this.options.maxTasksPerWorker !== undefined && slot.sent >= this.options.maxTasksPerWorker) this.retireWorker(slot);
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
    const ready = this.writer ? this.readyWorkers() : 0;
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
    if (this.closing || this.broken || !this.writer) return;
    let live = 0;
    for (const slot of this.workers.values()) if (slot.state === 'starting' || slot.state === 'ready') live++;
    const want = this.options.idleTimeout === undefined ? this.maxWorkers : Math.min(this.maxWorkers, live + this.queued.size);
    for (; live < want; live++) {
      const slot = this.addWorkerSlot();
      if (this.spawnMode !== 'wait') this.spawn(slot);
    }
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
    this.writer?.write(0, encode([ToSupervisor.Kill, slot.id, signal]));
  }


  /** Asks a worker to exit once its tasks are done (it takes no new ones); a fresh one takes its place. */
  private retireWorker(slot: WorkerSlot): void {
    // A starting worker too: it may take tasks before its fork is reported (onWorkerStarted); Exit queues behind them.
    if (slot.state !== 'ready' && slot.state !== 'starting') return;
    if (!slot.out) return this.killWorker(slot, 'SIGTERM');
    slot.state = 'retiring';
    slot.out.write(slot.id, encode([ToWorker.Exit]));
    this.ensureWorkers();
    this.updateCapacity();
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
    this.queue.clear();
    for (const slot of this.workers.values()) clearTimeout(slot.idleTimer);
    if (!this.broken && !this.abandoned) await this.retireAll();
    this.control?.end();
    this.control?.destroy();
    // Stopping the unit ends every worker and so every direct link; these are only in case one lingers.
    const links = [...this.workers.values()].flatMap((slot) => (slot.link ? [slot.link] : []));
    if (!this.transient) {
      this.bus?.close();
      return;
    }
    // The D-Bus connection may have dropped (dbus-daemon restarted): the unit must still be stopped.
    let bus = this.bus!;
    try {
      if (bus.isClosed) bus = await SystemdBus.connect(this.options.bus ?? 'system');
      await this.transient.stop(bus);
    } finally {
      for (const link of links) link.destroy();
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
  if (o.isolation === undefined || o.isolation === 'systemd') return;
  if (o.isolation !== 'none') throw new OptionError('isolation', o.isolation, 'unknown isolation', `'systemd' (default) or 'none'`);
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

function checkPoolOptions(o: UnitPoolOptions): void {
  const positiveInt = (name: keyof UnitPoolOptions) => {
    const v = o[name];
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1)) throw new TypeError(`${name} must be a positive integer, got ${String(v)}`);
  };
  positiveInt('maxTasksPerWorker');
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
