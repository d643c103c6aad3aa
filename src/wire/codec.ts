// The codec for what travels in frames: task envelopes, arguments, results, errors. MessagePack (msgpackr)
// with its "more types" extensions, plus a small check-and-prepare pass that refuses what cannot be sent
// (with the path to it) and turns Errors, Maps and -0 into a private extension (type 0x55). A MessagePack
// map always decodes as a plain object. Messages with few objects are written as plain maps, messages with
// many (>= 16) as msgpackr records (keys once per shape); see Codec.
//
// What round-trips:
//   - everything MessagePack carries: null, booleans, numbers (NaN, ±Infinity, -0 too), strings (UTF-8:
//     an unpaired surrogate arrives as U+FFFD), arrays,
//     plain objects (also with a null prototype; they decode with Object.prototype); `undefined`, also
//     inside arrays and objects (holes of sparse arrays decode as undefined);
//   - BigInt of any size and sign (a bigint decodes as a bigint, a number as a number);
//   - Buffer (decodes as Buffer), every typed array, ArrayBuffer, DataView, Date (ms precision, also
//     invalid dates), RegExp (source and flags), Map (any keys), Set;
//   - Errors: name, message, stack, `cause` (any value, chains of errors included), own enumerable fields
//     (code, errno, syscall, ...), AggregateError's `errors`. Error, EvalError, RangeError, ReferenceError,
//     SyntaxError, TypeError, URIError and AggregateError come back as instances of that class; any other
//     name comes back as an Error whose `name` is set (so `err.name === 'MyError'`, not `instanceof`).
//     Inside an Error, a field that cannot be sent becomes a string "[not sendable: ...]" instead of
//     failing: the error of a failed task must always reach the caller.
//   - objects with a toJSON() method (class instances, or plain objects that have one) are sent as what
//     toJSON() returns, like JSON.stringify does (a URL becomes its href, a Date subclass an ISO string).
//
// What is refused, with a SerializationError naming the path (e.g. `args[1].handler`): functions,
// symbols, Promises, WeakMap/WeakSet/WeakRef, SharedArrayBuffer, boxed primitives, instances of classes
// (prototype other than Object.prototype/null, not one of the built-ins above) without toJSON(), circular
// references, and nesting deeper than MAX_DEPTH levels.
//
// Aliasing: decode() returns Buffers (MessagePack `bin`) as zero-copy slices of the bytes it was given.
// A payload from FrameDecoder is itself a slice of the socket's read chunk (or its own copy when the frame
// spanned chunks), so a decoded Buffer keeps that chunk alive and shares memory with it: safe, because
// nothing reuses the chunk, but do not decode bytes you overwrite afterwards (Codec({ copyBuffers: true })
// copies instead). Typed arrays, ArrayBuffers and DataViews are always copies (for alignment).
// encode() returns a slice of msgpackr's shared output slab; it is never overwritten, so it may be kept.
//
// Untrusted input: decode() only ever throws a ProtocolError (with the msgpackr error as `cause`). msgpackr
// 2.x checks declared lengths of strings, bins, extensions, arrays and maps against the bytes left before
// allocating, so a small input cannot make it allocate much; the structured-clone extensions (which could
// build cycles) are disabled; keys named __proto__ are renamed (to __proto_). Very deep nesting overflows
// the stack, which is caught like any other parse error.
//
// The check costs one walk over containers (arrays, objects, Maps, Sets); primitives, strings and typed
// arrays are not walked into, and nothing is copied unless something has to be replaced (an Error, a Map,
// a -0, a toJSON()), in which case only the containers on the path to it are shallow-copied: the caller's
// value is never modified.

import { addExtension, Packr, Unpackr } from 'msgpackr';
import { types } from 'node:util';
import { ProtocolError, SerializationError } from '../errors.js';

/** Containers nested deeper than this are refused (msgpackr's recursion overflows the stack near ~1400). */
export const MAX_DEPTH = 1000;

/** The MessagePack extension type of unitpool's own values (errors, Maps, -0). */
export const EXT_TYPE = 0x55; // 'U'

const TAG_ERROR = 0;
const TAG_NEGATIVE_ZERO = 1;
const TAG_MAP = 2;

