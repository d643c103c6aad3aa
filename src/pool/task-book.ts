// Every task the pool has accepted and not settled yet, and the settling itself: its result, its error, its
// timeout or abort. Compare CPython's `_pending_work_items`: whoever learns a task's fate (the worker set, the
// scheduler, a timer, the pool) settles it here, once; a second settling is a no-op.
//
// Owns: the count of unsettled tasks (shutdown waits for it to reach 0), the done/failed counters, the timers
// and abort listeners of tasks. It attaches the pool's unit name to the errors it rejects with (the one place).
// It may not move tasks between the queue and workers; it only tells the scheduler a task left the queue.

import { attachUnit, TaskTimeoutError } from '../errors.js';
import type { FnEntry } from './functions.js';
import type { TaskOptions } from './options.js';
import type { Scheduler } from './scheduler.js';
import { newTask, type Task } from './task.js';

export class TaskBook {
  private unsettled = 0;
  private onAllSettled: (() => void) | undefined;
  readonly counts = { done: 0, failed: 0 };

  constructor(
    private readonly scheduler: Scheduler,
    private readonly unitName: () => string | undefined,
    private readonly callSites: boolean,
  ) {}

  /** Tasks accepted and not settled yet. */
  get pending(): number {
    return this.unsettled;
  }

  /** A new task, counted until it settles; its timeout and AbortSignal are armed. */
  open(id: number, fn: FnEntry, payload: Buffer, options: TaskOptions): Task {
    const task = newTask(id, fn, payload, this.callSites);
    this.unsettled++;
    if (options.signal || options.timeout !== undefined) this.arm(task, options);
    return task;
  }

  succeed(task: Task, value: unknown): void {
    if (task.state === 'settled') return;
    this.settle(task);
    this.counts.done++;
    task.resolve(value);
  }

  fail(task: Task, err: unknown): void {
    if (task.state === 'settled') return;
    this.settle(task);
    this.counts.failed++;
    task.reject(this.withUnit(err));
  }

  /** Names the pool's unit on an error of ours (see attachUnit). */
  withUnit<E>(err: E): E {
    return attachUnit(err, this.unitName());
  }

  /** Resolves once every task accepted so far has settled. */
  allSettled(): Promise<void> {
    if (this.unsettled === 0) return Promise.resolve();
    return new Promise<void>((resolve) => (this.onAllSettled = resolve));
  }

  /** A timeout or an AbortSignal: a queued task is dropped; a running one's worker is killed (it cannot be interrupted). */
  private arm(task: Task, options: TaskOptions): void {
    const cancel = (err: unknown) => {
      if (task.state === 'settled') return;
      const worker = task.state === 'sent' ? task.worker : undefined;
      this.fail(task, err);
      if (worker && worker.inflight.includes(task)) worker.kill();
    };
    const ms = options.timeout;
    const timer = ms !== undefined ? setTimeout(() => cancel(new TaskTimeoutError(ms)), ms) : undefined;
    const signal = options.signal;
    const onAbort = () => cancel(signal!.reason);
    if (signal?.aborted) queueMicrotask(onAbort);
    else signal?.addEventListener('abort', onAbort, { once: true });
    task.disarm = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
  }

  private settle(task: Task): void {
    const wasQueued = task.state === 'queued';
    task.state = 'settled';
    if (wasQueued) this.scheduler.dropped();
    task.disarm?.();
    if (--this.unsettled === 0) {
      this.onAllSettled?.();
      this.onAllSettled = undefined;
    }
  }
}
