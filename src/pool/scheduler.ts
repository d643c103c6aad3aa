// Which task goes to which worker, and when: the only place that decides a task starts.
//
// p-queue runs one job per task; its concurrency is kept equal to the worker set's capacity (`depth` tasks per
// worker that takes tasks, plus the tasks still on workers that take no more), and a job holds its slot for as
// long as its task is on a worker. So whenever p-queue starts a job, some worker has room: the job sends the task
// to the least busy one. Tasks put back after their worker died go first (TaskQueue's two rings).
//
// Owns: the queue, the set of tasks not yet on a worker, `depth` (tasks in flight per worker, learnt from how long
// tasks take), and the callers waiting for room under maxQueue. It may not settle tasks (a send that fails is
// handed to `onSendError`) or start and stop workers.

import PQueue from 'p-queue';
import type { Task } from './task.js';
import { TaskQueue } from './task-queue.js';
import type { WorkerSet } from './worker-set.js';

const RESOLVED = Promise.resolve();
const noop = () => {};
/** p-queue options (shared: one object less per task). */
const NORMAL = { priority: 0 } as const;
const URGENT = { priority: 1 } as const;

export class Scheduler {
  private readonly queue = new PQueue({ concurrency: 1, autoStart: false, queueClass: TaskQueue });
  /** Tasks not yet on a worker (cancelled ones leave it at once; their p-queue job then does nothing). */
  readonly queued = new Set<Task>();
  /** Tasks in flight per worker; see learn(). */
  private depth = 1;
  /** Moving average of how long a task takes on its worker, in ms. */
  private serviceMs = 1;
  private readonly spaceWaiters: (() => void)[] = [];
  /** No more dispatching (the pool broke). */
  private stopped = false;

  constructor(
    private readonly workers: WorkerSet,
    private readonly maxQueue: number | undefined,
    private readonly onSendError: (task: Task, err: unknown) => void,
  ) {}

  /** Tasks in flight per worker right now. */
  get tasksPerWorker(): number {
    return this.depth;
  }

  get full(): boolean {
    return this.maxQueue !== undefined && this.queued.size >= this.maxQueue;
  }

  add(task: Task): void {
    this.queued.add(task);
    this.queue.add(() => this.start(task), NORMAL).catch(noop);
  }

  /** A task whose worker died before running it: back to the queue, ahead of new ones. */
  requeue(task: Task): void {
    task.state = 'queued';
    task.worker = undefined;
    this.queued.add(task);
    this.queue.add(() => this.start(task), URGENT).catch(noop);
  }

  /** A task settled: if it was still queued, its place frees. */
  remove(task: Task): void {
    if (this.queued.delete(task)) this.wakeWaiters();
  }

  /** Called by p-queue when a slot is free: the task goes to the least busy worker with room. */
  private start(task: Task): Promise<void> {
    if (task.state !== 'queued') return RESOLVED;
    const worker = this.workers.pick(this.depth);
    if (!worker) {
      // Cannot happen while capacity() is kept true (see the top); if it ever does, the task waits for the next
      // capacity change rather than spinning through p-queue.
      this.queue.pause();
      this.queue.add(() => this.start(task), URGENT).catch(noop);
      return RESOLVED;
    }
    this.queued.delete(task);
    this.wakeWaiters();
    return new Promise<void>((hold) => {
      try {
        worker.take(task, hold);
      } catch (err) {
        this.onSendError(task, err);
      }
    });
  }

  /**
   * Learns how long tasks take (from the worker's reply times, so queueing inside the worker is not counted) and
   * keeps about 1 ms of work queued per worker: enough to hide the round trip for tiny tasks, none for long ones.
   */
  learn(tookMs: number): void {
    this.serviceMs += (tookMs - this.serviceMs) * 0.2;
    const depth = Math.max(1, Math.min(64, Math.floor(1 / Math.max(this.serviceMs, 1e-3))));
    if (depth !== this.depth) {
      this.depth = depth;
      this.updateCapacity();
    }
  }

  /** Keeps p-queue's concurrency equal to the worker set's capacity; paused while no worker takes tasks. */
  updateCapacity(): void {
    if (this.stopped || !this.workers.anyTakesTasks()) {
      this.queue.pause();
      return;
    }
    this.queue.concurrency = Math.max(1, this.workers.capacity(this.depth));
    if (this.queue.isPaused) this.queue.start();
  }

  /** The pool broke: nothing more is dispatched. */
  stop(): void {
    this.stopped = true;
    this.queue.clear();
    this.queue.pause();
    this.wakeWaiters();
  }

  clear(): void {
    this.queue.clear();
  }

  /** Waits for room under maxQueue (queueMode: 'wait'), or until the pool closes. */
  waitForSpace(): Promise<void> {
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  /** Wakes callers waiting for room; `all`: the pool closed, wake them all (they will be refused). */
  wakeWaiters(all = this.stopped): void {
    while (this.spaceWaiters.length > 0 && (all || !this.full)) this.spaceWaiters.shift()!();
  }
}
