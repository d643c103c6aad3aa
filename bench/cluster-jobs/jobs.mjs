// The tasks of bench/cluster.mjs, run by the agents (this directory is their --modules) and by the baselines.
import { createHash } from 'node:crypto';

export function noop(x) {
  return x;
}

/** A fixed amount of CPU work: `rounds` chained SHA-256 over 16 KiB (not a time-based spin, which a CPU quota would shorten). */
export function work(rounds) {
  let digest = Buffer.alloc(16 * 1024, 7);
  for (let i = 0; i < rounds; i++) digest = Buffer.concat([createHash('sha256').update(digest).digest(), digest.subarray(32)]);
  return digest.subarray(0, 8).toString('hex');
}
