// unitpool/worker: what code running in a task can call, from inside its worker process.
//
//   import { progress } from 'unitpool/worker';          // a module-referenced function
//   const { progress } = await import('unitpool/worker'); // a function sent as source text
//
// The worker process (worker-entry/worker.ts) installs the hook these call; outside a worker they throw.

import { UsageError } from '../errors.js';

/** The worker's side of these calls, installed by worker-entry/worker.ts under this global symbol. */
export const WORKER_HOOK = Symbol.for('unitpool.worker');

export interface WorkerHook {
  progress(value: unknown): Promise<void>;
}

/**
 * Reports `value` (anything that can be sent: numbers, strings, plain objects, Buffers...) to the submitter's
 * `onProgress` callback, in order and before the task's result. The returned promise resolves at once unless the
 * channel to the pool is congested; then it waits for the pool to catch up: await it in a loop that reports a lot,
 * so that the task slows down rather than piling the reports up in memory.
 */
export function progress(value: unknown): Promise<void> {
  const hook = (globalThis as { [WORKER_HOOK]?: WorkerHook })[WORKER_HOOK];
  if (!hook)
    throw new UsageError(
      'progress() is for code that runs in a unitpool task (submit, map, stream): no task runs in this process',
    );
  return hook.progress(value);
}
