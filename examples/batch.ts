// A batch data job under a CPU quota: hash 400 blocks of 1 MiB with 2 workers limited to 50% of one CPU together,
// then print how much CPU the unit really got.
//   npm run example -- batch
import { UnitPool } from 'unitpool';

const quota = 50; // percent of one CPU, for the whole pool
await using pool = new UnitPool({
  maxWorkers: 2,
  properties: { CPUQuota: `${quota}%`, MemoryMax: '512M', PrivateNetwork: true },
});
await pool.ready();
const before = await pool.usage(); // what starting Node cost, before the job

const started = process.hrtime.bigint();
let done = 0;
let digest = 0;
const blocks = Array.from({ length: 400 }, (_, i) => i);
for await (const h of pool.map(
  async (seed: number) => {
    const { createHash } = await import('node:crypto');
    let data = Buffer.alloc(1024 * 1024, seed & 0xff);
    for (let round = 0; round < 20; round++) data = createHash('sha256').update(data).digest() as Buffer<ArrayBuffer>;
    return data.readUInt32BE(0);
  },
  blocks,
  { chunksize: 10 },
)) {
  digest ^= h;
  done++;
}
const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
// CPU time, memory and tasks of the whole unit, from systemd where it tells and from the unit's cgroup where not.
const usage = await pool.usage();
console.log(`${done} blocks, digest ${(digest >>> 0).toString(16)}, ${wallSeconds.toFixed(2)} s wall`);
if (usage.cpuUsec !== undefined) {
  const cpuSeconds = (usage.cpuUsec - (before.cpuUsec ?? 0)) / 1e6;
  const share = (100 * cpuSeconds) / wallSeconds;
  console.log(`CPU used by the job: ${cpuSeconds.toFixed(2)} s = ${share.toFixed(1)}% of one CPU (quota ${quota}%)`);
}
if (usage.memoryPeak !== undefined)
  console.log(`memory peak of the unit: ${(usage.memoryPeak / 2 ** 20).toFixed(1)} MiB (cap 512 MiB)`);
