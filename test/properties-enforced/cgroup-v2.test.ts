// What the cgroup v2 controllers enforce, seen through the pool: the properties cgroup v1 cannot enforce
// (AllowedCPUs, MemoryHigh, MemorySwapMax, OOMPolicy, IOWriteBandwidthMax on buffered writes) and the v2 files of
// two that both enforce (CPUWeight, TasksMax). The VM tier runs this file (scripts/vm/tests.mjs). On a cgroup v1
// host every test here is skipped, with the reason in its title; resources.test.ts tests the refusals there.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokenPoolError } from '../../src/index.js';
import type { PropertyName } from '../../src/properties/index.js';
import { cgroupFile, enforced, expectRefused, layout, MiB, refusedHere, scratchDir, startPool } from './helpers.js';

const skipReason =
  layout === 'v2'
    ? undefined
    : `needs a pure cgroup v2 host, this one has the ${layout} layout; \`npm run test:vm\` boots one`;
if (skipReason) console.warn(`cgroup v2 enforcement tests skipped: ${skipReason}`);

/** On a v2 host, why a test of these properties is skipped (the host cannot enforce one of them), for its title. */
function unless(...names: PropertyName[]): string {
  const missing = names.find((n) => !enforced(n));
  return skipReason || missing === undefined
    ? ''
    : ` [skipped: ${missing} is not enforced here: ${refusedHere(missing)}]`;
}
const all = (...names: PropertyName[]) => names.every(enforced);

/** Allocates and touches `mb` MiB, 1 MiB at a time. */
function allocate(mb: number): number {
  const keep: Buffer[] = [];
  for (let i = 0; i < mb; i++) keep.push(Buffer.alloc(1024 * 1024, 1));
  return keep.length;
}

