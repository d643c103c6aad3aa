// UnitPool: a process pool executor whose workers all run inside one systemd transient unit.
//
// Data flow (compare CPython's Lib/concurrent/futures/process.py):
//
//   submit(fn, args) ─┐ encode args now (SerializationError at once), register fn (key + source, once)
//   map(fn, items) ───┤ chunks of `chunksize`, a bounded number in flight
//                     ▼
//              ┌────────────┐  a slot frees on a ready worker   ┌───────────────────────────────────────────────┐
//              │  p-queue   │ ────────────────────────────────> │ dispatch: [Define fn] + Call frame, channel k │
//              │ (pending)  │   timeout / AbortSignal remove    └──────────────────────┬────────────────────────┘
//              └────────────┘                                                          │ control socket (AF_UNIX)
//                                                                                      ▼
//   ┌──────────────────────── systemd transient unit unitpool-<id>.service ─────────────────────────────────┐
//   │  supervisor (main process; stdin/stdout = control socket, connected by systemd)                       │
//   │     └─ relays frames by channel, forks workers, reports their exits and console output (channel 0)   │
//   │  worker 1 … worker N: decode, run fn(...args) one at a time, encode the result or the thrown error    │
//   └────────────────────────────────────────────────────────────────────────────────────────────────────────┘
//                                                                                      │
//   result frame ──> decode (untrusted: checked against the worker's in-flight tasks) ──> settle the promise
//
// A worker has at most `depth` tasks in flight; it runs them in order, so its first in-flight task is the one
// running. When a worker dies, that task rejects with WorkerExitedError and the tasks behind it go back to the
// front of the queue. When the unit dies, every task rejects with BrokenPoolError.

import { availableParallelism } from 'node:os';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import PQueue from 'p-queue';
import {
  BrokenPoolError,
  PoolClosedError,
  ProtocolError,
  TaskTimeoutError,
  UnitPoolError,
  WorkerExitedError,
  type ExitReason,
} from '../errors.js';
import { compileUnitOptions, type UnitOptions } from '../properties/index.js';
import { type BusChoice, SystemdBus } from '../unit/bus.js';
import { launchSupervisor } from '../unit/launch.js';
import type { TransientUnit, UnitInfo } from '../unit/transient.js';
import { decode, encode, encodeWithPath } from '../wire/codec.js';
import { DEFAULT_MAX_FRAME, FrameDecoder, FrameWriter } from '../wire/frame.js';
import { FromSupervisor, FromWorker, ToSupervisor, ToWorker } from '../wire/messages.js';
import { type FnEntry, FunctionRegistry, type TaskFunction } from './functions.js';

export interface UnitPoolOptions extends UnitOptions {
  /** Worker processes; default: the CPUs available to the unit (CPUQuota and AllowedCPUs count). */
  maxWorkers?: number;
  /** Which systemd: 'system' (default), 'user', or { address } of a D-Bus socket. */
  bus?: BusChoice;
  /** Largest frame accepted from the unit, in bytes (default 64 MiB). */
  maxFrame?: number;
  /** Where workers' console output goes (default: this process's stdout / stderr). */
  stdout?: Writable;
  stderr?: Writable;
  /** What a worker's death does to the pool: start a new worker (default), or break the pool like Python does. */
  onWorkerExit?: 'replace' | 'break';
  /** How long creating the unit may take, in ms (default 30 s). */
  startTimeout?: number;
}

export interface SubmitOptions {
  /** Reject with TaskTimeoutError after this many ms (counted from submit); a running task's worker is killed. */
  timeout?: number;
  /** Abort: a queued task is removed, a running task's worker is killed; rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface MapOptions extends SubmitOptions {
  /** Items per task (default 1). Larger chunks amortize the per-task cost for small items. */
  chunksize?: number;
}

export interface ShutdownOptions {
  /** Wait for running and queued tasks to finish and for the unit to stop (default true). */
  wait?: boolean;
  /** Reject queued tasks that have not started yet (default false). */
  cancelPending?: boolean;
}

type TaskState = 'queued' | 'sent' | 'settled';

