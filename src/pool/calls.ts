// submit(), stream() and map() turned into tasks: options checked, arguments encoded now (a SerializationError at
// once, naming the path), the function registered (its key and source, once), each task counted by the TaskBook
// and queued in the scheduler. maxQueue is enforced here (reject, or wait for room).
//
// Owns: task ids. It may not start workers or settle tasks, except refusing what cannot be queued.

import { PoolClosedError, QueueFullError, SerializationError } from '../errors.js';
import { checkOptions } from '../options/check.js';
import { MAP_OPTIONS_SCHEMA, STREAM_OPTIONS_SCHEMA, SUBMIT_OPTIONS_SCHEMA } from '../options/pool.js';
import { encodeWithPath } from '../wire/codec.js';
import { ToWorker } from '../wire/messages.js';
import type { FnEntry, FunctionRegistry, TaskFunction } from './functions.js';
import { mapArguments, MapIterator } from './map.js';
import type { MapOptions, StreamOptions, SubmitOptions, TaskOptions } from './options.js';
import type { Scheduler } from './scheduler.js';
import { streamOf } from './stream.js';
import type { Task } from './task.js';
import type { TaskBook } from './task-book.js';
import type { WorkerSet } from './worker-set.js';

let taskIds = 0;

/** What the calls need of the pool. */
export interface CallContext {
  readonly scheduler: Scheduler;
  readonly tasks: TaskBook;
  readonly workers: WorkerSet;
  readonly maxWorkers: number;
  readonly maxQueue: number | undefined;
  readonly queueMode: 'reject' | 'wait' | undefined;
  /** With idleTimeout, a task may need a worker started. */
  readonly startsWorkersOnDemand: boolean;
  /** Throws if the pool takes no new tasks (closing, or broken). */
  checkOpen(what: string): void;
}

export class Calls {
  constructor(
    private readonly pool: CallContext,
    /** The pool's functions (its initializer is registered in it too). */
    private readonly registry: FunctionRegistry,
  ) {}

  /** `checked`: options were given (submit() without them skips the check: the hot path of tiny tasks). */
  submit(fn: TaskFunction, args: unknown[], options: SubmitOptions, checked: boolean): Promise<unknown> {
    try {
      if (checked) checkOptions('submit()', options, SUBMIT_OPTIONS_SCHEMA);
      this.pool.checkOpen('submit');
      const { entry, id, payload } = this.encode('submit', ToWorker.Call, fn, args);
      const { scheduler, tasks } = this.pool;
      if (scheduler.full) {
        if (this.pool.queueMode !== 'wait') throw tasks.withUnit(new QueueFullError(this.pool.maxQueue!));
        return scheduler.waitForSpace().then(() => {
          this.pool.checkOpen('submit');
          return this.enqueue(id, entry, payload, options).result;
        });
      }
      return this.enqueue(id, entry, payload, options).result;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  stream(fn: TaskFunction, args: unknown[], options: StreamOptions): AsyncIterableIterator<unknown> {
    checkOptions('stream()', options, STREAM_OPTIONS_SCHEMA);
    this.pool.checkOpen('stream');
    const window = options.window ?? 16;
    const { entry, id, payload } = this.encode('stream', ToWorker.CallStream, fn, args, window);
    const task = this.enqueue(id, entry, payload, options);
    const left = new PoolClosedError('stream() was left before its task ran');
    return streamOf(task, task.result, window, (t) => this.pool.tasks.fail(t, left));
  }

  map(fn: TaskFunction, rest: unknown[]): AsyncIterableIterator<unknown> {
    const { items, spread, options: given } = mapArguments(rest);
    checkOptions('map()', given, MAP_OPTIONS_SCHEMA);
    const options = (given ?? {}) as MapOptions;
    this.pool.checkOpen('map');
    const entry = this.registry.resolve(fn);
    const { scheduler, tasks, maxWorkers } = this.pool;
    // Enough chunks in flight to keep every worker's pipeline full, and never fewer than two per worker.
    const maxInFlight = () => Math.min(256, maxWorkers * Math.max(2, scheduler.tasksPerWorker));
    // Each chunk takes the timeout and signal; onProgress is map's own (items done), not the chunk's progress().
    const chunkOptions: TaskOptions = { timeout: options.timeout, signal: options.signal };
    const submitChunk = (chunk: unknown[]) => {
      this.pool.checkOpen('map');
      const id = ++taskIds;
      const message = [ToWorker.CallChunk, id, entry.key, chunk, ...(spread ? [1] : [])];
      const task = this.enqueue(id, entry, encodeWithPath(message, 'items', 3), chunkOptions);
      const left = () => new PoolClosedError('map() was left before this chunk ran');
      return { result: task.result, cancel: () => task.state === 'queued' && tasks.fail(task, left()) };
    };
    return new MapIterator<unknown, unknown>(items, {
      chunksize: options.chunksize ?? 1,
      maxInFlight,
      submitChunk,
      onProgress: options.onProgress,
      ordered: options.ordered !== false,
    });
  }

  private encode(
    what: string,
    op: typeof ToWorker.Call | typeof ToWorker.CallStream,
    fn: TaskFunction,
    args: unknown,
    ...more: number[]
  ) {
    if (!Array.isArray(args))
      throw new SerializationError('args', `${what}(fn, args) takes an array of arguments, got ${typeof args}`);
    const entry = this.registry.resolve(fn);
    const id = ++taskIds;
    return { entry, id, payload: encodeWithPath([op, id, entry.key, args, ...more], 'args', 3) };
  }

  private enqueue(id: number, fn: FnEntry, payload: Buffer, options: TaskOptions & { onProgress?: unknown }): Task {
    const { tasks, workers, scheduler } = this.pool;
    const task = tasks.open(id, fn, payload, options);
    if (typeof options.onProgress === 'function')
      task.listener = { progress: options.onProgress as (value: unknown) => void };
    workers.noteFunction(fn);
    scheduler.add(task);
    if (this.pool.startsWorkersOnDemand) workers.ensure();
    return task;
  }
}
