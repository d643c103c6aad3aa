// pool.stream(fn, args): the consumer's end of a task whose function is an async generator (or returns any async
// or sync iterable). The worker sends each value it yields as an Item frame; the task's result ends the stream.
//
// Backpressure across the process boundary is credit-based: the worker may send `window` items before it waits,
// and this end grants more as the consumer takes them (half a window at a time), so the worker is never more than
// `window` items ahead of the loop, whatever the consumer's speed. Leaving the loop early (break, return, throw)
// cancels the task: a queued one is dropped, a running one is told to stop, and its generator's `finally` runs in
// the worker before return() resolves. An error thrown by the generator comes out of next() after the items before
// it.
//
// Owns: the items received and not yet taken, the credits granted, and the end of the stream. It may not touch the
// queue or settle the task: streamOf() sends Credit and Cancel to the worker running the task (Worker.tell), and
// asks the pool to drop a task left before it ran.

import { encode } from '../wire/codec.js';
import { ToWorker } from '../wire/messages.js';
import type { Task } from './task.js';

/** The stream of a stream task: its Items come through the task's listener, credits and cancels go to its worker. */
export function streamOf<T>(
  task: Task,
  result: Promise<unknown>,
  window: number,
  drop: (task: Task) => void,
): TaskStream<T> {
  const stream = new TaskStream<T>({
    window,
    result,
    grant: (n) => task.worker?.tell(task, encode([ToWorker.Credit, task.id, n])),
    cancel: () => (task.state === 'queued' ? drop(task) : task.worker?.tell(task, encode([ToWorker.Cancel, task.id]))),
  });
  task.listener = { ...task.listener, item: (value) => stream.push(value as T) };
  return stream;
}

export interface StreamWiring {
  /** Items the worker may send before it waits for a grant. */
  window: number;
  /** Lets the worker send `n` more items. */
  grant(n: number): void;
  /** The consumer left: drop the task if queued, or ask the running generator to return. */
  cancel(): void;
  /** The task's promise: resolves when the generator is done (its return value is dropped), rejects with its error. */
  result: Promise<unknown>;
}

type Waiter = { resolve: (r: IteratorResult<unknown>) => void; reject: (err: unknown) => void };

export class TaskStream<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private head = 0;
  private waiter: Waiter | undefined;
  /** How the stream ended, once it has: done, or the error to throw after the items before it. */
  private end: { ok: true } | { ok: false; error: unknown } | undefined;
  /** Items taken by the consumer since the last grant. */
  private taken = 0;
  /** Items the worker may still send (the window, plus grants, minus what came): below 0 it ignores the credits. */
  private allowed: number;
  private left = false;

  constructor(private readonly wiring: StreamWiring) {
    this.allowed = wiring.window;
    wiring.result.then(
      () => this.finish({ ok: true }),
      (error: unknown) => this.finish({ ok: false, error }),
    );
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /**
   * A value the generator yielded (in order). False when it is beyond the credits granted: the worker ignores the
   * flow control (a hostile task writing frames itself), and must be cut off rather than buffered.
   */
  push(value: T): boolean {
    if (--this.allowed < 0) return false;
    if (this.left) return true;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      this.took();
      waiter.resolve({ value, done: false });
    } else this.items.push(value);
    return true;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head]!;
      this.items[this.head++] = undefined as T;
      if (this.head === this.items.length) {
        this.items.length = 0;
        this.head = 0;
      }
      this.took();
      return Promise.resolve({ value, done: false });
    }
    if (this.end || this.left) return this.ending();
    return new Promise((resolve, reject) => (this.waiter = { resolve: resolve as Waiter['resolve'], reject }));
  }

  /** The loop was left: stop the task; resolves once its generator has returned (its `finally` ran). */
  async return(value?: unknown): Promise<IteratorResult<T>> {
    if (!this.end && !this.left) {
      this.left = true;
      this.items.length = 0;
      this.wiring.cancel();
    }
    await this.wiring.result.catch(() => {});
    return { value: value as T, done: true };
  }

  async throw(err?: unknown): Promise<IteratorResult<T>> {
    await this.return();
    throw err;
  }

  private took(): void {
    if (++this.taken * 2 < this.wiring.window) return;
    this.allowed += this.taken;
    this.wiring.grant(this.taken);
    this.taken = 0;
  }

  private finish(end: NonNullable<TaskStream<T>['end']>): void {
    this.end = end;
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = undefined;
    this.ending().then(waiter.resolve, waiter.reject);
  }

  /** After the last item: done, or the generator's error (once; then done). */
  private ending(): Promise<IteratorResult<T>> {
    const end = this.end;
    if (end && !end.ok && !this.left) {
      this.end = { ok: true };
      return Promise.reject(end.error);
    }
    return Promise.resolve({ value: undefined as T, done: true });
  }
}