/** A value that msgpackr writes through the unitpool extension: `data` is packed as an array. */
class Boxed {
  constructor(readonly data: unknown[]) {}
}
const NEGATIVE_ZERO = new Boxed([TAG_NEGATIVE_ZERO]);

// Registration is global in msgpackr, but only touches values of the private class Boxed when packing and
// extension type EXT_TYPE when unpacking, so other users of msgpackr in the process are unaffected.
addExtension({
  Class: Boxed,
  type: EXT_TYPE,
  write: (box: Boxed) => box.data,
  read: (datum: unknown) => unbox(datum),
});

// ── check and prepare ───────────────────────────────────────────────────────────────────────────────

/** What the last walk saw, to pick the encoding of the message (see Codec). */
let plainObjects = 0;
let hugeObject = false;

/** Why a value cannot be sent; collects the path while unwinding (innermost first). */
class Failure {
  readonly segments: string[] = [];
  readonly containers: object[] = [];
  constructor(
    /** For the SerializationError message. */
    readonly problem: string,
    /** For the placeholder of an error field: "a function", "an instance of Foo". */
    readonly short: string,
    /** 'depth': nesting limit reached (a cycle, or really deep); the path tells which. */
    readonly kind: 'value' | 'depth' = 'value',
    readonly cause?: unknown,
  ) {}
}

const ObjectProto = Object.prototype;
const ArrayProto = Array.prototype;
const MapProto = Map.prototype;
const SetProto = Set.prototype;
const DateProto = Date.prototype;
const RegExpProto = RegExp.prototype;
const ArrayBufferProto = ArrayBuffer.prototype;
/** The views msgpackr knows how to tag (it looks typed arrays up by constructor name). */
const VIEW_PROTOS = new Set<object>([
  Buffer.prototype,
  Int8Array.prototype,
  Uint8Array.prototype,
  Uint8ClampedArray.prototype,
  Int16Array.prototype,
  Uint16Array.prototype,
  Int32Array.prototype,
  Uint32Array.prototype,
  Float32Array.prototype,
  Float64Array.prototype,
  BigInt64Array.prototype,
  BigUint64Array.prototype,
  DataView.prototype,
]);
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function describeMapKey(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key.length > 40 ? key.slice(0, 37) + '...' : key);
  if (typeof key === 'bigint') return `${key}n`;
  if (key === null || (typeof key !== 'object' && typeof key !== 'function' && typeof key !== 'symbol')) return String(key);
  return '…';
}

function className(value: object): string {
  try {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && name) return name;
  } catch {
    /* a hostile getter */
  }
  return Object.prototype.toString.call(value).slice(8, -1);
}

function errorMessage(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'an unprintable value';
  }
}

/** Adds one level of path to a failure travelling up, turning any other exception into one. */
function trace(err: unknown, container: object, segment: string): Failure {
  const failure =
    err instanceof Failure ? err : new Failure(`reading it threw: ${errorMessage(err)}`, 'reading it threw', 'value', err);
  failure.segments.push(segment);
  failure.containers.push(container);
  return failure;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}

/** Returns `value`, or what must be packed in its place. Throws a Failure. `depth`: nesting of `value`. */
function walk(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'number':
      return value === 0 && 1 / value < 0 ? NEGATIVE_ZERO : value;
    case 'object':
      return value === null ? value : walkObject(value, depth);
    case 'function':
      throw functionFailure(value);
    case 'symbol':
      throw new Failure(`it is a symbol (${value.toString()}); symbols cannot be sent`, 'a symbol');
    default:
      return value; // string, boolean, undefined, bigint
  }
}

function functionFailure(fn: unknown): Failure {
  const name = (fn as { name?: unknown }).name;
  return new Failure(
    `it is a function${typeof name === 'string' && name ? ` (${name})` : ''}; functions cannot be sent, ` +
      `send data the worker can act on (e.g. the name of a function the worker imports)`,
    'a function',
  );
}

