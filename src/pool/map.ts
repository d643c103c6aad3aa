// pool.map(): an AsyncIterableIterator over fn(item) for every item, in order (or, with `ordered: false`, chunk by
// chunk as they complete, like Python's as_completed and imap_unordered). Input is pulled lazily, in chunks, with a
// bounded number of chunks in flight; leaving the loop early cancels the chunks that have not started.
//
// A hand-written iterator rather than an async generator: a generator costs a promise chain per item (`yield*` of
// every result), which made map() slower than the IPC under it; here a result already received is handed out with
// one resolved promise.

import { describe, OptionError } from '../errors.js';

export interface ChunkHandle {
  /** Resolves with the chunk's results, in order. */
  readonly result: Promise<unknown>;
  /** Cancels the chunk if it has not started; a running chunk finishes (its results are dropped). */
  cancel(): void;
}

export interface MapProgress {
  done: number;
  total: number | undefined;
  /** Items per second since map() started. */
  rate: number;
}

export interface MapIteratorOptions<T> {
  chunksize: number;
  /** Chunks in flight at most (asked again before each chunk: it follows the pool's pipeline depth). */
  maxInFlight: () => number;
  submitChunk: (chunk: T[]) => ChunkHandle;
  onProgress?: ((p: MapProgress) => void) | undefined;
  /** false: chunks are handed out as they complete, not in input order. */
  ordered: boolean;
}

/** A chunk that completed (unordered mode): its result promise is settled. */
type Arrival = { handle: ChunkHandle };

export class MapIterator<T, R> implements AsyncIterableIterator<R> {
  private readonly syncInput: Iterator<T> | undefined;
  private readonly asyncInput: AsyncIterator<T> | undefined;
  private inputDone = false;
  private finished = false;
  private readonly window: ChunkHandle[] = [];
  private results: R[] = [];
  private next_ = 0;
  private done = 0;
  private readonly started = performance.now();
  private readonly total: number | undefined;
  private readonly chunksize: number;
  private readonly maxInFlight: () => number;
  private readonly submitChunk: (chunk: T[]) => ChunkHandle;
  private readonly onProgress: ((p: MapProgress) => void) | undefined;
  /** Unordered: chunks that completed and were not handed out yet, in completion order. */
  private readonly arrivals: Arrival[] | undefined;
  private wake: (() => void) | undefined;