interface Task {
  readonly id: number;
  readonly fn: FnEntry;
  readonly payload: Buffer;
  state: TaskState;
  worker: WorkerSlot | undefined;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** Where submit() was called, for remote errors' stacks. */
  readonly callSite: Error;
  abort: AbortController | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Resolves (never rejects) once the task is settled. */
  done: Promise<void>;
  markDone: () => void;
  /** Frees the p-queue slot this task holds while it is on a worker (settled, or back in the queue). */
  release: (() => void) | undefined;
}

interface WorkerSlot {
  readonly id: number;
  pid: number | undefined;
  state: 'starting' | 'ready' | 'stopping' | 'dead';
  readonly inflight: Task[];
  readonly defined: Set<number>;
  tasksDone: number;
}

let taskIds = 0;
const noop = () => {};
const RESOLVED = Promise.resolve();

export class UnitPool implements AsyncDisposable {
  readonly maxWorkers: number;
  private readonly options: UnitPoolOptions;
  private readonly registry = new FunctionRegistry();
  private readonly queue: PQueue;
  private readonly workers = new Map<number, WorkerSlot>();
  private readonly queued = new Set<Task>();
  private readonly parked: Task[] = [];
  private nextWorkerId = 1;
  private depth = 1;
  private readonly started: Promise<void>;
  private bus: SystemdBus | undefined;
  private transient: TransientUnit | undefined;
  private control: Socket | undefined;
  private writer: FrameWriter | undefined;
  private broken: Error | undefined;
  private closing = false;
  private shutdownDone: Promise<void> | undefined;

  constructor(options: UnitPoolOptions = {}) {
    this.options = options;
    // Validate everything synchronously: a wrong option throws here, naming the option.
    const compiled = compileUnitOptions(options);
    this.maxWorkers = resolveMaxWorkers(options.maxWorkers, compiled.cpus);
    this.queue = new PQueue({ concurrency: this.maxWorkers, autoStart: false });
    this.started = this.start(compiled.properties);
    this.started.catch(noop);
  }

  /** The pool's transient unit, once it exists. */
  get unit(): UnitInfo | undefined {
    return this.transient;
  }

  /** Resolves when the unit is running and its supervisor connected; rejects if it could not be started. */
  ready(): Promise<void> {
    return this.started;
  }

