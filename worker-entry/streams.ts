// A stream task (pool.stream()): the worker iterates what fn(...args) returns (an async generator, or any async or
// sync iterable) and sends each value as an Item. It may send `window` Items ahead; the pool grants more (Credit)
// as its consumer takes them, so a slow consumer slows the generator instead of filling memory. A Cancel (the
// consumer left its loop) makes the worker call the iterator's return(), so the generator's `finally` runs, and the
// task then ends as if the generator had finished.
//
// Owns: the credits and the cancel flag of each stream task, which Credit and Cancel frames reach at once (they are
// not queued behind tasks).

import { isThenable } from './functions.js';

interface Flow {
  credits: number;
  cancelled: boolean;
  wake: (() => void) | undefined;
}

export class Streams {
  private readonly flows = new Map<number, Flow>();
  /** Cancels that arrived before their task started. */
  private readonly cancelledEarly = new Set<number>();

  credit(taskId: number, n: number): void {
    const flow = this.flows.get(taskId);
    if (!flow) return;
    flow.credits += n;
    this.wakeUp(flow);
  }

  cancel(taskId: number): void {
    const flow = this.flows.get(taskId);
    if (!flow) return void this.cancelledEarly.add(taskId);
    flow.cancelled = true;
    this.wakeUp(flow);
  }

  /**
   * Iterates `produce()`'s iterable, sending each value with `send` (which throws what cannot be sent, and says
   * false when the channel is congested: then `drained` is awaited). Resolves when the stream is done (or was
   * cancelled); rejects with the generator's error, or the sending one, after its iterator was returned.
   */
  async run(
    taskId: number,
    window: number,
    produce: () => unknown,
    send: (value: unknown) => boolean,
    drained: () => Promise<void>,
  ): Promise<void> {
    if (this.cancelledEarly.delete(taskId)) return;
    const flow: Flow = { credits: window, cancelled: false, wake: undefined };
    this.flows.set(taskId, flow);
    let iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;
    try {
      let source = produce();
      if (isThenable(source)) source = await source;
      iterator = iteratorOf(source);
      for (;;) {
        while (flow.credits === 0 && !flow.cancelled) await new Promise<void>((resolve) => (flow.wake = resolve));
        if (flow.cancelled) break;
        const step = await iterator.next();
        if (step.done) return;
        flow.credits--;
        if (!send(step.value)) await drained();
      }
      await iterator.return?.();
    } catch (err) {
      try {
        await iterator?.return?.();
      } catch {
        /* the first error is the one to report */
      }
      throw err;
    } finally {
      this.flows.delete(taskId);
    }
  }

  private wakeUp(flow: Flow): void {
    const wake = flow.wake;
    flow.wake = undefined;
    wake?.();
  }
}

function iteratorOf(source: unknown): AsyncIterator<unknown> | Iterator<unknown> {
  const s = source as Partial<AsyncIterable<unknown> & Iterable<unknown>> | null;
  const asyncMake = s?.[Symbol.asyncIterator];
  if (typeof asyncMake === 'function') return asyncMake.call(s);
  const make = s?.[Symbol.iterator];
  if (typeof make === 'function') return make.call(s);
  throw new TypeError(
    `pool.stream(fn): fn must be an async generator function, or return an iterable; it returned ${s === null ? 'null' : typeof s}`,
  );
}
