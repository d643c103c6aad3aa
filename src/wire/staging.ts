// Memory for large encoded payloads, used again. A payload with attachments is copied once at encoding (the caller
// may change its own Buffer the moment submit() returns); into fresh memory that copy costs a page fault per 4 KiB
// (about 35 ms for 64 MiB on the machines measured, against 7 ms for the copy itself into memory already touched).
// So the pool gives a payload's memory back when the worker replied to its task (release()), and the next large
// payload is copied there once the frame is wholly written.
//
// Owns the free buffers and the count of writes from lent ones, nothing else. Only memory from acquire() is taken
// back, and only once no write from it is in flight (FrameWriter says when it writes from it and when that is done):
// the pool releases a task's payload when the worker replied, which a hostile worker may do before it read all of
// it. The caller must not touch a buffer after release(). Free buffers are dropped after IDLE_MS without use, and
// never more than MAX_FREE bytes kept.

/** Payloads smaller than this are allocated as usual. */
export const STAGING_MIN = 1024 * 1024;
const MAX_FREE = 256 * 1024 * 1024;
const IDLE_MS = 2000;

const free: ArrayBuffer[] = [];
let freeBytes = 0;
/** The memory handed out and not given back (a WeakSet: what is never released is simply collected). */
const lent = new WeakSet<ArrayBuffer>();
let idleTimer: NodeJS.Timeout | undefined;
/** Writes in flight from lent memory (by reference), and the memory given back while they were. */
const writes = new Map<ArrayBuffer, number>();
const releaseWhenWritten = new Set<ArrayBuffer>();

/** A Buffer of exactly `length` bytes (contents undefined), in memory used before when there is some. */
export function acquire(length: number): Buffer {
  if (length < STAGING_MIN) return Buffer.allocUnsafeSlow(length);
  // the smallest free buffer that fits without wasting more than half of it
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    const size = free[i]!.byteLength;
    if (size >= length && size <= 2 * length && (best < 0 || size < free[best]!.byteLength)) best = i;
  }
  const memory = best >= 0 ? free.splice(best, 1)[0]! : Buffer.allocUnsafeSlow(length).buffer;
  if (best >= 0) freeBytes -= memory.byteLength;
  lent.add(memory);
  return Buffer.from(memory, 0, length);
}

/**
 * Gives back the memory of a Buffer from acquire() (anything else is ignored): it may be handed out again, once no
 * write from it is in flight (see writingFrom()).
 */
export function release(buffer: Uint8Array): void {
  const memory = buffer.buffer as ArrayBuffer;
  if (!lent.has(memory)) return;
  if (writes.has(memory)) releaseWhenWritten.add(memory);
  else giveBack(memory);
}

/**
 * A stream is about to write `bytes` by reference: if they are lent memory, it is not given back before the
 * returned function is called (once, when the stream has taken them or dropped them). A peer that replies before
 * it read the whole frame (a hostile worker can) must not see the next payload copied into what is still written.
 */
export function writingFrom(bytes: Uint8Array): (() => void) | undefined {
  const memory = bytes.buffer as ArrayBuffer;
  if (!lent.has(memory)) return undefined;
  writes.set(memory, (writes.get(memory) ?? 0) + 1);
  return () => {
    const left = writes.get(memory)! - 1;
    if (left > 0) return void writes.set(memory, left);
    writes.delete(memory);
    if (releaseWhenWritten.delete(memory)) giveBack(memory);
  };
}

function giveBack(memory: ArrayBuffer): void {
  lent.delete(memory);
  if (freeBytes + memory.byteLength > MAX_FREE) return;
  free.push(memory);
  freeBytes += memory.byteLength;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(dropFree, IDLE_MS).unref();
}

function dropFree(): void {
  free.length = 0;
  freeBytes = 0;
}
