// Which task goes to which worker, and when: the only place that decides a task starts (the one capacity gate).
//
// A task is sent the moment some worker that takes tasks has fewer than `depth` tasks in flight: dispatch() runs
// whenever that can have become true (a task was added or put back, a task left a worker, a worker started or
// stopped taking tasks, `depth` grew), and sends waiting tasks to the least busy worker with room until none has
// room or nothing waits. Tasks put back after their worker died go first (TaskQueue's two rings).
//
// This gate used to be p-queue, one job per task. A job costs an `add()` (options spread, an id, two async
// functions) and four promises, and holding its slot a fifth: 3-4 µs per task (measured alone, 2026-12-04), about
// the whole gap between the pool's no-op throughput and the raw floor's. The decision p-queue made
// from its concurrency (kept equal to the workers' capacity) is the same one dispatch() makes from the workers
// directly, so there is one gate, with no promise per task.
//
// Owns: the queue of tasks not yet on a worker (and their count), `depth` (tasks in flight per worker, learnt from
// how long tasks take), and the callers waiting for room under maxQueue. It may not settle tasks (a send that fails
// is handed to `onSendError`) or start and stop workers.

import type { Task } from './task.js';
import { TaskQueue } from './task-queue.js';
import type { WorkerSet } from './worker-set.js';

export class Scheduler {
  private readonly queue = new TaskQueue();
  /** Tasks not yet on a worker: the queue's entries whose state is 'queued' (a cancelled one is 'settled' at once, and
   * is skipped when it comes up). */
  private waiting = 0;
  /** Tasks in flight per worker; see learn(). */
  private depth = 1;
  /** Moving average of how long a task takes on its worker, in ms. */
  private serviceMs = 1;
  private readonly spaceWaiters: (() => void)[] = [];
  /** No more dispatching (the pool broke). */
  private stopped = false;
  /** dispatch() is running (a send can report a capacity change, which asks for dispatch() again). */
  private dispatching = false;
  private again = false;

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
    return this.maxQueue !== undefined && this.waiting >= this.maxQueue;
  }

  /** Tasks not yet on a worker. */
  get queuedCount(): number {
    return this.waiting;
  }

  /** The tasks not yet on a worker, in the order they would go out (a copy: settling them while iterating is safe). */
  queuedTasks(): Task[] {
    const tasks: Task[] = [];
    for (const task of this.queue.values()) if (task.state === 'queued') tasks.push(task);
    return tasks;
  }

  add(task: Task): void {
    this.waiting++;
    this.queue.push(task);
    this.dispatch();
  }

  /** A task whose worker died before running it: back to the queue, ahead of new ones. */
  requeue(task: Task): void {
    task.state = 'queued';
    task.worker = undefined;
    this.waiting++;
    this.queue.pushUrgent(task);
    this.dispatch();
  }

  /** A task that was queued settled (cancelled, timed out, the pool closed): its place frees; its entry stays in the
   * queue, to be skipped. */
  dropped(): void {
    this.waiting--;
    this.wakeWaiters();
  }

  /**
   * Sends waiting tasks while some worker has room: each to the least busy worker with fewer than `depth` in flight.
   * Called whenever room can have appeared; cheap when nothing waits.
   */
  dispatch(): void {
    if (this.waiting === 0 || this.stopped) return;
    if (this.dispatching) {
      this.again = true;
      return;
    }
    this.dispatching = true;
    let sent = false;
    try {
      do {
        this.again = false;
        while (this.waiting > 0 && !this.stopped) {
          const worker = this.workers.pick(this.depth);
          if (!worker) break;
          const task = this.next();
          if (!task) break;
          this.waiting--;
          sent = true;
          try {
            worker.take(task);
          } catch (err) {
            this.onSendError(task, err);
          }
        }
      } while (this.again);
    } finally {
      this.dispatching = false;
    }
    if (sent) this.wakeWaiters();
  }

  /** The next task still waiting (cancelled ones are dropped on the way). */
  private next(): Task | undefined {
    for (let task = this.queue.shift(); task !== undefined; task = this.queue.shift())
      if (task.state === 'queued') return task;
    return undefined;
  }

  /**
   * Learns how long tasks take (from the worker's reply times, so queueing inside the worker is not counted) and
   * keeps about 1 ms of work queued per worker: enough to hide the round trip for tiny tasks, none for long ones.
   */
  learn(tookMs: number): void {
    this.serviceMs += (tookMs - this.serviceMs) * 0.2;
    const depth = Math.max(1, Math.min(64, Math.floor(1 / Math.max(this.serviceMs, 1e-3))));
    if (depth !== this.depth) {
      const grew = depth > this.depth;
      this.depth = depth;
      if (grew) this.dispatch();
    }
  }

  /** Workers started or stopped taking tasks: what waits may go now. */
  updateCapacity(): void {
    this.dispatch();
  }

  /** The pool broke: nothing more is dispatched. */
  stop(): void {
    this.stopped = true;
    this.clear();
    this.wakeWaiters();
  }

  /** Forgets the queue's entries (once the pool settled or failed every waiting task). */
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
