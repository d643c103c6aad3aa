// One worker process, as the pool sees it: its state and every transition of it, its tasks in flight, the
// functions it has defined, and the channel its frames go on.
//
//   starting ──(relayed: at once; direct: its Ready)──> takes tasks ──(forked/started: pid known)──> ready
//   ready/starting ──retire()──> retiring (told to exit after its tasks; takes no new ones)
//   any ──kill()──> killed (a signal was asked for: timeout, abort, protocol fault)
//   any ──exited()──> dead (its end was reported; its tasks leave it)
//
// Owns: those fields, and the decoding of what the worker sends (untrusted bytes: anything that does not fit is
// a fault of this worker). It may not touch other workers, the queue or a task's promise: what happens to a task
// (settled, requeued) is the worker set's and the pool's, told through WorkerEvents.

import type { Socket } from 'node:net';
import { SerializationError } from '../errors.js';
import { encode } from '../wire/codec.js';
import { type MalformedMessageError, parseFromWorker } from '../wire/message-parser.js';
import { FromWorker, type FromWorkerMessage, ToWorker } from '../wire/messages.js';
import type { WorkerChannel } from './channel/channel.js';
import type { FnEntry } from './functions.js';
import type { Task } from './task.js';

export type WorkerState = 'starting' | 'ready' | 'retiring' | 'killed' | 'dead';

/** What a worker tells the worker set (which owns the workers). */
export interface WorkerEvents {
  /** A reply for its running task; `tookMs`: how long the task took on the worker (queueing in it not counted). */
  onReply(worker: Worker, task: Task, ok: boolean, value: unknown, tookMs: number): void;
  /** The pool's initializer threw in it. */
  onInitError(worker: Worker, error: unknown): void;
  /** What it wrote to stdout, carried in its frames (isolation 'worker'); false when `from` had to be paused. */
  onOutput(fd: 1 | 2, bytes: Uint8Array, from: Socket | undefined): boolean;
  /** It broke the protocol: it is being killed. */
  onFault(worker: Worker, what: string): void;
  /** The caller's onProgress callback threw for `task`. */
  onListenerError(task: Task, err: unknown): void;
  /** It started or stopped taking tasks (the pool's capacity changed). */
  onCapacity(worker: Worker): void;
  /** It was killed: it takes no more tasks, and a fresh one should take its place. */
  onKilled(worker: Worker): void;
  /** It was told to exit after its tasks (a fresh one should take its place). */
  onRetired(worker: Worker): void;
  /** It is exiting on its own and runs nothing more: `tasks` were sent to it and must go elsewhere. */
  onLeaving(worker: Worker, tasks: Task[]): void;
  /** Asks the host to send `signal` to its process. */
  signal(worker: Worker, signal: string): void;
}

/** What every worker of a pool shares. */
export interface WorkerContext {
  readonly events: WorkerEvents;
  /** Tasks a worker runs before it retires (1 with `fresh`; unbounded when undefined). */
  readonly tasksPerWorker: number | undefined;
  readonly idleTimeout: number | undefined;
  /** The initializer, sent before any task. */
  readonly init: { entry: FnEntry; message: Buffer } | undefined;
  /** Functions a new worker defines before a task asks (fresh spares: the latest tasks' functions). */
  prelude(): readonly FnEntry[];
}

export class Worker {
  state: WorkerState = 'starting';
  pid: number | undefined;
  /** Tasks sent, in order: the first is the one running. */
  readonly inflight: Task[] = [];
  /** Function keys this worker has compiled or imported. */
  private readonly defined = new Set<number>();
  /** Tasks sent to it over its life (for tasksPerWorker). */
  private sent = 0;
  /** Tasks it finished. */
  done = 0;
  private lastReplyAt = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Its start was asked of the host. */
  spawned = false;
  /** Where its frames go, once it takes tasks. */
  private channel: WorkerChannel | undefined;
  /** Its direct connection, from when it is admitted until its Ready. */
  private link: WorkerChannel | undefined;
  /** Its exit, reported while its direct connection still had frames to deliver: handled when that closes. */
  private pendingExit: (() => void) | undefined;

  constructor(
    readonly id: number,
    private readonly ctx: WorkerContext,
  ) {}

  /** It can be sent a task: it has a channel, and it is neither retiring nor killed nor dead. */
  get takesTasks(): boolean {
    return (this.state === 'starting' || this.state === 'ready') && this.channel !== undefined;
  }

  get channelKind(): 'direct' | 'relay' | 'pending' {
    return this.link?.kind ?? this.channel?.kind ?? 'pending';
  }

