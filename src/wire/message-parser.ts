// The pool's checks on what the unit sends it: one validating parser per untrusted direction. A worker's frames
// (relayed, or on its direct link) go through parseFromWorker, the supervisor's control frames (channel 0) through
// parseFromSupervisor. Each decodes the payload (codec.ts) and checks that it is one of the direction's messages
// (messages.ts): an array, a known op code, exactly that message's number of elements, each of the right type. What
// it returns is the decoded array itself, typed: no copy, no conversion.
//
// Anything else throws a MalformedMessageError (a ProtocolError) that names the problem; the pool treats it as a
// fault of the sender. The parsers check shapes only: whether a task id is one the worker is running, or a worker
// id one the pool started, is for the pool to judge. Payload values (a result, an error) are not looked into.

import { ProtocolError, type UnitPoolErrorOptions } from '../errors.js';
import { decode } from './codec.js';
import { FromSupervisor, type FromSupervisorMessage, FromWorker, type FromWorkerMessage } from './messages.js';

/** A frame from a worker or the supervisor that is not one of the messages it may send. */
export class MalformedMessageError extends ProtocolError {
  /** Who sent it. */
  readonly from: 'worker' | 'supervisor';
  /** What is wrong, as the object of "sent ...": e.g. `a Result message whose taskId is "7", not a task id`. */
  readonly problem: string;

  constructor(from: 'worker' | 'supervisor', problem: string, options: UnitPoolErrorOptions = {}) {
    super(`malformed message from the ${from}: it sent ${problem}`, options);
    this.from = from;
    this.problem = problem;
  }
}

/** One element of a message after its op code. */
interface Field {
  name: string;
  /** What it must be, for the error: "a task id (an integer >= 0)". */
  what: string;
  test: (value: unknown) => boolean;
}

/** A message kind: its name (for errors) and its elements after the op code. */
interface Shape {
  name: string;
  fields: readonly Field[];
}

const isInteger = (v: unknown, min: number, max: number): boolean =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

const isTaskId = (v: unknown): boolean => isInteger(v, 0, Number.MAX_SAFE_INTEGER);
const taskId: Field = { name: 'taskId', what: 'a task id (an integer >= 0)', test: isTaskId };
const workerId: Field = {
  name: 'workerId',
  what: 'a worker id (an integer from 1 to 2^32-1)',
  test: (v) => isInteger(v, 1, 0xffffffff),
};
const pid: Field = { name: 'pid', what: 'a process id (an integer >= 1)', test: (v) => isInteger(v, 1, 0x7fffffff) };
const bytes: Field = { name: 'bytes', what: 'bytes (a msgpack bin)', test: (v) => v instanceof Uint8Array };
const text = (name: string): Field => ({ name, what: 'a string', test: (v) => typeof v === 'string' });
const anything = (name: string): Field => ({ name, what: 'any value', test: () => true });

const FROM_WORKER = new Map<number, Shape>([
  [FromWorker.Result, { name: 'Result', fields: [taskId, anything('value')] }],
  [FromWorker.Error, { name: 'Error', fields: [taskId, anything('error')] }],
  [FromWorker.InitError, { name: 'InitError', fields: [anything('error')] }],
  [FromWorker.Ready, { name: 'Ready', fields: [] }],
  [FromWorker.Output, { name: 'Output', fields: [bytes] }],
  [FromWorker.Progress, { name: 'Progress', fields: [taskId, anything('value')] }],
  [FromWorker.Item, { name: 'Item', fields: [taskId, anything('value')] }],
  [FromWorker.Exiting, { name: 'Exiting', fields: [taskId, anything('error')] }],
]);

const FROM_SUPERVISOR = new Map<number, Shape>([
  [FromSupervisor.Hello, { name: 'Hello', fields: [pid] }],
  [
    FromSupervisor.Spawned,
    { name: 'Spawned', fields: [workerId, pid, { name: 'relayed', what: '0 or 1', test: (v) => v === 0 || v === 1 }] },
  ],
  [
    FromSupervisor.Exited,
    {
      name: 'Exited',
      fields: [
        workerId,
        {
          name: 'exitCode',
          what: 'an exit code (an integer) or null',
          test: (v) => v === null || isInteger(v, -0x80000000, 0x7fffffff),
        },
        { name: 'signal', what: 'a signal name (a string) or null', test: (v) => v === null || typeof v === 'string' },
      ],
    },
  ],
  [
    FromSupervisor.Output,
    { name: 'Output', fields: [workerId, { name: 'fd', what: '1 or 2', test: (v) => v === 1 || v === 2 }, bytes] },
  ],
  [FromSupervisor.SpawnFailed, { name: 'SpawnFailed', fields: [workerId, text('message')] }],
  [FromSupervisor.WorkerFault, { name: 'WorkerFault', fields: [workerId, text('message')] }],
]);

/** Decodes and checks a frame from a worker. Throws MalformedMessageError. */
export function parseFromWorker(payload: Buffer): FromWorkerMessage {
  return parse(payload, 'worker', FROM_WORKER) as FromWorkerMessage;
}

/** Decodes and checks a control frame from the supervisor. Throws MalformedMessageError. */
export function parseFromSupervisor(payload: Buffer): FromSupervisorMessage {
  return parse(payload, 'supervisor', FROM_SUPERVISOR) as FromSupervisorMessage;
}

function parse(payload: Buffer, from: 'worker' | 'supervisor', shapes: ReadonlyMap<number, Shape>): unknown[] {
  let msg: unknown;
  try {
    msg = decode(payload);
  } catch (err) {
    throw new MalformedMessageError(
      from,
      `a frame of ${payload.length} bytes that is not msgpack (${(err as Error).message})`,
      { cause: err },
    );
  }
  if (!Array.isArray(msg)) throw new MalformedMessageError(from, `${describe(msg)} instead of a message (an array)`);
  // The message of nearly every frame, checked inline (the same checks as its Shape's, without a lookup or a call
  // per field); anything else, or a Result that fails them, goes the general way, which also names the problem.
  if (from === 'worker' && msg.length === 3 && msg[0] === FromWorker.Result && isTaskId(msg[1])) return msg;
  const shape = typeof msg[0] === 'number' ? shapes.get(msg[0]) : undefined;
  if (shape === undefined) throw new MalformedMessageError(from, `a message of an unknown type ${describe(msg[0])}`);
  const fields = shape.fields;
  if (msg.length !== fields.length + 1) {
    throw new MalformedMessageError(
      from,
      `a ${shape.name} message of ${msg.length} elements instead of ${fields.length + 1}`,
    );
  }
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    if (!field.test(msg[i + 1])) {
      throw new MalformedMessageError(
        from,
        `a ${shape.name} message whose ${field.name} is ${describe(msg[i + 1])}, not ${field.what}`,
      );
    }
  }
  return msg;
}

/** A short description of an untrusted value, for an error message (never its whole content). */
function describe(value: unknown): string {
  if (value === null || value === undefined || typeof value === 'boolean') return String(value);
  if (typeof value === 'number' || typeof value === 'bigint')
    return typeof value === 'bigint' ? `${value}n` : String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  const kind = Object.prototype.toString.call(value).slice(8, -1); // Object, Map, Date, Error... (runs no getter of it)
  return `${/^[AEIOU]/.test(kind) ? 'an' : 'a'} ${kind}`;
}
