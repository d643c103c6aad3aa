// Large binary values out of band: a Buffer, typed array, DataView or ArrayBuffer of ATTACH_MIN bytes or more inside
// a message travels after the MessagePack body, in the same frame, instead of being copied into the body:
//
//   payload := 0xc1 | u32 BE bodyLength | body (MessagePack) | pad | attachment 1 | pad | attachment 2 ...
//
// 0xc1 is the one byte MessagePack never uses, so a payload without attachments (plain MessagePack) is never
// mistaken for one with them. In the body each attachment is a reference, extension type 0x56 packed as
// [kind, byteLength]; the attachments follow in the order of their references, each starting at a multiple of 8
// bytes from the payload's start (so a Float64Array can be read in place), the last one ending the payload.
//
// Sending (codec.ts's encodeParts): the attachments are written beside the body by reference (one writev), never
// copied; or, with encodeWithPath, copied once into one self-contained payload (the pool does this at submit: the
// caller may reuse its Buffer the moment submit() returns; the memory of that copy is used again, staging.ts).
// Receiving: Buffers, Uint8Arrays and DataViews come
// back as zero-copy views of the payload, other typed arrays too when aligned in memory (else copies), an
// ArrayBuffer as a copy (it cannot be a view).
//
// Untrusted input: every reference is checked against the payload (known kind, a length that fits, a whole
// number of elements, in order, the attachments exactly filling the rest of the payload); anything else throws,
// and the codec turns it into a ProtocolError.
//
// This module owns that format: the reference's extension, collecting attachments while the message is checked
// (prepare.ts), laying them out, and resolving references while a payload is unpacked.

import { addExtension } from 'msgpackr';
import { acquire } from './staging.js';

/** Binary values this large or larger travel out of band (smaller ones inside the body, as MessagePack bins). */
export const ATTACH_MIN = 64 * 1024;
/** The first byte of a payload with attachments (MessagePack's "never used" byte). */
export const MARKER = 0xc1;
/** Marker and body length. */
export const PREFIX_SIZE = 5;
/** The extension type of a reference to an attachment. */
export const ATTACHMENT_EXT = 0x56; // 'V'
const ALIGN = 8;

type ViewClass = new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView;
/** Kinds, by index: what the receiver makes of the bytes. */
const KINDS: readonly (ViewClass | typeof ArrayBuffer | null)[] = [
  null, // 0: Buffer
  Uint8Array,
  Int8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array as unknown as ViewClass,
  BigUint64Array as unknown as ViewClass,
  DataView as unknown as ViewClass,
  ArrayBuffer,
];
const KIND_OF = new Map<object, number>([
  [Buffer.prototype, 0],
  ...KINDS.slice(1).map((c, i): [object, number] => [c!.prototype as object, i + 1]),
]);

/** What msgpackr packs in place of a large binary value: a reference to its bytes, which follow the body. */
export class Attachment {
  constructor(
    readonly kind: number,
    readonly bytes: Uint8Array,
  ) {}
}

addExtension({
  Class: Attachment,
  type: ATTACHMENT_EXT,
  write: (a: Attachment) => [a.kind, a.bytes.byteLength],
  read: (datum: unknown) => resolveReference(datum),
});

// ── sending ──────────────────────────────────────────────────────────────────────────────────────────

/** Whether the message being checked gives up its large binary values, and the ones it gave up so far. */
let collecting = false;
const taken: Attachment[] = [];
const NONE: readonly Attachment[] = Object.freeze([]);

/** Starts taking large binary values out of the next message checked. */
export function startCollecting(): void {
  collecting = true;
  taken.length = 0;
}

/** Ends a message's collection: its attachments, in the order their references are packed. */
export function stopCollecting(): readonly Attachment[] {
  collecting = false;
  return taken.length === 0 ? NONE : taken.splice(0);
}

/** For prepare(): `value` (a view or ArrayBuffer of a known class), or the reference that replaces it. */
export function maybeAttach(value: ArrayBufferView | ArrayBuffer, proto: object): unknown {
  if (!collecting || value.byteLength < ATTACH_MIN) return value;
  const bytes =
    value instanceof ArrayBuffer
      ? new Uint8Array(value)
      : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  const attachment = new Attachment(KIND_OF.get(proto)!, bytes);
  taken.push(attachment);
  return attachment;
}

const pad = (at: number): number => (ALIGN - (at % ALIGN)) % ALIGN;
const ZEROS = Buffer.alloc(ALIGN);