describe.skipIf(skipReason !== undefined)(
  `cgroup v2: enforced through the pool${skipReason ? ` [skipped: ${skipReason}]` : ''}`,
  () => {
    // The IO test writes to a real block device: in the VM the project is a 9p share under an overlay, so a directory
    // on the guest's own disk (virtio, ext4); elsewhere a scratch directory of the project.
    let io: { path: string; remove: () => void };
    beforeAll(() => {
      if (process.env.UNITPOOL_VM === '1') {
        const path = mkdtempSync('/var/lib/unitpool-test-io-');
        io = { path, remove: () => rmSync(path, { recursive: true, force: true }) };
      } else io = scratchDir('cgroup-v2');
    });
    afterAll(() => io?.remove());

    it.runIf(all('CPUWeight', 'TasksMax'))(
      `CPUWeight and TasksMax: cpu.weight 10000 and pids.max 64, and forking past 64 tasks fails${unless('CPUWeight', 'TasksMax')}`,
      async () => {
        await using pool = await startPool({ maxWorkers: 1, properties: { CPUWeight: 10000, TasksMax: 64 } });
        expect(cgroupFile(pool, 'cpu', 'cpu.weight')).toBe('10000');
        expect(cgroupFile(pool, 'pids', 'pids.max')).toBe('64');
        const r = await pool.submit(async () => {
          const { spawnSync } = await import('node:child_process');
          // Each sleep lasts long enough for all 80 to overlap even under emulation, where starting one takes ~50 ms.
          const p = spawnSync('sh', ['-c', 'i=0; while [ $i -lt 80 ]; do sleep 20 & i=$((i+1)); done; wait'], {
            encoding: 'utf8',
            timeout: 120_000,
          });
          return { status: p.status, stderr: p.stderr };
        });
        expect(r.stderr).toMatch(/fork|Resource temporarily unavailable/i);
        expect(Number(/^max (\d+)$/m.exec(cgroupFile(pool, 'pids', 'pids.events'))?.[1])).toBeGreaterThan(0); // the kernel refused a fork
        expect(await pool.submit(() => 'still working')).toBe('still working');
      },
    );

    it.runIf(all('AllowedCPUs'))(
      `AllowedCPUs=0: the workers may run on CPU 0 only${unless('AllowedCPUs')}`,
      async () => {
        await using pool = await startPool({ maxWorkers: 1, properties: { AllowedCPUs: '0' } });
        expect(cgroupFile(pool, 'cpuset', 'cpuset.cpus')).toBe('0');
        const status = await pool.submit(async () =>
          (await import('node:fs')).readFileSync('/proc/self/status', 'utf8'),
        );
        expect(status).toMatch(/^Cpus_allowed_list:\s+0$/m);
        // The control: this process may use more than CPU 0 (the VM has two).
        expect(readFileSync('/proc/self/status', 'utf8')).not.toMatch(/^Cpus_allowed_list:\s+0$/m);
      },
    );

    it.runIf(all('MemoryHigh', 'MemorySwapMax'))(
      `MemoryHigh and MemorySwapMax: memory.high and memory.swap.max of the unit${unless('MemoryHigh', 'MemorySwapMax')}`,
      async () => {
        await using pool = await startPool({ maxWorkers: 1, properties: { MemoryHigh: '200M', MemorySwapMax: 0 } });
        expect(cgroupFile(pool, 'memory', 'memory.high')).toBe(String(200 * MiB));
        expect(cgroupFile(pool, 'memory', 'memory.swap.max')).toBe('0');
        expect(await pool.submit(() => 'runs')).toBe('runs');
      },
    );

    it.runIf(all('OOMPolicy', 'MemoryMax'))(
      `OOMPolicy=stop: an OOM kill stops the whole unit, and the pool breaks${unless('OOMPolicy', 'MemoryMax')}`,
      async () => {
        await using pool = await startPool({ maxWorkers: 1, properties: { MemoryMax: '120M', OOMPolicy: 'stop' } });
        const err = await pool.submit(allocate, [200]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        await expect(pool.submit(() => 1)).rejects.toBeInstanceOf(BrokenPoolError);
      },
    );

    it.runIf(all('IOWriteBandwidthMax'))(
      `IOWriteBandwidthMax=3M: 6 MiB of ordinary buffered writes and an fsync take about 2 s (v2 charges writeback to the unit)${unless('IOWriteBandwidthMax')}`,
      async () => {
        await using pool = await startPool({ maxWorkers: 1, properties: { IOWriteBandwidthMax: { [io.path]: '3M' } } });
        expect(cgroupFile(pool, 'io', 'io.max')).toMatch(/wbps=3000000/);
        const r = await pool.submit(
          async (path: string) => {
            const fs = await import('node:fs');
            const t0 = performance.now();
            fs.writeFileSync(path, Buffer.alloc(6 * 1024 * 1024, 1));
            const buffered = (performance.now() - t0) / 1000;
            const fd = fs.openSync(path, 'r+');
            fs.fsyncSync(fd);
            fs.closeSync(fd);
            const total = (performance.now() - t0) / 1000;
            fs.rmSync(path);
            return { buffered, total };
          },
          [`${io.path}/io-write-probe`],
        );
        console.log(
          `IOWriteBandwidthMax=3M on cgroup v2: 6 MiB written (buffered) in ${r.buffered.toFixed(2)} s, on disk after ${r.total.toFixed(2)} s`,
        );
        expect(r.total).toBeGreaterThanOrEqual(1.5);
        expect((6 * MiB) / r.total).toBeLessThanOrEqual(3e6 * 1.2);
      },
    );

    it.runIf(all('IOWeight'))(`IOWeight=50: the unit io weight${unless('IOWeight')}`, async () => {
      await using pool = await startPool({ maxWorkers: 1, properties: { IOWeight: 50 } });
      expect(cgroupFile(pool, 'io', 'io.weight')).toMatch(/^default 50$/m);
    });

    it.runIf(!enforced('IOWeight'))(
      `IOWeight is refused where no disk uses BFQ or io.cost: ${refusedHere('IOWeight')}`,
      async () => {
        const err = await expectRefused({ properties: { IOWeight: 50 } }, 'IOWeight');
        expect(err.reason).toMatch(/no block device here uses BFQ or has io\.cost enabled/);
      },
    );
  },
);
