// The check before packing: refuses what cannot be sent, with the path to it (a SerializationError), and returns
// what msgpackr is to pack: the value itself, or a copy in which the containers leading to an Error, a Map, a -0
// or an object with toJSON() are replaced (Errors, Maps and -0 by the boxes of extension.ts). What is sent and what
// is refused is listed at the top of codec.ts.
//
// The check costs one walk over containers (arrays, objects, Maps, Sets); primitives, strings and typed arrays are
// not walked into, and nothing is copied unless something has to be replaced, in which case only the containers
// on the path to it are shallow-copied: the caller's value is never modified. It also counts the plain objects it
// saw (`walked`), for the codec's choice of encoding.

import { types } from 'node:util';
import { Boxed, NEGATIVE_ZERO, TAG_ERROR, TAG_MAP } from './extension.js';
import {
  describeMapKey,
  errorMessage,
  Failure,
  keySegment,
  placeholder,
  toSerializationError,
  trace,
} from './value-path.js';

/** Containers nested deeper than this are refused (msgpackr's recursion overflows the stack near ~1400). */
export const MAX_DEPTH = 1000;

/** What the last prepare() saw, to pick the encoding of the message (see Codec). */
export const walked = { plainObjects: 0, hugeObject: false };

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

function className(value: object): string {
  try {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && name) return name;
  } catch {
    /* a hostile getter */
  }
  return Object.prototype.toString.call(value).slice(8, -1);
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
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
    throw new Failure(
      `it is nested more than ${MAX_DEPTH} levels deep`,
      `nested more than ${MAX_DEPTH} levels deep`,
      'depth',
    );
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === ArrayProto) return walkArray(value as unknown[], depth);
  if (proto === ObjectProto || proto === null) return walkPlain(value as Record<string, unknown>, depth);
  if (ArrayBuffer.isView(value)) return VIEW_PROTOS.has(proto as object) ? value : walkOther(value, depth);
  if (proto === DateProto || proto === RegExpProto || proto === ArrayBufferProto) return value;
  if (proto === MapProto) return walkMap(value as Map<unknown, unknown>, depth);
  if (proto === SetProto) return walkSet(value as Set<unknown>, depth);
  if (value instanceof Error || types.isNativeError(value)) {
    if (errorsInProgress.includes(value))
      throw new Failure('it is a circular reference to an enclosing error', 'a circular reference');
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

function walkPlain(object: Record<string, unknown>, depth: number): unknown {
  let out: Record<string, unknown> | null = null;
  let key = '';
  let toJSON = false;
  let count = 0;
  walked.plainObjects++;
  try {
    // own enumerable string keys, the way msgpackr iterates them (for...in filtered by hasOwnProperty);
    // for...in uses V8's enum cache: about twice as fast as Object.keys() on small objects
    for (key in object) {
      if (!Object.hasOwn(object, key)) continue;
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
    if (count > 0xffff) walked.hugeObject = true;
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

// ── errors ──────────────────────────────────────────────────────────────────────────────────────────

/** Errors being boxed, outermost first: a cause or field that leads back to one of them is a cycle. */
const errorsInProgress: object[] = [];

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
    // A name or message that is not a string (an object with its own toString, or not): said as String() says it.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    return typeof value === 'string' ? value : value === undefined ? undefined : String(value);
  } catch {
    return undefined;
  }
}

function boxError(error: Error, depth: number): Boxed {
  if (depth >= MAX_DEPTH)
    throw new Failure(`it is nested more than ${MAX_DEPTH} levels deep`, 'nested too deeply', 'depth');
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
      if (
        key === 'name' ||
        key === 'message' ||
        key === 'stack' ||
        key === 'cause' ||
        (isAggregate && key === 'errors')
      )
        continue;
      fields ??= {};
      setOwn(
        fields,
        key,
        lenient(() => (error as unknown as Record<string, unknown>)[key], depth + 1),
      );
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
      errors = Array.isArray(list)
        ? list.map((item) => lenient(() => item, depth + 2))
        : [lenient(() => list, depth + 1)];
    }
    const data: unknown[] = [TAG_ERROR, name, message, stack, fields, errors];
    if (Object.prototype.hasOwnProperty.call(error, 'cause')) data.push(lenient(() => error.cause, depth + 1));
    return new Boxed(data);
  } finally {
    errorsInProgress.pop();
  }
}

// ── from the root ───────────────────────────────────────────────────────────────────────────────────

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
  walked.plainObjects = 0;
  walked.hugeObject = false;
  return walkRoot(value, rootName);
}

/**
 * prepare() for an envelope array whose element `index` is the user's value: errors in that element are reported
 * from `rootName` (`args[0].x`), errors elsewhere from `message[i]`.
 */
export function prepareEnvelope(envelope: unknown[], rootName: string, index: number): unknown[] {
  walked.plainObjects = 0;
  walked.hugeObject = false;
  let out: unknown[] | null = null;
  for (let i = 0; i < envelope.length; i++) {
    const item: unknown = envelope[i];
    const prepared = walkRoot(item, i === index ? rootName : `message[${i}]`);
    if (prepared !== item) {
      out ??= envelope.slice();
      out[i] = prepared;
    }
  }
  return out ?? envelope;
}