/** The whole payload's length: prefix, body, the attachments and the padding before each. */
function payloadLength(bodyLength: number, list: readonly Attachment[]): number {
  let at = PREFIX_SIZE + bodyLength;
  for (const a of list) at += pad(at) + a.bytes.byteLength;
  return at;
}

/** The parts to write in order (a head with prefix and body, then padding and attachments), not copying them. */
export function layOut(body: Uint8Array, list: readonly Attachment[]): Uint8Array[] {
  const headLength = PREFIX_SIZE + body.byteLength;
  const head = Buffer.allocUnsafe(headLength + pad(headLength));
  writeHead(head, body);
  const parts: Uint8Array[] = [head];
  let at = head.length;
  for (let i = 0; i < list.length; i++) {
    const bytes = list[i]!.bytes;
    if (i > 0 && pad(at) > 0) {
      parts.push(ZEROS.subarray(0, pad(at)));
      at += pad(at);
    }
    parts.push(bytes);
    at += bytes.byteLength;
  }
  return parts;
}

/** The same payload as one Buffer: each attachment copied once (into memory from staging.ts: see release()). */
export function layOutCopy(body: Uint8Array, list: readonly Attachment[]): Buffer {
  const out = acquire(payloadLength(body.byteLength, list));
  let at = writeHead(out, body);
  for (const a of list) {
    const gap = pad(at);
    out.fill(0, at, at + gap);
    at += gap;
    out.set(a.bytes, at);
    at += a.bytes.byteLength;
  }
  return out;
}

function writeHead(out: Buffer, body: Uint8Array): number {
  out[0] = MARKER;
  out.writeUInt32BE(body.byteLength, 1);
  out.set(body, PREFIX_SIZE);
  const end = PREFIX_SIZE + body.byteLength;
  out.fill(0, end, end + pad(end));
  return end;
}

// ── receiving ────────────────────────────────────────────────────────────────────────────────────────

/** The payload being unpacked and where its next attachment may start; null: references are refused. */
let incoming: { payload: Buffer; cursor: number; copy: boolean } | null = null;

/** The end of the body of a payload that starts with MARKER (throws if the prefix does not fit). */
export function bodyEnd(payload: Buffer): number {
  if (payload.length < PREFIX_SIZE) throw new Error('a payload with attachments shorter than its prefix');
  const length = payload.readUInt32BE(1);
  if (length > payload.length - PREFIX_SIZE)
    throw new Error(`a body of ${length} bytes declared in a payload of ${payload.length}`);
  return PREFIX_SIZE + length;
}

/**
 * Unpacks a payload with attachments: `unpack` reads the body, references resolve to views of `payload` (copies
 * with `copy`). Throws unless the attachments exactly fill the payload after the body.
 */
export function withAttachments<T>(payload: Buffer, copy: boolean, unpack: (end: number) => T): T {
  const end = bodyEnd(payload);
  const outer = incoming;
  incoming = { payload, cursor: end, copy };
  try {
    const value = unpack(end);
    if (incoming.cursor !== payload.length)
      throw new Error(`${payload.length - incoming.cursor} bytes after the last attachment`);
    return value;
  } finally {
    incoming = outer;
  }
}

function resolveReference(datum: unknown): unknown {
  const state = incoming;
  if (state === null) throw new Error('a reference to an attachment in a payload that has none');
  if (!Array.isArray(datum) || datum.length !== 2)
    throw new Error('an attachment reference that is not [kind, length]');
  const [kind, length] = datum as unknown[];
  const Kind = typeof kind === 'number' ? KINDS[kind] : undefined;
  if (Kind === undefined || !Number.isInteger(length) || (length as number) < 0)
    throw new Error(`an attachment reference [${String(kind)}, ${String(length)}] of no known kind or length`);
  const { payload } = state;
  const start = state.cursor + pad(state.cursor);
  const n = length as number;
  if (n > payload.length - start) throw new Error(`an attachment of ${n} bytes past the end of the payload`);
  state.cursor = start + n;
  const bytes = payload.subarray(start, start + n);
  if (Kind === ArrayBuffer) return Uint8Array.prototype.slice.call(bytes).buffer;
  if (Kind === null) return state.copy ? Buffer.from(bytes) : bytes;
  const View = Kind as ViewClass & { BYTES_PER_ELEMENT?: number };
  const size = View.BYTES_PER_ELEMENT ?? 1;
  if (n % size !== 0) throw new Error(`an attachment of ${n} bytes is not a whole number of ${View.name} elements`);
  const source = state.copy || bytes.byteOffset % size !== 0 ? Uint8Array.prototype.slice.call(bytes) : bytes;
  return new View(source.buffer as ArrayBuffer, source.byteOffset, n / size);
}