  constructor(items: Iterable<T> | AsyncIterable<T>, options: MapIteratorOptions<T>) {
    ({
      chunksize: this.chunksize,
      maxInFlight: this.maxInFlight,
      submitChunk: this.submitChunk,
      onProgress: this.onProgress,
    } = options);
    if (!options.ordered) this.arrivals = [];
    if (typeof (items as Iterable<T>)[Symbol.iterator] === 'function')
      this.syncInput = (items as Iterable<T>)[Symbol.iterator]();
    else if (typeof (items as AsyncIterable<T>)[Symbol.asyncIterator] === 'function')
      this.asyncInput = (items as AsyncIterable<T>)[Symbol.asyncIterator]();
    else throw new TypeError('map(fn, items): items must be iterable or async iterable');
    const o = items as { length?: unknown; size?: unknown };
    this.total = typeof o.length === 'number' ? o.length : typeof o.size === 'number' ? o.size : undefined;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<R>> {
    if (this.next_ < this.results.length) return Promise.resolve({ value: this.results[this.next_++]!, done: false });
    return this.advance();
  }

  /** Leaving the loop (break, return, throw in the body): cancel what has not started. */
  async return(value?: unknown): Promise<IteratorResult<R>> {
    this.close();
    await this.asyncInput?.return?.();
    this.syncInput?.return?.();
    return { value: value as R, done: true };
  }

  async throw(err?: unknown): Promise<IteratorResult<R>> {
    await this.return();
    throw err;
  }

  private close(): void {
    this.finished = true;
    this.results = [];
    this.next_ = 0;
    this.arrivals?.splice(0);
    for (const chunk of this.window.splice(0)) {
      chunk.cancel();
      chunk.result.catch(() => {});
    }
  }

  private async advance(): Promise<IteratorResult<R>> {
    try {
      for (;;) {
        if (this.finished) return { value: undefined, done: true };
        await this.fill();
        const next = this.arrivals ? await this.nextArrival() : this.window.shift();
        if (!next) {
          this.finished = true;
          return { value: undefined, done: true };
        }
        this.results = (await next.result) as R[];
        this.next_ = 0;
        this.done += this.results.length;
        this.onProgress?.({
          done: this.done,
          total: this.total,
          rate: this.done / Math.max((performance.now() - this.started) / 1000, 1e-3),
        });
        if (this.results.length > 0) return { value: this.results[this.next_++]!, done: false };
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Pulls input and submits chunks until maxInFlight chunks are in flight or the input ends. */
  private async fill(): Promise<void> {
    while (!this.inputDone && this.window.length < this.maxInFlight()) {
      const chunk: T[] = [];
      while (chunk.length < this.chunksize) {
        const r = this.syncInput ? this.syncInput.next() : await this.asyncInput!.next();
        if (r.done) {
          this.inputDone = true;
          break;
        }
        chunk.push(r.value);
      }
      if (this.finished) return;
      if (chunk.length > 0) {
        const handle = this.submitChunk(chunk);
        handle.result.catch(() => {});
        this.window.push(handle);
        if (this.arrivals) this.watch(handle, this.arrivals);
      }
    }
  }

  /** Unordered: note the chunk when it completes, and wake the consumer if it waits. */
  private watch(handle: ChunkHandle, arrivals: Arrival[]): void {
    const arrive = (arrival: Arrival) => {
      arrivals.push(arrival);
      this.wake?.();
      this.wake = undefined;
    };
    handle.result.then(
      () => arrive({ handle }),
      () => arrive({ handle }),
    );
  }

  /** Unordered: the first chunk to complete (waiting for one if none has), out of the window; undefined when none is left. */
  private async nextArrival(): Promise<ChunkHandle | undefined> {
    const arrivals = this.arrivals!;
    if (arrivals.length === 0 && this.window.length === 0) return undefined;
    while (arrivals.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
    const { handle } = arrivals.shift()!;
    this.window.splice(this.window.indexOf(handle), 1);
    return handle;
  }
}

type AnyIterable = Iterable<unknown> | AsyncIterable<unknown>;

const isIterable = (v: unknown): v is AnyIterable =>
  v !== null &&
  v !== undefined &&
  (typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function' ||
    typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function');

/**
 * map()'s arguments after fn: one iterable or several (Python's map(fn, a, b): fn(a[i], b[i]), the shortest wins),
 * then the options, if any.
 */
export function mapArguments(rest: readonly unknown[]): { items: AnyIterable; spread: boolean; options: unknown } {
  const iterables = [...rest];
  const options = iterables.length > 1 && !isIterable(iterables[iterables.length - 1]) ? iterables.pop() : undefined;
  const bad = iterables.findIndex((v) => !isIterable(v));
  if (iterables.length === 0 || bad >= 0) {
    const value: unknown = iterables[bad];
    const message = `map(fn, items): items must be iterable or async iterable (an array, a Set, a generator...), got ${describe(value)}`;
    throw new OptionError('items', value, message, 'map(fn, items[, moreItems...][, options])', { message });
  }
  if (iterables.length === 1) return { items: iterables[0] as AnyIterable, spread: false, options };
  return { items: zip(iterables as AnyIterable[]), spread: true, options };
}

/** Tuples of the iterables' items, until the shortest ends (the others are closed then). */
function zip(iterables: readonly AnyIterable[]): AnyIterable {
  if (iterables.every((it) => typeof (it as Iterable<unknown>)[Symbol.iterator] === 'function')) {
    return (function* () {
      const its = iterables.map((it) => (it as Iterable<unknown>)[Symbol.iterator]());
      try {
        for (;;) {
          const tuple: unknown[] = [];
          for (const it of its) {
            const r = it.next();
            if (r.done) return;
            tuple.push(r.value);
          }
          yield tuple;
        }
      } finally {
        for (const it of its) it.return?.();
      }
    })();
  }
  return (async function* () {
    const its = iterables.map((it) =>
      typeof (it as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
        ? (it as AsyncIterable<unknown>)[Symbol.asyncIterator]()
        : (it as Iterable<unknown>)[Symbol.iterator](),
    );
    try {
      for (;;) {
        const tuple: unknown[] = [];
        for (const it of its) {
          const r = await it.next();
          if (r.done) return;
          tuple.push(r.value);
        }
        yield tuple;
      }
    } finally {
      for (const it of its) await it.return?.();
    }
  })();
}
