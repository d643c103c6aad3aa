// The messages of the unitpool protocol, per direction. Every message is a msgpack array whose first element is its
// op code, carried in one frame (see frame.ts). Channel 0 is the supervisor's control channel; channel k >= 1 is
// worker k, relayed by the supervisor without decoding, or carried on worker k's own direct connection (direct.ts).
//
// This module owns the op codes and the shape of every message, as tuple types (what travels is the array itself,
// so a message is built and read without conversion): `switch (msg[0])` narrows a direction's union to one message,
// whose elements are then typed. The two directions the pool must not trust (from a worker, from the supervisor)
// are checked by the parsers in message-parser.ts; the two directions from the pool are trusted by their receivers,
// which only give the decoded array its type (decodeToWorker, decodeToSupervisor).

import { decode } from './codec.js';

/** Pool -> worker. */
export const ToWorker = {
  /** [op, fnKey, 'source', sourceText] or [op, fnKey, 'module', moduleUrl, exportName]: compile or import once. */
  Define: 1,
  /** [op, taskId, fnKey, args]: call fn(...args). */
  Call: 2,
  /** [op, taskId, fnKey, items, spread?]: call fn(item) (or fn(...item) with spread 1) for each item; one result array. */
  CallChunk: 3,
  /** [op, fnKey, args]: run the initializer before any task. */
  Init: 4,
  /** [op]: finish the current task, then exit(0). */
  Exit: 5,
  /** [op, taskId, fnKey, args, window]: iterate fn(...args), sending each value as an Item; `window` Items before a Credit. */
  CallStream: 6,
  /** [op, taskId, n]: the stream task may send n more Items. */
  Credit: 7,
  /** [op, taskId]: the consumer left the stream: return() the iterator (its finally runs), then reply. */
  Cancel: 8,
} as const;

export type DefineMessage =
  | [op: typeof ToWorker.Define, fnKey: number, kind: 'source', source: string]
  | [op: typeof ToWorker.Define, fnKey: number, kind: 'module', url: string, exportName: string];
export type CallMessage = [op: typeof ToWorker.Call, taskId: number, fnKey: number, args: unknown[]];
/** spread 1: each item is a tuple of arguments (map over several iterables, zipped). */
export type CallChunkMessage = [
  op: typeof ToWorker.CallChunk,
  taskId: number,
  fnKey: number,
  items: unknown[],
  spread?: 1,
];
export type InitMessage = [op: typeof ToWorker.Init, fnKey: number, args: unknown[]];
export type ExitMessage = [op: typeof ToWorker.Exit];
export type CallStreamMessage = [
  op: typeof ToWorker.CallStream,
  taskId: number,
  fnKey: number,
  args: unknown[],
  window: number,
];
export type CreditMessage = [op: typeof ToWorker.Credit, taskId: number, n: number];
export type CancelMessage = [op: typeof ToWorker.Cancel, taskId: number];
export type ToWorkerMessage =
  | DefineMessage
  | CallMessage
  | CallChunkMessage
  | InitMessage
  | ExitMessage
  | CallStreamMessage
  | CreditMessage
  | CancelMessage;

/** Worker -> pool. */
export const FromWorker = {
  /** [op, taskId, value] */
  Result: 1,
  /** [op, taskId, error] */
  Error: 2,
  /** [op, error]: the initializer threw. */
  InitError: 3,
  /** [op]: the worker is up and reading its channel (a direct channel takes tasks only after this). */
  Ready: 4,
  /** [op, bytes]: what it wrote to process.stdout, when it has no stdout of its own (isolation: 'worker'). */
  Output: 5,
  /** [op, taskId, value]: progress(value) from inside the running task. */
  Progress: 6,
  /** [op, taskId, value]: a value the running stream task yielded. */
  Item: 7,
  /**
   * [op, taskId, error]: an uncaught exception or unhandled rejection: task taskId (0: none was running) fails with
   * error, and the worker exits and runs nothing more (the tasks still sent to it go elsewhere).
   */
  Exiting: 8,
} as const;

