// The tasks of bench/cluster.mjs, run by the agents (this directory is their --modules) and by the baselines.
import { createHash } from 'node:crypto';

export function noop(x) {
  return x;
}

/**
 * A fixed amount of CPU work: `rounds` chained SHA-256 over 16 KiB (not a time-based spin, which a CPU quota would
 * shorten). Returns the digest and the CPU seconds it took, as measured by its process.
 */
export function work(rounds) {
  const start = process.cpuUsage();
  let digest = Buffer.alloc(16 * 1024, 7);
  for (let i = 0; i < rounds; i++)
    digest = Buffer.concat([createHash('sha256').update(digest).digest(), digest.subarray(32)]);
  const used = process.cpuUsage(start);
  return { digest: digest.subarray(0, 8).toString('hex'), cpu: (used.user + used.system) / 1e6 };
}
