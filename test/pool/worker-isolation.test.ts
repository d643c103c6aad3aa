// isolation: 'worker' (src/pool/worker-units.ts): the pool is a transient slice carrying its budget (CPUQuota,
// MemoryMax, TasksMax), and each worker is a unit of its own inside it. Checked from inside the workers, and from
// what the kernel and systemd say of the slice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskTimeoutError, UnitPool, WorkerExitedError } from '../../src/index.js';
import { cgroupFile, layout, MiB, sink, startPool } from '../properties-enforced/helpers.js';
import { privateTmpEntries, unitExists } from '../support/systemd.js';

/** Where a task runs: its uid, its unit (from its cgroup), its pid, and its /tmp after it wrote a file there. */
async function whereAmI(): Promise<{ uid: number; unit: string; pid: number; tmp: string[] }> {
  await new Promise((r) => setTimeout(r, 300));
  const fs = await import('node:fs');
  const unit = /\/([^/\n]+\.service)/.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '';
  fs.writeFileSync(`/tmp/mine-${process.pid}`, 'x');
  return { uid: process.getuid!(), unit, pid: process.pid, tmp: fs.readdirSync('/tmp') };
}

describe("isolation: 'worker'", () => {
  let pool: UnitPool;
  const out = sink();
  const err = sink();
  beforeAll(async () => {
    pool = await startPool({
      isolation: 'worker',
      maxWorkers: 2,
      stdout: out,
      stderr: err,
      properties: { DynamicUser: true, PrivateTmp: true, CPUQuota: '50%', MemoryMax: '300M', TasksMax: 64 },
    });
  });
  afterAll(() => pool?.shutdown());

  it('the pool is a slice with its budget; every worker is a unit of its own in it, with its own uid and /tmp', async () => {
    expect(pool.isolation).toBe('worker');
    expect(pool.unit!.name).toMatch(/^unitpool-[0-9a-f]+\.slice$/);
    expect(Number(cgroupFile(pool, 'memory', layout === 'v2' ? 'memory.max' : 'memory.limit_in_bytes'))).toBe(
      300 * MiB,
    );
    const seen = await Promise.all([0, 1].map(() => pool.submit(whereAmI)));
    const base = pool.unit!.name.replace(/\.slice$/, '');
    for (const s of seen) {
      expect(s.unit).toMatch(new RegExp(`^${base}-w\\d+\\.service$`));
      // (and, for a checkout below /tmp, the first part of its path: unitpool binds its package back there)
      expect(s.tmp.sort()).toEqual([...privateTmpEntries(), `mine-${s.pid}`].sort());
    }
    expect(seen[0]!.unit).not.toBe(seen[1]!.unit);
    expect(seen[0]!.uid).not.toBe(seen[1]!.uid);
  });

  it('CPUQuota caps the whole pool: two busy workers together get no more than half a CPU', async () => {
    expect(Number(cgroupFile(pool, 'cpu', layout === 'v2' ? 'cpu.max' : 'cpu.cfs_quota_us').split(' ')[0])).toBe(
      50_000,
    );
    const before = (await pool.usage()).cpuUsec!;
    const t0 = performance.now();
    await Promise.all(
      [0, 1].map(() =>
        pool.submit(() => {
          const end = Date.now() + 2500;
          while (Date.now() < end);
        }),
      ),
    );
    const share = ((await pool.usage()).cpuUsec! - before) / 1000 / (performance.now() - t0);
    // At most the quota (with a little slack for the last period); less only when other work holds the CPUs.
    expect(share).toBeLessThan(0.6);
    expect(share).toBeGreaterThan(0.05);
  });

  it("MemoryMax caps the whole pool: a task past it gets WorkerExitedError, reason 'oom-kill'; the pool goes on", async () => {
    const e = await pool
      .submit(() => {
        const hog: Buffer[] = [];
        for (;;) hog.push(Buffer.alloc(16 * 1024 * 1024, 1));
      })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WorkerExitedError);
    expect(e).toMatchObject({ reason: 'oom-kill', unit: pool.unit!.name });
    expect(await pool.submit((a: number) => a * 3, [3])).toBe(9);
  });

  it('console output: console.log to stdout, console.error and the output of programs a task starts to stderr', async () => {
    await pool.submit(async () => {
      console.log('to stdout');
      console.error('to stderr');
      (await import('node:child_process')).execFileSync('/bin/echo', ['from a child'], { stdio: 'inherit' });
    });
    // stdout travels on the link, in order with the result: written before the promise settled.
    expect(out.text()).toContain('to stdout\n');
    await new Promise((r) => setTimeout(r, 200));
    expect(err.text()).toContain('to stderr\n');
    expect(err.text()).toContain('from a child\n');
  });

  it('a crash and a timeout: the error says how it ended, the worker unit is replaced', async () => {
    await expect(pool.submit(() => process.exit(7))).rejects.toMatchObject({ name: 'WorkerExitedError', exitCode: 7 });
    const slow = pool.submit(() => new Promise((r) => setTimeout(r, 30_000)), [], { timeout: 300 });
    await expect(slow).rejects.toBeInstanceOf(TaskTimeoutError);
    expect(await Promise.all([1, 2, 3, 4].map((x) => pool.submit((y: number) => y + 1, [x])))).toEqual([2, 3, 4, 5]);
  });
});

describe("isolation: 'worker', the end", () => {
  it('after shutdown neither the slice nor any worker unit is left', async () => {
    const pool = await startPool({ isolation: 'worker', maxWorkers: 2, properties: { DynamicUser: true } });
    await Promise.all([1, 2, 3].map((x) => pool.submit((y: number) => y, [x])));
    const slice = pool.unit!.name;
    const workers = [1, 2, 3, 4].map((k) => slice.replace(/\.slice$/, `-w${k}.service`));
    await pool.shutdown();
    expect(await unitExists(slice)).toBe(false);
    for (const w of workers) expect(await unitExists(w), w).toBe(false);
  });

  it('fresh: true with isolation: worker: a unit per task', async () => {
    const pool = new UnitPool({ isolation: 'worker', fresh: true, maxWorkers: 2, stderr: sink() });
    try {
      const seen = await Promise.all([1, 2, 3, 4, 5].map(() => pool.submit(whereAmI)));
      expect(new Set(seen.map((s) => s.unit)).size).toBe(5);
    } finally {
      await pool.shutdown();
    }
  });
});