function walkObject(value: object, depth: number): unknown {
  if (depth >= MAX_DEPTH) {
    throw new Failure(`it is nested more than ${MAX_DEPTH} levels deep`, `nested more than ${MAX_DEPTH} levels deep`, 'depth');
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === ArrayProto) return walkArray(value as unknown[], depth);
  if (proto === ObjectProto || proto === null) return walkPlain(value as Record<string, unknown>, depth);
  if (ArrayBuffer.isView(value)) return VIEW_PROTOS.has(proto as object) ? value : walkOther(value, depth);
  if (proto === DateProto || proto === RegExpProto || proto === ArrayBufferProto) return value;
  if (proto === MapProto) return walkMap(value as Map<unknown, unknown>, depth);
  if (proto === SetProto) return walkSet(value as Set<unknown>, depth);
  if (value instanceof Error || types.isNativeError(value)) {
    if (errorsInProgress.includes(value)) throw new Failure('it is a circular reference to an enclosing error', 'a circular reference');
    return boxError(value as Error, depth);
  }
  return walkOther(value, depth);
}

/**
 * Index of the first element of `array` that is not a number (or is -0). A separate function so that its
 * element access only ever sees numeric arrays and stays fast (~1.3 ns/element instead of ~5 once the
 * generic loop has seen arrays of every kind).
 */
function skipNumbers(array: unknown[], n: number): number {
  let i = 0;
  for (; i < n; i++) {
    const item = array[i];
    if (typeof item !== 'number' || (item === 0 && 1 / item < 0)) break;
  }
  return i;
}

function walkArray(array: unknown[], depth: number): unknown[] {
  let out: unknown[] | null = null;
  const n = array.length;
  let i = n > 8 && typeof array[0] === 'number' ? skipNumbers(array, n) : 0;
  if (i === n) return array;
  try {
    for (; i < n; i++) {
      const item = array[i];
      let replacement: unknown;
      if (typeof item === 'number') {
        if (item !== 0 || 1 / item > 0) continue;
        replacement = NEGATIVE_ZERO;
      } else if (typeof item === 'string' || typeof item === 'boolean' || item === undefined || item === null) {
        continue;
      } else {
        replacement = walk(item, depth + 1);
        if (replacement === item) continue;
      }
      if (out === null) out = array.slice();
      out[i] = replacement;
    }
  } catch (err) {
    throw trace(err, array, `[${i}]`);
  }
  return out ?? array;
}

const hasOwnProperty = Object.prototype.hasOwnProperty;

function walkPlain(object: Record<string, unknown>, depth: number): unknown {
  let out: Record<string, unknown> | null = null;
  let key = '';
  let toJSON = false;
  let count = 0;
  plainObjects++;
  try {
    // own enumerable string keys, the way msgpackr iterates them (for...in filtered by hasOwnProperty);
    // for...in uses V8's enum cache: about twice as fast as Object.keys() on small objects
    for (key in object) {
      if (!hasOwnProperty.call(object, key)) continue;
      count++;
      const item = object[key];
      let replacement: unknown;
      if (typeof item === 'number') {
        if (item !== 0 || 1 / item > 0) continue;
        replacement = NEGATIVE_ZERO;
      } else if (typeof item === 'string' || typeof item === 'boolean' || item === undefined || item === null) {
        continue;
      } else {
        if (key === 'toJSON' && typeof item === 'function') {
          toJSON = true;
          break;
        }
        replacement = walk(item, depth + 1);
        if (replacement === item) continue;
      }
      if (out === null) out = { ...object };
      setOwn(out, key, replacement);
    }
    if (count > 0xffff) hugeObject = true;
  } catch (err) {
    // like JSON.stringify, an object with a toJSON() method is sent as its result, whatever its fields
    if (hasToJSON(object)) return applyToJSON(object, depth);
    throw trace(err, object, keySegment(key));
  }
  if (toJSON) return applyToJSON(object, depth);
  return out ?? object;
}

function hasToJSON(value: object): boolean {
  try {
    return typeof (value as { toJSON?: unknown }).toJSON === 'function';
  } catch {
    return false; // a throwing getter: treat as absent
  }
}

/** Whether `proto` is `name`.prototype of another realm (a vm context): plain objects and arrays from there. */
function isForeignBuiltinProto(proto: unknown, name: 'Object' | 'Array'): boolean {
  try {
    if (typeof proto !== 'object' || proto === null) return false;
    const ctor = (proto as { constructor?: unknown }).constructor;
    if (typeof ctor !== 'function' || ctor.name !== name || ctor.prototype !== proto) return false;
    const parent: unknown = Object.getPrototypeOf(proto);
    return name === 'Object' ? parent === null : isForeignBuiltinProto(parent, 'Object');
  } catch {
    return false;
  }
}