  /** It is relayed: it takes tasks at once (they queue behind its Spawn request in the supervisor). */
  useRelay(channel: WorkerChannel): void {
    this.spawned = true;
    this.channel = channel;
    this.prepare();
  }

  /** Its direct connection arrived; it takes tasks after its Ready. False: it has one, or cannot use it. */
  offerLink(link: WorkerChannel): boolean {
    if (this.state === 'dead' || this.link || this.channel) return false;
    this.link = link;
    return true;
  }

  /** Its process runs (`pid`); `relay`: its direct link could not be opened from inside the unit. */
  started(pid: number, relay?: WorkerChannel): void {
    // Killed before it was forked (its Spawn was on its way): kill it now.
    if (this.state === 'killed' && this.pid === undefined) this.ctx.events.signal(this, 'SIGKILL');
    // It may be retiring already: it can take tasks before this report (its direct link's Ready came first, or,
    // relayed, they queued behind its Spawn), and tasksPerWorker counts them.
    if ((this.state !== 'starting' && this.state !== 'retiring') || this.pid !== undefined) return;
    this.pid = pid;
    if (relay && !this.channel) this.useRelay(relay);
    if (this.state === 'starting') this.state = 'ready';
    this.ctx.events.onCapacity(this);
  }

  /** Sends `task` (it is in flight here until its reply, or until this worker leaves). Throws if it cannot be sent. */
  take(task: Task): void {
    task.state = 'sent';
    task.worker = this;
    task.sentAt = performance.now();
    this.inflight.push(task);
    this.sent++;
    clearTimeout(this.idleTimer);
    try {
      this.define(task.fn);
      this.channel!.send(task.payload);
    } catch (err) {
      // Only a frame the wire cannot carry (over 4 GiB) gets here: this task fails, nothing else is affected.
      this.inflight.pop();
      throw new SerializationError('args', `the task is too large to send (${task.payload.length} bytes)`, {
        cause: err,
      });
    }
    if (this.ctx.tasksPerWorker !== undefined && this.sent >= this.ctx.tasksPerWorker) this.retire();
  }

  /** A frame from the worker (untrusted: parsed once, then typed). */
  receive(payload: Buffer): void {
    if (this.state === 'dead') return;
    let msg: FromWorkerMessage;
    try {
      msg = parseFromWorker(payload);
    } catch (err) {
      return this.ctx.events.onFault(
        this,
        (err as MalformedMessageError).problem ?? 'a frame that is not a valid message',
      );
    }
    switch (msg[0]) {
      case FromWorker.Ready:
        // A direct link takes tasks from now on (relayed workers took them from the start).
        if (this.link && !this.channel) {
          this.channel = this.link;
          this.prepare();
          this.ctx.events.onCapacity(this);
        }
        return;
      case FromWorker.Output:
        this.ctx.events.onOutput(1, msg[1], this.link?.source);
        return;
      case FromWorker.InitError:
        return this.ctx.events.onInitError(this, msg[1]);
      case FromWorker.Result:
      case FromWorker.Error:
        return this.onReply(msg[1], msg[0] === FromWorker.Result, msg[2]);
      case FromWorker.Progress:
      case FromWorker.Item:
        return this.onReport(msg[1], msg[0] === FromWorker.Progress ? 'progress' : 'item', msg[2]);
      case FromWorker.Exiting:
        // Its running task's error first (0: it was between tasks), then nothing more runs there.
        if (msg[1] !== 0) this.onReply(msg[1], false, msg[2]);
        return this.leaving();
    }
  }

  /** Sends a message about the task it is running (a stream's Credit or Cancel). */
  tell(task: Task, payload: Buffer): void {
    if (this.inflight.includes(task) && this.state !== 'dead') this.channel?.send(payload);
  }

  /** progress(value) or a stream's Item, from the running task: for its listener, before its result. */
  private onReport(taskId: number, kind: 'progress' | 'item', value: unknown): void {
    const task = this.inflight[0];
    if (!task || task.id !== taskId)
      return this.ctx.events.onFault(this, `a ${kind} report for task ${taskId}, which is not the task it is running`);
    if (task.state === 'settled') return;
    const listen: ((value: unknown) => unknown) | undefined =
      kind === 'progress' ? task.listener?.progress : task.listener?.item;
    if (!listen)
      return kind === 'item'
        ? this.ctx.events.onFault(this, 'a stream item for a task that is not a stream')
        : undefined;
    try {
      if (listen(value) === false)
        return this.ctx.events.onFault(this, 'more stream items than it was granted credits for');
    } catch (err) {
      // The caller's own callback threw: that task fails with it (the worker did nothing wrong).
      this.ctx.events.onListenerError(task, err);
    }
  }

