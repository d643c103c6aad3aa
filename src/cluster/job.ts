// What a cluster job carries in Redis, both ways, and the checks on it. Everything read back from the queue is
// untrusted bytes: its size is checked before it is decoded, its shape after, and a bad job is a
// MalformedJobError for that job alone.
//
//   job.data         { u: 1, p: base64(codec([fn, call, values, timeout])) }
//     fn             ['m', relative module path, export name] | ['s', source text, name]
//     call           'call' (values = the arguments) | 'chunk' (values = the items of one map() chunk) |
//                    'zip' (values = the argument tuples of one chunk of map() over several iterables)
//     timeout        ms, or null
//   job.returnvalue  { u: 1, h: host, ok: true | false, p: base64(codec(result | error)) }
//
// BullMQ stores data and return values as JSON, hence base64 around the codec's bytes: the codec keeps what JSON
// would lose (Buffers, Dates, Maps, BigInt, Errors with cause and fields).

import { decode, encode, encodeWithPath } from '../wire/codec.js';
import { MalformedJobError, PayloadTooLargeError } from './errors.js';

/** Default limit on an encoded payload (arguments, items or a result), in bytes. */
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

export type JobFunction = readonly ['m', string, string] | readonly ['s', string, string];
/** 'zip': a chunk of map() over several iterables, each item the tuple of arguments. */
export type CallKind = 'call' | 'chunk' | 'zip';

export interface JobSpec {
  fn: JobFunction;
  call: CallKind;
  values: unknown[];
  timeout: number | null;
}

export interface JobData {
  u: 1;
  p: string;
}

export interface Outcome {
  u: 1;
  h: string;
  ok: boolean;
  p: string;
}

/** The longest base64 text that can decode to at most `limit` bytes. */
function base64Limit(limit: number): number {
  return 4 * Math.ceil(limit / 3);
}

/** The job's data; throws SerializationError (path from `args` or `items`) or PayloadTooLargeError. */
export function encodeJob(spec: JobSpec, maxPayload: number): JobData {
  const root = spec.call === 'call' ? 'args' : 'items';
  const bytes = encodeWithPath([spec.fn, spec.call, spec.values, spec.timeout], root, 2);
  if (bytes.length > maxPayload) throw new PayloadTooLargeError(root, bytes.length, maxPayload);
  return { u: 1, p: bytes.toString('base64') };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Bytes of a base64 field, its length checked against the limit before anything is decoded. */
function readPayload(jobId: string | undefined, field: unknown, maxPayload: number, what: string): Buffer {
  if (typeof field !== 'string') throw new MalformedJobError(jobId, `its ${what} has no payload string`);
  if (field.length > base64Limit(maxPayload)) {
    throw new PayloadTooLargeError(what, Math.floor((field.length * 3) / 4), maxPayload, {});
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(field) || field.length % 4 !== 0)
    throw new MalformedJobError(jobId, `its ${what} payload is not base64`);
  return Buffer.from(field, 'base64');
}

function decodeBytes(jobId: string | undefined, bytes: Buffer, what: string): unknown {
  try {
    return decode(bytes);
  } catch (err) {
    throw new MalformedJobError(jobId, `its ${what} payload cannot be decoded`, { cause: err });
  }
}

/** A job's data as the agent reads it; throws MalformedJobError or PayloadTooLargeError. */
export function decodeJob(jobId: string | undefined, data: unknown, maxPayload: number): JobSpec {
  if (!isRecord(data) || data.u !== 1)
    throw new MalformedJobError(jobId, 'it is not a unitpool job (no { u: 1, p } data)');
  const message = decodeBytes(jobId, readPayload(jobId, data.p, maxPayload, 'arguments'), 'arguments');
  if (!Array.isArray(message) || message.length !== 4)
    throw new MalformedJobError(jobId, 'its payload is not [fn, call, values, timeout]');
  const [fn, call, values, timeout] = message as unknown[];
  if (call !== 'call' && call !== 'chunk' && call !== 'zip')
    throw new MalformedJobError(jobId, `unknown call kind ${String(call)}`);
  if (!Array.isArray(values)) throw new MalformedJobError(jobId, 'its arguments are not an array');
  if (
    call === 'zip' &&
    !values.every((t) => Array.isArray(t) && t.length > 1 && t.length === (values[0] as unknown[]).length)
  ) {
    throw new MalformedJobError(jobId, 'its argument tuples are not arrays of one length');
  }
  if (timeout !== null && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)) {
    throw new MalformedJobError(jobId, `its timeout is not a positive number of ms`);
  }
  if (
    !Array.isArray(fn) ||
    fn.length !== 3 ||
    (fn[0] !== 'm' && fn[0] !== 's') ||
    typeof fn[1] !== 'string' ||
    typeof fn[2] !== 'string' ||
    fn[2].length > 256
  ) {
    throw new MalformedJobError(jobId, 'its function is not a module reference or a source text');
  }
  return { fn: fn as unknown as JobFunction, call, values, timeout };
}

/** The job's return value: a result or an error, encoded. An unsendable result becomes its SerializationError. */
export function encodeOutcome(host: string, ok: boolean, value: unknown, maxPayload: number): Outcome {
  let bytes: Buffer;
  try {
    bytes = encode(value, ok ? 'result' : 'error');
  } catch (err) {
    return encodeOutcome(host, false, err, maxPayload);
  }
  if (bytes.length > maxPayload) {
    const tooLarge = new PayloadTooLargeError(ok ? 'the result' : 'the error', bytes.length, maxPayload);
    return { u: 1, h: host, ok: false, p: encode(tooLarge).toString('base64') };
  }
  return { u: 1, h: host, ok, p: bytes.toString('base64') };
}

export interface DecodedOutcome {
  host: string;
  ok: boolean;
  value: unknown;
}

/** A return value as the client reads it; throws MalformedJobError or PayloadTooLargeError. */
export function decodeOutcome(jobId: string, returnvalue: unknown, maxPayload: number): DecodedOutcome {
  const outcome = typeof returnvalue === 'string' ? parseJson(jobId, returnvalue) : returnvalue;
  if (
    !isRecord(outcome) ||
    outcome.u !== 1 ||
    typeof outcome.ok !== 'boolean' ||
    typeof outcome.h !== 'string' ||
    outcome.h.length > 256
  ) {
    throw new MalformedJobError(jobId, 'its return value is not a unitpool outcome');
  }
  const value = decodeBytes(
    jobId,
    readPayload(jobId, outcome.p, maxPayload, outcome.ok ? 'result' : 'error'),
    'result',
  );
  return { host: outcome.h, ok: outcome.ok, value };
}

function parseJson(jobId: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new MalformedJobError(jobId, 'its return value is not JSON', { cause: err });
  }
}