/** Maps always travel boxed (a msgpack map means a plain object): [TAG_MAP, k1, v1, k2, v2, ...]. */
function walkMap(map: Map<unknown, unknown>, depth: number): Boxed {
  const data: unknown[] = new Array(1 + 2 * map.size);
  data[0] = TAG_MAP;
  let i = 0;
  let key: unknown;
  let inKey = true;
  try {
    for (const [k, v] of map) {
      key = k;
      inKey = true;
      data[1 + 2 * i] = walk(k, depth + 1);
      inKey = false;
      data[2 + 2 * i] = walk(v, depth + 1);
      i++;
    }
  } catch (err) {
    throw trace(err, map, inKey ? `.keys()[${i}]` : `.get(${describeMapKey(key)})`);
  }
  return new Boxed(data);
}

function walkSet(set: Set<unknown>, depth: number): unknown {
  let out: Set<unknown> | null = null;
  let i = 0;
  try {
    for (const item of set) {
      const replacement = walk(item, depth + 1);
      if (out === null && replacement !== item) {
        out = new Set();
        let j = 0;
        for (const previous of set) {
          if (j++ === i) break;
          out.add(previous);
        }
      }
      if (out !== null) out.add(replacement);
      i++;
    }
  } catch (err) {
    throw trace(err, set, `.values()[${i}]`);
  }
  return out ?? set;
}

function applyToJSON(object: object, depth: number): unknown {
  let json: unknown;
  try {
    json = (object as { toJSON(key: string): unknown }).toJSON('');
  } catch (err) {
    throw new Failure(`its toJSON() method threw: ${errorMessage(err)}`, 'its toJSON() threw', 'value', err);
  }
  try {
    return walk(json, depth + 1);
  } catch (err) {
    throw trace(err, object, '.toJSON()');
  }
}

/** Class instances and the built-ins that cannot be sent. */
function walkOther(value: object, depth: number): unknown {
  if (hasToJSON(value)) return applyToJSON(value, depth);
  const proto: unknown = Object.getPrototypeOf(value);
  if (Array.isArray(value) && isForeignBuiltinProto(proto, 'Array')) return walkArray(value, depth);
  if (isForeignBuiltinProto(proto, 'Object')) return walkPlain(value as Record<string, unknown>, depth);
  if (value instanceof Promise || types.isPromise(value)) {
    throw new Failure('it is a Promise; await it and send the result', 'a Promise');
  }
  if (types.isWeakMap(value) || types.isWeakSet(value) || value instanceof WeakRef) {
    const kind = className(value);
    throw new Failure(`it is a ${kind}, whose contents cannot be read or copied`, `a ${kind}`);
  }
  if (types.isSharedArrayBuffer(value)) {
    throw new Failure(
      'it is a SharedArrayBuffer; shared memory cannot cross processes (copy it into a Buffer or an ArrayBuffer)',
      'a SharedArrayBuffer',
    );
  }
  if (types.isBoxedPrimitive(value)) {
    throw new Failure(
      `it is a boxed primitive (a ${className(value)} object); send the primitive value (value.valueOf())`,
      'a boxed primitive',
    );
  }
  const name = className(value);
  throw new Failure(
    `it is an instance of class ${name}, which would arrive as a plain object without its methods; ` +
      `pass a plain object, e.g. \`{ ...value }\`, or give the class a toJSON() method`,
    `an instance of ${name}`,
  );
}

// ── errors ───────────────────────────────────────────────────────────────────────────────────────────

/** Errors being boxed, outermost first: a cause or field that leads back to one of them is a cycle. */
const errorsInProgress: object[] = [];

function placeholder(failure: unknown): string {
  if (!(failure instanceof Failure)) return '[not sendable: reading it threw]';
  if (failure.kind === 'depth') return `[not sendable: ${findCycle(failure.containers) ? 'a circular reference' : failure.short}]`;
  return `[not sendable: ${failure.short}]`;
}

/** Walks a part of an error; what cannot be sent becomes a placeholder string instead of a failure. */
function lenient(read: () => unknown, depth: number): unknown {
  try {
    return walk(read(), depth);
  } catch (err) {
    return placeholder(err);
  }
}

