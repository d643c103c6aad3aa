// A batch data job under a CPU quota: hash 400 blocks of 1 MiB with 2 workers limited to 50% of one CPU together,
// then print how much CPU the unit really got.
//   npm run example -- batch
import { UnitPool } from 'unitpool';

const quota = 50; // percent of one CPU, for the whole pool
await using pool = new UnitPool({ maxWorkers: 2, properties: { CPUQuota: `${quota}%`, MemoryMax: '512M', PrivateNetwork: true } });
await pool.ready();

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
const cpuSeconds = await unitCpuSeconds(pool.unit!.controlGroup);
console.log(`${done} blocks, digest ${digest.toString(16)}, ${wallSeconds.toFixed(2)} s wall`);
if (cpuSeconds !== undefined) {
  console.log(`CPU used by the unit: ${cpuSeconds.toFixed(2)} s = ${((100 * cpuSeconds) / wallSeconds).toFixed(1)}% of one CPU (quota ${quota}%)`);
}

/** The unit's CPU time from its cgroup (cgroup2 cpu.stat, or v1 cpuacct.usage). */
async function unitCpuSeconds(cgroup: string): Promise<number | undefined> {
  const { readFile } = await import('node:fs/promises');
  for (const [file, parse] of [
    [`/sys/fs/cgroup/unified${cgroup}/cpu.stat`, (s: string) => Number(/usage_usec (\d+)/.exec(s)?.[1]) / 1e6],
    [`/sys/fs/cgroup${cgroup}/cpu.stat`, (s: string) => Number(/usage_usec (\d+)/.exec(s)?.[1]) / 1e6],
    [`/sys/fs/cgroup/cpuacct${cgroup}/cpuacct.usage`, (s: string) => Number(s) / 1e9],
  ] as const) {
    try {
      const v = parse(await readFile(file, 'utf8'));
      if (Number.isFinite(v)) return v;
    } catch {
      /* try the next layout */
    }
  }
  return undefined;
}
