// unitpool's own MessagePack extension (type 0x55): the values MessagePack has no type for, or that msgpackr would
// not bring back as they were. An Error travels as [TAG_ERROR, name, message, stack, fields, errors, cause?], a Map
// as [TAG_MAP, k1, v1, k2, v2, ...] (a msgpack map always means a plain object), -0 as [TAG_NEGATIVE_ZERO].
//
// This module owns that format and the reading side: unbox() revives what arrives, and refuses a malformed value
// with an Error (the codec turns it into a ProtocolError). What gets boxed, and how an Error is taken apart to
// be sent, is decided by the check before packing (prepare.ts).

import { addExtension } from 'msgpackr';

/** The MessagePack extension type of unitpool's own values (errors, Maps, -0). */
export const EXT_TYPE = 0x55; // 'U'

export const TAG_ERROR = 0;
const TAG_NEGATIVE_ZERO = 1;
export const TAG_MAP = 2;

/** A value that msgpackr writes through the unitpool extension: `data` is packed as an array. */
export class Boxed {
  constructor(readonly data: unknown[]) {}
}
export const NEGATIVE_ZERO = new Boxed([TAG_NEGATIVE_ZERO]);

// Registration is global in msgpackr, but only touches values of the private class Boxed when packing and
// extension type EXT_TYPE when unpacking, so other users of msgpackr in the process are unaffected.
addExtension({
  Class: Boxed,
  type: EXT_TYPE,
  write: (box: Boxed) => box.data,
  read: (datum: unknown) => unbox(datum),
});

// ── reading ──────────────────────────────────────────────────────────────────────────────────────────

const BUILTIN_ERRORS = new Map<string, ErrorConstructor>([
  ['Error', Error],
  ['EvalError', EvalError],
  ['RangeError', RangeError],
  ['ReferenceError', ReferenceError],
  ['SyntaxError', SyntaxError],
  ['TypeError', TypeError],
  ['URIError', URIError],
]);

function malformed(what: string): Error {
  return new Error(`malformed unitpool extension value: ${what}`);
}

function unbox(datum: unknown): unknown {
  if (!Array.isArray(datum)) throw malformed('not an array');
  switch (datum[0]) {
    case TAG_NEGATIVE_ZERO:
      return -0;
    case TAG_ERROR:
      return reviveError(datum);
    case TAG_MAP: {
      if (datum.length % 2 !== 1) throw malformed('a map with an odd number of keys and values');
      const map = new Map<unknown, unknown>();
      for (let i = 1; i < datum.length; i += 2) map.set(datum[i], datum[i + 1]);
      return map;
    }
    default:
      throw malformed(`unknown tag ${String(datum[0])}`);
  }
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function setStackTraceLimit(limit: number): void {
  try {
    Error.stackTraceLimit = limit;
  } catch {
    /* frozen intrinsics: capture the stack anyway */
  }
}

function reviveError(data: unknown[]): Error {
  const [, name, message, stack, fields, errors] = data;
  if (
    (data.length !== 6 && data.length !== 7) ||
    typeof name !== 'string' ||
    typeof message !== 'string' ||
    (stack !== undefined && typeof stack !== 'string') ||
    (fields !== undefined && !isPlainRecord(fields)) ||
    (errors !== undefined && !Array.isArray(errors))
  ) {
    throw malformed('an error that is not [tag, name, message, stack?, fields?, errors?, cause?]');
  }
  const options = data.length === 7 ? { cause: data[6] } : undefined;
  const isAggregate = name === 'AggregateError';
  const Class = isAggregate ? AggregateError : (BUILTIN_ERRORS.get(name) ?? Error);
  // the stack comes from the sender: do not spend time capturing one here (when Error is not frozen)
  const limit = Error.stackTraceLimit;
  let error: Error;
  try {
    setStackTraceLimit(0);
    error = isAggregate
      ? new AggregateError(errors ?? [], message, options)
      : new (Class as ErrorConstructor)(message, options);
  } finally {
    setStackTraceLimit(limit);
  }
  const hidden = { writable: true, enumerable: false, configurable: true };
  if (name !== Class.prototype.name) Object.defineProperty(error, 'name', { ...hidden, value: name });
  Object.defineProperty(error, 'stack', { ...hidden, value: stack ?? (message ? `${name}: ${message}` : name) });
  if (errors !== undefined && !isAggregate) Object.defineProperty(error, 'errors', { ...hidden, value: errors });
  if (fields !== undefined) {
    for (const key of Object.keys(fields)) {
      Object.defineProperty(error, key, { value: fields[key], writable: true, enumerable: true, configurable: true });
    }
  }
  return error;
}