function readString(read: () => unknown): string | undefined {
  try {
    const value = read();
    return typeof value === 'string' ? value : value === undefined ? undefined : String(value);
  } catch {
    return undefined;
  }
}

function boxError(error: Error, depth: number): Boxed {
  if (depth >= MAX_DEPTH) throw new Failure(`it is nested more than ${MAX_DEPTH} levels deep`, 'nested too deeply', 'depth');
  errorsInProgress.push(error);
  try {
    const name = readString(() => error.name) ?? 'Error';
    const message = readString(() => error.message) ?? '';
    const stack = readString(() => error.stack);
    const isAggregate = error instanceof AggregateError;
    let fields: Record<string, unknown> | undefined;
    let keys: string[] = [];
    try {
      keys = Object.keys(error);
    } catch {
      /* a proxy that throws */
    }
    for (const key of keys) {
      if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause' || (isAggregate && key === 'errors')) continue;
      fields ??= {};
      setOwn(fields, key, lenient(() => (error as unknown as Record<string, unknown>)[key], depth + 1));
    }
    let errors: unknown[] | undefined;
    if (isAggregate) {
      let list: unknown;
      try {
        list = (error as AggregateError).errors;
      } catch {
        list = [];
      }
      // one by one: one unsendable entry must not cost the others
      errors = Array.isArray(list) ? list.map((item) => lenient(() => item, depth + 2)) : [lenient(() => list, depth + 1)];
    }
    const data: unknown[] = [TAG_ERROR, name, message, stack, fields, errors];
    if (Object.prototype.hasOwnProperty.call(error, 'cause')) data.push(lenient(() => error.cause, depth + 1));
    return new Boxed(data);
  } finally {
    errorsInProgress.pop();
  }
}

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
  return proto === ObjectProto || proto === null;
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
    error = isAggregate ? new AggregateError(errors ?? [], message, options) : new (Class as ErrorConstructor)(message, options);
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

// ── paths ────────────────────────────────────────────────────────────────────────────────────────────

/** The first container that occurs twice on the path, as [first index, second index] (root first). */
function findCycle(containersInnermostFirst: readonly object[]): [number, number] | undefined {
  const seen = new Map<object, number>();
  const n = containersInnermostFirst.length;
  for (let i = 0; i < n; i++) {
    const container = containersInnermostFirst[n - 1 - i]!;
    const first = seen.get(container);
    if (first !== undefined) return [first, i];
    seen.set(container, i);
  }
  return undefined;
}

function toSerializationError(err: unknown, root: string): SerializationError {
  if (!(err instanceof Failure)) {
    return new SerializationError(root, `checking it threw: ${errorMessage(err)}`, { cause: err });
  }
  const segments = err.segments.slice().reverse();
  if (err.kind === 'depth') {
    const cycle = findCycle(err.containers);
    if (cycle) {
      const [first, second] = cycle;
      const to = root + segments.slice(0, first).join('');
      return new SerializationError(
        root + segments.slice(0, second).join(''),
        `it is a circular reference to ${to} (the value contains itself); circular structures cannot be sent`,
      );
    }
  }
  return new SerializationError(root + segments.join(''), err.problem, err.cause === undefined ? {} : { cause: err.cause });
}

function needsWalk(value: unknown): boolean {
  const type = typeof value;
  return type === 'object' || type === 'function' || type === 'symbol' || (value === 0 && 1 / (value as number) < 0);
}

/** walk() from the root, turning failures into SerializationError. Accumulates the message statistics. */
function walkRoot(value: unknown, rootName: string): unknown {
  if (!needsWalk(value)) return value;
  try {
    return walk(value, 0);
  } catch (err) {
    throw toSerializationError(err, rootName);
  }
}

/**
 * Checks that `value` can be sent and returns what to pack: `value` itself, or a copy in which the
 * containers leading to Errors, Maps, -0 and toJSON() objects are replaced. Throws SerializationError
 * naming the path from `rootName`. (encode() does this itself; exported for tests and benchmarks.)
 */
export function prepare(value: unknown, rootName = 'value'): unknown {
  plainObjects = 0;
  hugeObject = false;
  return walkRoot(value, rootName);
}

// ── the codec ────────────────────────────────────────────────────────────────────────────────────────

