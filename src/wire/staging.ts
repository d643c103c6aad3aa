// Memory for large encoded payloads, used again. A payload with attachments is copied once at encoding (the caller
// may change its own Buffer the moment submit() returns); into fresh memory that copy costs a page fault per 4 KiB
// (about 35 ms for 64 MiB on the machines measured, against 7 ms for the copy itself into memory already touched).
// So the pool gives a payload's memory back once the worker has all of it (release(), when its reply arrives), and
// the next large payload is copied there.
//
// Owns the free buffers, nothing else. Only memory from acquire() is taken back; a buffer given back must no longer
// be read or written by anyone (the pool releases a task's payload only after the worker replied to it, so the frame
// was wholly written). Free buffers are dropped after IDLE_MS without use, and never more than MAX_FREE bytes kept.

/** Payloads smaller than this are allocated as usual. */
export const STAGING_MIN = 1024 * 1024;
const MAX_FREE = 256 * 1024 * 1024;
const IDLE_MS = 2000;

const free: ArrayBuffer[] = [];
let freeBytes = 0;
/** The memory handed out and not given back (a WeakSet: what is never released is simply collected). */
const lent = new WeakSet<ArrayBuffer>();
let idleTimer: NodeJS.Timeout | undefined;

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

/** Gives back the memory of a Buffer from acquire() (anything else is ignored): it may be handed out again. */
export function release(buffer: Uint8Array): void {
  const memory = buffer.buffer as ArrayBuffer;
  if (!lent.has(memory)) return;
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