  /** Runs fn(...args) in a worker; resolves with its result or rejects with what it threw. */
  submit<A extends unknown[], R>(fn: ((...args: A) => R) | TaskFunction, args?: A, options?: SubmitOptions): Promise<Awaited<R>>;
  submit(fn: TaskFunction, args: unknown[] = [], options: SubmitOptions = {}): Promise<unknown> {
    try {
      if (this.closing) throw new PoolClosedError('submit() after shutdown(): this pool takes no new tasks', { unit: this.transient?.name });
      if (this.broken) throw this.broken;
      if (!Array.isArray(args)) throw new TypeError(`submit(fn, args): args must be an array of arguments, got ${typeof args}`);
      const entry = this.registry.resolve(fn);
      const id = ++taskIds;
      const payload = encodeWithPath([ToWorker.Call, id, entry.key, args], 'args', 3);
      return this.enqueue(id, entry, payload, options)[1];
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Applies fn to every item, in order, lazily pulling from `items` with a bounded number of chunks in flight. */
  async *map<T, R>(fn: ((item: T) => R) | TaskFunction, items: Iterable<T> | AsyncIterable<T>, options: MapOptions = {}): AsyncGenerator<Awaited<R>> {
    const chunksize = options.chunksize ?? 1;
    if (!Number.isInteger(chunksize) || chunksize < 1) throw new TypeError(`map(): chunksize must be a positive integer, got ${String(chunksize)}`);
    if (this.closing) throw new PoolClosedError('map() after shutdown(): this pool takes no new tasks');
    const entry = this.registry.resolve(fn);
    // Chunks in flight, oldest first; results are yielded in this order.
    const window: [Task, Promise<unknown>][] = [];
    const maxInFlight = Math.max(2, this.maxWorkers * 2);
    const submitChunk = (chunk: T[]) => {
      const id = ++taskIds;
      const payload = encodeWithPath([ToWorker.CallChunk, id, entry.key, chunk], 'items', 3);
      const pending = this.enqueue(id, entry, payload, options);
      pending[1].catch(noop);
      window.push(pending);
    };
    const oldest = async () => (await window.shift()![1]) as Awaited<R>[];
    try {
      let chunk: T[] = [];
      for await (const item of items as AsyncIterable<T>) {
        chunk.push(item);
        if (chunk.length < chunksize) continue;
        submitChunk(chunk);
        chunk = [];
        while (window.length >= maxInFlight) yield* await oldest();
      }
      if (chunk.length > 0) submitChunk(chunk);
      while (window.length > 0) yield* await oldest();
    } finally {
      // Leaving the loop early (break, throw) cancels the chunks that have not started; running ones finish.
      for (const [task] of window) if (task.state === 'queued') this.fail(task, new PoolClosedError('map() was left before this chunk ran'));
    }
  }

  /** Stops the pool: no new tasks; waits for the queued ones (unless cancelPending) and stops the unit. */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelPending = false } = options;
    this.closing = true;
    if (cancelPending) {
      for (const task of [...this.queued]) this.fail(task, new PoolClosedError('task cancelled by shutdown({ cancelPending: true }) before it started'));
    }
    this.shutdownDone ??= this.finish();
    return wait ? this.shutdownDone : Promise.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  // ── start ────────────────────────────────────────────────────────────────────────────────────────────────

  private async start(properties: Parameters<typeof launchSupervisor>[0]['properties']): Promise<void> {
    try {
      this.bus = await SystemdBus.connect(this.options.bus ?? 'system');
      const initial = this.maxWorkers;
      for (let i = 0; i < initial; i++) this.addWorkerSlot();
      const launched = await launchSupervisor({
        bus: this.bus,
        properties,
        supervisor: { initialWorkers: initial, maxFrame: this.options.maxFrame ?? DEFAULT_MAX_FRAME, workerOomScoreAdj: 500, workerExecArgv: [] },
        onLog: (chunk) => (this.options.stderr ?? process.stderr).write(chunk),
      });
      this.transient = launched.unit;
      this.control = launched.control;
      this.writer = new FrameWriter(launched.control);
      this.attach(launched.control);
      launched.log.on('close', noop);
      if (this.closing && this.queue.size === 0) return;
    } catch (err) {
      this.breakPool(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  private addWorkerSlot(): WorkerSlot {
    const slot: WorkerSlot = { id: this.nextWorkerId++, pid: undefined, state: 'starting', inflight: [], defined: new Set(), tasksDone: 0 };
    this.workers.set(slot.id, slot);
    return slot;
  }

  private attach(control: Socket): void {
    const decoder = new FrameDecoder({
      maxFrame: this.options.maxFrame ?? DEFAULT_MAX_FRAME,
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
    control.on('close', () => {
      if (!this.closing || this.queued.size > 0 || this.inflightCount() > 0) {
        this.breakPool(new BrokenPoolError(`the pool's unit ${this.transient?.name} stopped (its supervisor went away)`, { unit: this.transient?.name }));
      }
    });
  }

  // ── messages from the unit (untrusted bytes) ────────────────────────────────────────────────────────────

  private onSupervisorMessage(payload: Buffer): void {
    const msg = this.decodeOrBreak(payload);
    if (!msg) return;
    switch (msg[0]) {
      case FromSupervisor.Hello:
        return;
      case FromSupervisor.Spawned: {
        const slot = this.workers.get(msg[1] as number);
        if (!slot || slot.state !== 'starting') return;
        slot.pid = Number(msg[2]);
        slot.state = 'ready';
        this.updateCapacity();
        return;
      }
      case FromSupervisor.Exited:
        return this.onWorkerExit(msg[1] as number, (msg[2] as number | null) ?? null, (msg[3] as string | null) ?? null);
      case FromSupervisor.SpawnFailed:
        return this.onWorkerExit(msg[1] as number, null, null, String(msg[2]));
      case FromSupervisor.Output: {
        const out = msg[2] === 1 ? (this.options.stdout ?? process.stdout) : (this.options.stderr ?? process.stderr);
        if (msg[3] instanceof Uint8Array) out.write(msg[3]);
        return;
      }
      default:
        this.breakPool(new ProtocolError(`the unit's supervisor sent an unknown message ${String(msg[0])}`, { unit: this.transient?.name }));
    }
  }

  private onWorkerMessage(workerId: number, payload: Buffer): void {
    const slot = this.workers.get(workerId);
    if (!slot || slot.state === 'dead') return;
    let msg: unknown[] | undefined;
    try {
      const decoded = decode(payload);
      if (Array.isArray(decoded)) msg = decoded;
    } catch {
      /* handled below */
    }
    if (!msg) return this.protocolFault(slot, 'a frame that is not a valid message');
    if (msg[0] === FromWorker.InitError) {
      return this.breakPool(new BrokenPoolError('the initializer threw in a new worker', { cause: msg[1], unit: this.transient?.name }));
    }
    if (msg[0] !== FromWorker.Result && msg[0] !== FromWorker.Error) return this.protocolFault(slot, `an unknown message type ${String(msg[0])}`);
    const task = slot.inflight[0];
    if (!task || task.id !== msg[1]) return this.protocolFault(slot, `a reply for task ${String(msg[1])}, which is not the task it is running`);
    slot.inflight.shift();
    slot.tasksDone++;
    if (msg[0] === FromWorker.Result) this.succeed(task, msg[2]);
    else this.fail(task, withCallSite(msg[2], task.callSite));
    this.updateCapacity();
  }

  private decodeOrBreak(payload: Buffer): unknown[] | undefined {
    try {
      const msg = decode(payload);
      if (Array.isArray(msg)) return msg;
    } catch {
      /* below */
    }
    this.breakPool(new ProtocolError(`the unit's supervisor sent a frame that is not a valid message`, { unit: this.transient?.name }));
    return undefined;
  }

  /** A worker sent garbage: kill it; its running task fails with ProtocolError, the rest are requeued. */
  private protocolFault(slot: WorkerSlot, what: string): void {
    const err = new ProtocolError(`worker ${slot.pid ?? slot.id} sent ${what}; it was killed`, { unit: this.transient?.name });
    const running = slot.inflight[0];
    if (running) this.fail(running, err);
    this.killWorker(slot);
  }

  private onWorkerExit(workerId: number, exitCode: number | null, signal: string | null, spawnError?: string): void {
    const slot = this.workers.get(workerId);
    if (!slot || slot.state === 'dead') return;
    slot.state = 'dead';
    this.workers.delete(workerId);
    const [running, ...behind] = slot.inflight;
    slot.inflight.length = 0;
    const reason: ExitReason = signal ? 'signal' : 'exit';
    const exited = new WorkerExitedError(
      { exitCode, signal, reason, pid: slot.pid },
      { unit: this.transient?.name, cause: spawnError ? new Error(spawnError) : undefined },
    );
    if (running && running.state !== 'settled') this.fail(running, exited);
    for (const task of behind) if (task.state !== 'settled') this.requeue(task);
    if (this.options.onWorkerExit === 'break' && running) {
      this.breakPool(new BrokenPoolError('a worker died and onWorkerExit is "break"', { cause: exited, unit: this.transient?.name }));
      return;
    }
    if (!this.closing && !this.broken) this.spawnWorker();
    this.updateCapacity();
  }

  // ── dispatch ─────────────────────────────────────────────────────────────────────────────────────────────

  private enqueue(id: number, fn: FnEntry, payload: Buffer, options: SubmitOptions): [Task, Promise<unknown>] {
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const result = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    let markDone!: () => void;
    const done = new Promise<void>((res) => (markDone = res));
    const callSite = new Error('submitted here');
    const task: Task = { id, fn, payload, state: 'queued', worker: undefined, resolve, reject, callSite, abort: undefined, timer: undefined, done, markDone, release: undefined };
    if (options.signal || options.timeout !== undefined) this.arm(task, options);
    this.queued.add(task);
    this.schedule(task, 0);
    return [task, result];
  }

  private schedule(task: Task, priority: number): void {
    this.queue
      .add(() => this.dispatch(task), { priority, signal: task.abort?.signal })
      .catch(noop);
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
    task.state = 'sent';
    task.worker = slot;
    slot.inflight.push(task);
    if (!slot.defined.has(task.fn.key)) {
      slot.defined.add(task.fn.key);
      this.writer!.write(slot.id, task.fn.definition);
    }
    this.writer!.write(slot.id, task.payload);
  }

  private pickWorker(): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const slot of this.workers.values()) {
      if (slot.state !== 'ready') continue;
      if (!best || slot.inflight.length < best.inflight.length) best = slot;
    }
    return best && best.inflight.length < this.depth ? best : undefined;
  }

  private readyWorkers(): number {
    let n = 0;
    for (const slot of this.workers.values()) if (slot.state === 'ready') n++;
    return n;
  }

  private inflightCount(): number {
    let n = 0;
    for (const slot of this.workers.values()) n += slot.inflight.length;
    return n;
  }

  /** Keep p-queue's concurrency equal to the free slots workers can take. */
  private updateCapacity(): void {
    const ready = this.readyWorkers();
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

  private spawnWorker(): void {
    const slot = this.addWorkerSlot();
    if (this.writer) this.writer.write(0, encode([ToSupervisor.Spawn, slot.id]));
  }

  /** Kills a worker; it gets no more tasks. Its exit report requeues the tasks that were waiting behind. */
  private killWorker(slot: WorkerSlot, signal = 'SIGKILL'): void {
    if (slot.state === 'dead') return;
    slot.state = 'stopping';
    if (this.writer) this.writer.write(0, encode([ToSupervisor.Kill, slot.id, signal]));
    this.updateCapacity();
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
    if (options.timeout !== undefined) {
      task.timer = setTimeout(() => cancel(new TaskTimeoutError(options.timeout!, { unit: this.transient?.name })), options.timeout);
    }
    if (options.signal) {
      if (options.signal.aborted) queueMicrotask(() => cancel(options.signal!.reason));
      else options.signal.addEventListener('abort', () => cancel(options.signal!.reason), { once: true });
    }
  }

  private succeed(task: Task, value: unknown): void {
    if (task.state === 'settled') return;
    this.settle(task);
    task.resolve(value);
  }

  private fail(task: Task, err: unknown): void {
    if (task.state === 'settled') return;
    this.settle(task);
    task.reject(err);
  }

  private settle(task: Task): void {
    task.release?.();
    task.state = 'settled';
    this.queued.delete(task);
    if (task.timer) clearTimeout(task.timer);
    task.markDone();
  }

  private breakPool(err: Error): void {
    if (this.broken) return;
    this.broken = err instanceof BrokenPoolError || err instanceof UnitPoolError ? err : new BrokenPoolError(err.message, { cause: err });
    for (const slot of this.workers.values()) for (const task of slot.inflight) this.fail(task, this.broken);
    for (const task of [...this.queued]) this.fail(task, this.broken);
    this.queue.clear();
    this.queue.pause();
  }

  // ── shutdown ─────────────────────────────────────────────────────────────────────────────────────────────

  private async finish(): Promise<void> {
    await this.started.catch(noop);
    // Wait for every task to settle (unless the pool broke, which settled them).
    while (!this.broken && (this.queued.size > 0 || this.inflightCount() > 0)) {
      const pending = [...this.queued, ...[...this.workers.values()].flatMap((s) => s.inflight)];
      await Promise.all(pending.map((t) => t.done));
    }
    this.queue.clear();
    this.control?.end();
    this.control?.destroy();
    try {
      await this.transient?.stop();
    } finally {
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

/** Gives a remote error the place where its task was submitted: remote stack first, then the local one. */
function withCallSite(remote: unknown, callSite: Error): unknown {
  if (remote instanceof Error) {
    const local = (callSite.stack ?? '').split('\n').slice(1).join('\n');
    remote.stack = `${remote.stack ?? `${remote.name}: ${remote.message}`}\n    --- in a unitpool worker; submitted from ---\n${local}`;
  }
  return remote;
}