export interface CodecOptions {
  /** decode() copies binary data instead of returning slices of its input. Default false. */
  copyBuffers?: boolean;
  /**
   * Messages with at least this many plain objects are encoded with msgpackr records (each shape's keys
   * written once per message); smaller ones as plain MessagePack maps. Default 16 (measured crossover).
   */
  recordsFrom?: number;
}

/** Encoded results at least this large make msgpackr start a fresh output slab (so the big one can be freed). */
const LARGE_OUTPUT = 256 * 1024;
const OUTPUT_SLAB = 64 * 1024;
const PACK_OPTIONS = {
  moreTypes: true, // typed arrays, ArrayBuffer, DataView, Set, RegExp, big BigInts as extensions
  structuredClone: false, // no reference extensions: cycles are refused, and cannot be decoded either
  useToJSON: false, // the check already replaced objects by their toJSON()
} as const;

/**
 * Encoder and decoder. Each message is encoded one of two ways, picked from what the check saw: few
 * objects (the usual task envelope) as plain MessagePack maps, which msgpackr packs and unpacks about
 * twice as fast; many objects (say an array of 1000 rows) as msgpackr records, where each object shape's
 * keys are written once (2-3x smaller, ~3x faster to decode). One decoder reads both.
 */
export class Codec {
  private readonly maps = new Packr({ ...PACK_OPTIONS, useRecords: false, mapsAsObjects: true });
  private readonly records = new Packr({ ...PACK_OPTIONS, useRecords: true, mapsAsObjects: true });
  private readonly unpackr: Unpackr;
  private readonly recordsFrom: number;

  constructor(options: CodecOptions = {}) {
    this.unpackr = new Unpackr({ structuredClone: false, mapsAsObjects: true, copyBuffers: options.copyBuffers === true });
    this.recordsFrom = options.recordsFrom ?? 16;
  }

  /**
   * Encodes a value. Throws SerializationError when it (or something in it) cannot be sent; the path
   * in the message starts with `rootName` (e.g. `args[1].handler`).
   */
  encode(value: unknown, rootName = 'value'): Buffer {
    return this.pack(prepare(value, rootName), rootName);
  }

  /**
   * Encodes an envelope array whose element `index` is the user's value: errors in that element are
   * reported from `rootName` (`args[0].x`), errors elsewhere from `message[i]`. Without `index`, like
   * encode(value, rootName).
   */
  encodeWithPath(value: unknown, rootName: string, index?: number): Buffer {
    if (index === undefined || !Array.isArray(value)) return this.encode(value, rootName);
    plainObjects = 0;
    hugeObject = false;
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const prepared = walkRoot(item, i === index ? rootName : `message[${i}]`);
      if (prepared !== item) {
        out ??= value.slice();
        out[i] = prepared;
      }
    }
    return this.pack(out ?? value, rootName);
  }

  /** Decodes one value. Throws ProtocolError (cause: the parser's error) on malformed input. */
  decode(bytes: Uint8Array): unknown {
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      return this.unpackr.unpack(buffer);
    } catch (err) {
      throw new ProtocolError(`cannot decode a message of ${buffer.length} bytes: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Packs what prepare() returned, with the encoding its statistics call for. */
  private pack(prepared: unknown, rootName: string): Buffer {
    // maps mode writes objects with a 16-bit key count; records handle any size
    const packr = plainObjects >= this.recordsFrom || hugeObject ? this.records : this.maps;
    let out: Buffer;
    try {
      out = packr.pack(prepared);
    } catch (err) {
      throw new SerializationError(rootName, `it could not be encoded: ${errorMessage(err)}`, { cause: err });
    }
    if (out.length >= LARGE_OUTPUT) packr.useBuffer(Buffer.allocUnsafeSlow(OUTPUT_SLAB));
    return out;
  }
}

/** The codec both ends use. */
export const codec = new Codec();

/** Encodes a value with the default codec; see Codec.encode. */
export function encode(value: unknown, rootName = 'value'): Buffer {
  return codec.encode(value, rootName);
}

/** Encodes an envelope naming element `index` `rootName` in errors; see Codec.encodeWithPath. */
export function encodeWithPath(value: unknown, rootName: string, index?: number): Buffer {
  return codec.encodeWithPath(value, rootName, index);
}

/** Decodes a value with the default codec; see Codec.decode. */
export function decode(bytes: Uint8Array): unknown {
  return codec.decode(bytes);
}
