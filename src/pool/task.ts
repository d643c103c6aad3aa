// A task's life in the pool: queued (in p-queue) -> sent (on a worker) -> settled. A task on a worker that dies
// before running it goes back to queued; the one that was running settles with the worker's death.

import type { FrameWriter } from '../wire/frame-writer.js';
import type { FnEntry } from './functions.js';
import type { DirectLink } from './link.js';

export type TaskState = 'queued' | 'sent' | 'settled';

export interface Task {
  readonly id: number;
  readonly fn: FnEntry;
  /** The encoded Call / CallChunk message. */
  readonly payload: Buffer;
  state: TaskState;
  worker: WorkerSlot | undefined;
  /** Where submit() was called, for remote errors' stacks (a few frames: capturing is on the hot path). */
  /** Where it was submitted (only with the pool's `callSites` option: capturing a stack costs more than a task). */
  readonly callSite: Error | undefined;
  /** performance.now() when it was written to its worker. */
  sentAt: number;
  abort: AbortController | undefined;
  /** Undoes what arm() set up for a timeout or an AbortSignal (timer, listener), once the task is settled. */
  disarm: (() => void) | undefined;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** Frees the p-queue slot this task holds while it is on a worker (settled, or back in the queue). */
  release: (() => void) | undefined;
}

/** The pool's view of one worker process. */
export interface WorkerSlot {
  readonly id: number;
  pid: number | undefined;
  /**
   * starting: forked, not reported yet; ready: takes tasks; retiring: told to exit after its tasks (maxTasksPerWorker,
   * idleTimeout, shutdown); killed: a kill was sent (timeout, abort, protocol fault); dead: its exit was reported.
   */
  state: 'starting' | 'ready' | 'retiring' | 'killed' | 'dead';
  /** Tasks sent, in order: the first is the one running. */
  readonly inflight: Task[];
  /** Function keys this worker has compiled or imported. */
  readonly defined: Set<number>;
  /** Tasks sent to it over its life (for maxTasksPerWorker). */
  sent: number;
  /** Tasks it finished. */
  done: number;
  /** performance.now() of its last reply. */
  lastReplyAt: number;
  idleTimer: NodeJS.Timeout | undefined;
  /** Its fork was asked for (over the control socket, or by connecting directly). */
  spawned: boolean;
  /** Where its frames go: the shared control socket (relayed), or its direct link once it is Ready. */
  out: FrameWriter | undefined;
  /** Its direct connection, if it has one. */
  link: DirectLink | undefined;
  /** Its exit, reported while its direct link still had frames to deliver: handled when the link closes. */
  pendingExit: (() => void) | undefined;
}

export function newTask(id: number, fn: FnEntry, payload: Buffer, withCallSite: boolean): [Task, Promise<unknown>] {
  let resolve!: (v: unknown) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<unknown>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const task: Task = {
    id,
    fn,
    payload,
    state: 'queued',
    worker: undefined,
    callSite: withCallSite ? callSite() : undefined,
    sentAt: 0,
    abort: undefined,
    disarm: undefined,
    resolve,
    reject,
    release: undefined,
  };
  return [task, result];
}

export function newWorkerSlot(id: number): WorkerSlot {
  return {
    id,
    pid: undefined,
    state: 'starting',
    inflight: [],
    defined: new Set(),
    sent: 0,
    done: 0,
    lastReplyAt: 0,
    idleTimer: undefined,
    spawned: false,
    out: undefined,
    link: undefined,
    pendingExit: undefined,
  };
}

/** The submitter's stack, 6 frames deep (the default 10, across async code, costs twice as much per task). */
function callSite(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 6;
  const site = new Error('submitted here');
  Error.stackTraceLimit = limit;
  return site;
}
