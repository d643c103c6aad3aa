// The task functions every Node system runs (unitpool by module reference, tinypool and piscina by
// filename + name, workerpool through workers/workerpool-worker.mjs, the raw floor by op code).
// Keep them trivial and identical across systems: the benchmark measures the pools, not the tasks.
import { createHash } from 'node:crypto';

/** The no-op task: returns a small constant. */
export function noop() {
  return 0;
}

/** Returns its argument (the 64 MiB echo). */
export function echo(value) {
  return value;
}

/** One item of the map workload. */
export function double(x) {
  return x * 2;
}

/** The map workload as one stream task (unitpool's stream()): every item doubled, yielded one by one. */
export function* doubleEach(items) {
  for (const x of items) yield x * 2;
}

/** A whole chunk of the map workload, for the pools without a map(): one task per chunk. */
export function doubleChunk(items) {
  const out = new Array(items.length);
  for (let i = 0; i < items.length; i++) out[i] = items[i] * 2;
  return out;
}

const BLOCK = Buffer.alloc(64 * 1024, 7);

/** The CPU-bound task: `rounds` SHA-256 digests of a 64 KiB block, chained. Returns the last digest (hex). */
export function hash(rounds) {
  let digest = Buffer.alloc(32);
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).update(BLOCK).digest();
  return digest.toString('hex');
}

// tinypool and piscina call the default export when no name is given.
export default noop;