  private onReply(taskId: number, ok: boolean, value: unknown): void {
    const task = this.inflight[0];
    if (!task || task.id !== taskId)
      return this.ctx.events.onFault(this, `a reply for task ${taskId}, which is not the task it is running`);
    this.inflight.shift();
    this.done++;
    const now = performance.now();
    const took = now - Math.max(task.sentAt, this.lastReplyAt);
    this.lastReplyAt = now;
    this.armIdleTimer();
    this.ctx.events.onReply(this, task, ok, value, took);
  }

  /**
   * It said it is exiting (a task of it crashed) and will run nothing more: it takes no new tasks, and the ones sent
   * to it go back to the queue now (not when its exit is reported: they did not run, and need not wait).
   */
  private leaving(): void {
    if (this.state !== 'ready' && this.state !== 'starting' && this.state !== 'retiring') return;
    this.state = 'retiring';
    const tasks = this.inflight.splice(0);
    this.ctx.events.onLeaving(this, tasks);
  }

  /** Asks it to exit once its tasks are done (it takes no new ones). */
  retire(): void {
    // A starting worker too: it may take tasks before its start is reported; Exit queues behind them.
    if (this.state !== 'ready' && this.state !== 'starting') return;
    if (!this.channel) return this.kill('SIGTERM');
    this.state = 'retiring';
    this.channel.send(encode([ToWorker.Exit]));
    this.ctx.events.onRetired(this);
  }

  /** Kills it: it gets no more tasks; its exit report settles or requeues its tasks. */
  kill(signal = 'SIGKILL'): void {
    if (this.state === 'dead') return;
    this.state = 'killed';
    this.ctx.events.signal(this, signal);
    this.ctx.events.onKilled(this);
  }

  /** Its direct connection closed. */
  linkClosed(): void {
    if (this.pendingExit) return this.pendingExit();
    if (this.state === 'dead') return;
    // Closed while it lives: it is exiting (the kernel closes its files after its exit status is set), or it closed
    // its channel and can do nothing useful any more. Make sure it ends; its exit report settles its tasks.
    if (this.state !== 'retiring' && this.state !== 'killed') this.ctx.events.signal(this, 'SIGKILL');
  }

  /**
   * Its end was reported. With its direct connection still open, its last frames may be on their way: `then` runs
   * once they are in (the connection closes when the worker is gone, unless something it started holds it: then
   * after a second). Otherwise it is dead now and its tasks leave it: `then` gets whether its end was asked for
   * (retire, kill), the task it was running and the ones queued behind.
   */
  exited(then: (expected: boolean, running: Task | undefined, behind: Task[]) => void): void {
    if (this.state === 'dead') return;
    const link = this.link;
    if (link && !link.closed) {
      this.pendingExit = () => {
        this.pendingExit = undefined;
        this.exited(then);
      };
      setTimeout(() => link.close(), 1000).unref();
      return;
    }
    const expected = this.state === 'retiring' || this.state === 'killed';
    const [running, ...behind] = this.drop();
    then(expected, running, behind);
  }

  /** Gone with its supervisor: dead at once, its connection closed; returns its tasks, the running one first. */
  abandon(): Task[] {
    this.link?.close();
    return this.drop();
  }

  /** Stops its idle timer (the pool is finishing). */
  stopTimers(): void {
    clearTimeout(this.idleTimer);
  }

  /** Closes its direct connection, if it still has one (after its unit was stopped). */
  closeLink(): void {
    this.link?.close();
  }

  private drop(): Task[] {
    this.state = 'dead';
    clearTimeout(this.idleTimer);
    return this.inflight.splice(0);
  }

  /** About to take tasks: the functions spares define in advance, then the initializer. */
  private prepare(): void {
    for (const entry of this.ctx.prelude()) this.define(entry);
    const init = this.ctx.init;
    if (!init) return;
    this.define(init.entry);
    this.channel!.send(init.message);
  }

  private define(entry: FnEntry): void {
    if (this.defined.has(entry.key)) return;
    this.defined.add(entry.key);
    this.channel!.send(entry.definition);
  }

  private armIdleTimer(): void {
    const ms = this.ctx.idleTimeout;
    if (ms === undefined || this.inflight.length > 0 || this.state !== 'ready') return;
    this.idleTimer = setTimeout(() => {
      if (this.inflight.length === 0 && this.state === 'ready') this.retire();
    }, ms);
    this.idleTimer.unref();
  }
}
