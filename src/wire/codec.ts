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
// A payload from FrameDecoder is itself a slice of the socket's read chunk (or its own buffer when the frame
// spanned reads), so a decoded Buffer keeps that chunk alive and shares memory with it: safe, because
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
// The parts: this module (the Codec: packing and unpacking with msgpackr), prepare.ts (the check before packing),
// value-path.ts (the paths in its errors), extension.ts (the private extension and reading it back).

import { Packr, Unpackr } from 'msgpackr';
import { ProtocolError, SerializationError } from '../errors.js';
import './extension.js'; // registers unitpool's extension with msgpackr
import { prepare, prepareEnvelope, walked } from './prepare.js';
import { errorMessage } from './value-path.js';

export { MAX_DEPTH, prepare } from './prepare.js';

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
    this.unpackr = new Unpackr({
      structuredClone: false,
      mapsAsObjects: true,
      copyBuffers: options.copyBuffers === true,
    });
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
    return this.pack(prepareEnvelope(value, rootName, index), rootName);
  }

  /** Decodes one value. Throws ProtocolError (cause: the parser's error) on malformed input. */
  decode(bytes: Uint8Array): unknown {
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      return this.unpackr.unpack(buffer);
    } catch (err) {
      throw new ProtocolError(`cannot decode a message of ${buffer.length} bytes: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  /** Packs what prepare() returned, with the encoding its statistics call for. */
  private pack(prepared: unknown, rootName: string): Buffer {
    // maps mode writes objects with a 16-bit key count; records handle any size
    const packr = walked.plainObjects >= this.recordsFrom || walked.hugeObject ? this.records : this.maps;
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