export type ResultMessage = [op: typeof FromWorker.Result, taskId: number, value: unknown];
export type ErrorMessage = [op: typeof FromWorker.Error, taskId: number, error: unknown];
export type InitErrorMessage = [op: typeof FromWorker.InitError, error: unknown];
export type ReadyMessage = [op: typeof FromWorker.Ready];
export type WorkerOutputMessage = [op: typeof FromWorker.Output, bytes: Uint8Array];
export type ProgressMessage = [op: typeof FromWorker.Progress, taskId: number, value: unknown];
export type ItemMessage = [op: typeof FromWorker.Item, taskId: number, value: unknown];
export type ExitingMessage = [op: typeof FromWorker.Exiting, taskId: number, error: unknown];
export type FromWorkerMessage =
  | ResultMessage
  | ErrorMessage
  | InitErrorMessage
  | ReadyMessage
  | WorkerOutputMessage
  | ProgressMessage
  | ItemMessage
  | ExitingMessage;

/** Pool -> supervisor (channel 0). */
export const ToSupervisor = {
  /** [op, workerId, key?]: fork a worker; with a key, on a direct link it opens with that key (see direct.ts). */
  Spawn: 1,
  /** [op, workerId, signalName]: signal a worker. */
  Kill: 2,
} as const;

export type SpawnMessage = [op: typeof ToSupervisor.Spawn, workerId: number, linkKey?: Uint8Array];
export type KillMessage = [op: typeof ToSupervisor.Kill, workerId: number, signal: NodeJS.Signals];
export type ToSupervisorMessage = SpawnMessage | KillMessage;

/** Supervisor -> pool (channel 0). */
export const FromSupervisor = {
  /** [op, supervisorPid]: the supervisor is up. */
  Hello: 1,
  /** [op, workerId, pid, relayed]: relayed is 1 when a direct link was asked for and could not be opened. */
  Spawned: 2,
  /** [op, workerId, exitCode | null, signalName | null] — sent after every frame of that worker was relayed. */
  Exited: 3,
  /** [op, workerId, fd (1|2), bytes]: complete lines of a worker's console output. */
  Output: 4,
  /** [op, workerId, message]: the worker could not be started at all. */
  SpawnFailed: 5,
  /** [op, workerId, message]: the worker broke the framing (oversized or cut frame); it is being killed. */
  WorkerFault: 6,
} as const;

export type HelloMessage = [op: typeof FromSupervisor.Hello, pid: number];
export type SpawnedMessage = [op: typeof FromSupervisor.Spawned, workerId: number, pid: number, relayed: 0 | 1];
export type ExitedMessage = [
  op: typeof FromSupervisor.Exited,
  workerId: number,
  exitCode: number | null,
  signal: string | null,
];
export type SupervisorOutputMessage = [
  op: typeof FromSupervisor.Output,
  workerId: number,
  fd: 1 | 2,
  bytes: Uint8Array,
];
export type SpawnFailedMessage = [op: typeof FromSupervisor.SpawnFailed, workerId: number, message: string];
export type WorkerFaultMessage = [op: typeof FromSupervisor.WorkerFault, workerId: number, message: string];
export type FromSupervisorMessage =
  HelloMessage | SpawnedMessage | ExitedMessage | SupervisorOutputMessage | SpawnFailedMessage | WorkerFaultMessage;

/** A message from the pool, for a worker: the pool is trusted, so the decoded array is only given its type. */
export function decodeToWorker(payload: Buffer): ToWorkerMessage {
  return decode(payload) as ToWorkerMessage;
}

/** A control message from the pool, for the supervisor: trusted, like decodeToWorker. */
export function decodeToSupervisor(payload: Buffer): ToSupervisorMessage {
  return decode(payload) as ToSupervisorMessage;
}

/** The configuration the supervisor receives on its command line (JSON). */
export interface SupervisorConfig {
  /** Relayed workers to fork at once (without a link; with one, the boot frame says which), ids firstWorkerId... */
  initialWorkers: number;
  firstWorkerId: number;
  /** Largest frame the supervisor accepts from a worker before killing it. */
  maxFrame: number;
  /** How much each worker raises its oom_score_adj over the supervisor's, so the OOM killer picks workers first. */
  workerOomScoreAdj: number;
  /** The fd of the channel to the pool: 0 (stdin, connected by systemd; the default) or 3 (isolation: 'none'). */
  channelFd?: number;
  /**
   * Where the pool's link socket is, as the unit sees it (see src/wire/direct.ts); with it, the pool's first frame
   * on the control channel is the boot frame. Absent: every worker is relayed.
   */
  linkPath?: string;
  /** Extra node flags for workers (e.g. --max-old-space-size). */
  workerExecArgv: string[];
}
