// A task as the pool sees it: queued (in the scheduler) -> sent (in one worker's in-flight list) -> settled.
// A task whose worker dies before running it goes back to queued; the one that was running settles with the
// worker's death. A Task is a record: the scheduler queues it, a Worker carries it, the pool settles it.

import { ResultTooLargeError, SerializationError } from '../errors.js';
import type { FnEntry } from './functions.js';
import type { Worker } from './worker.js';

export type TaskState = 'queued' | 'sent' | 'settled';

export interface Task {
  readonly id: number;
  readonly fn: FnEntry;
  /** The encoded Call / CallChunk message. */
  readonly payload: Buffer;
  state: TaskState;
  /** The worker it was sent to (while sent). */
  worker: Worker | undefined;
  /** Where it was submitted (only with the pool's `callSites` option: capturing a stack costs more than a task). */
  readonly callSite: Error | undefined;
  /** performance.now() when it was written to its worker. */
  sentAt: number;
  /** Undoes what the pool set up for a timeout or an AbortSignal (timer, listener), once the task is settled. */
  disarm: (() => void) | undefined;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** What the running task reports before its result: progress(value), and the values a stream task yields. */
  listener: TaskListener | undefined;
  /** Settles with the task (what submit() returns). */
  readonly result: Promise<unknown>;
}

export interface TaskListener {
  progress?: ((value: unknown) => void) | undefined;
  /** False: the value is beyond the stream's window (the worker ignored its credits). */
  item?: ((value: unknown) => boolean) | undefined;
}

export function newTask(id: number, fn: FnEntry, payload: Buffer, withCallSite: boolean): Task {
  let resolve!: (v: unknown) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<unknown>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    id,
    fn,
    payload,
    state: 'queued',
    worker: undefined,
    callSite: withCallSite ? callSite() : undefined,
    sentAt: 0,
    disarm: undefined,
    resolve,
    reject,
    listener: undefined,
    result,
  };
}

/** The submitter's stack: 10 frames, the 5 of unitpool's own calls (submit -> Calls -> TaskBook -> here) and 5 of the caller's. */
function callSite(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 10;
  const site = new Error('submitted here');
  Error.stackTraceLimit = limit;
  return site;
}

/** unitpool's own errors a worker raises for a task (its result cannot be sent, or is too large), by name and code. */
const OWN_ERRORS = new Map<string, { prototype: object; code: string }>([
  ['SerializationError', { prototype: SerializationError.prototype, code: 'ERR_UNITPOOL_SERIALIZE' }],
  ['ResultTooLargeError', { prototype: ResultTooLargeError.prototype, code: 'ERR_UNITPOOL_TOO_LARGE' }],
]);

/**
 * A task's error as it came from its worker: an error of unitpool's own gets its class back (the codec revives only
 * the built-in classes), and with callSites the stack says where the task was submitted. (A hostile task can dress
 * its error up as one of these: it is its own task's error either way.)
 */
export function remoteError(remote: unknown, site: Error | undefined): unknown {
  if (remote instanceof Error) {
    const own = OWN_ERRORS.get(remote.name);
    if (own && (remote as { code?: unknown }).code === own.code) Object.setPrototypeOf(remote, own.prototype);
  }
  return withCallSite(remote, site);
}

/** Gives a remote error the place where its task was submitted: remote stack first, then the local one. */
function withCallSite(remote: unknown, site: Error | undefined): unknown {
  if (remote instanceof Error && site) {
    const local = (site.stack ?? '').split('\n').slice(1).join('\n');
    remote.stack = `${remote.stack ?? `${remote.name}: ${remote.message}`}\n    --- in a unitpool worker; submitted from ---\n${local}`;
  }
  return remote;
}
