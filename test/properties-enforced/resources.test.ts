// Resource limits, seen from inside the workers and measured: every rlimit in /proc/self/limits (and two of them
// hit), niceness, oom_score_adj, the CPU share under CPUQuota measured over 3.5 s from the unit's cgroup, cpu.shares,
// pids.max and a fork that fails past TasksMax, IO read bandwidth, an OOM kill under MemoryMax (120M, and the
// issue's 50M), RuntimeMaxSec. What this host cannot enforce (on cgroup v1: AllowedCPUs, MemoryHigh, MemorySwapMax,
// IOWriteBandwidthMax, OOMPolicy; IOWeight without BFQ) is tested for its refusal, and passed unchecked (raw) to show
// what systemd would really do with it; cgroup-v2.test.ts (run by the VM tier, pure cgroup v2) tests them enforced.
import { existsSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokenPoolError, UnitPool, WorkerExitedError } from '../../src/index.js';
import type { PropertyName } from '../../src/properties/index.js';
import { parseLimits } from '../../src/unit/host-facts.js';
import {
  cgroupFile,
  enforced,
  expectRefused,
  host,
  layout,
  MiB,
  refusedHere,
  scratchDir,
  sink,
  startPool,
} from './helpers.js';

const dir = scratchDir('resources');
afterAll(() => dir.remove());

/** Spins for `ms` of wall time; returns the CPU time it got, in µs. */
async function spinFor(ms: number): Promise<number> {
  const c0 = process.cpuUsage();
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x++;
  const c = process.cpuUsage(c0);
  return x >= 0 ? c.user + c.system : 0;
}

/** Allocates and touches `mb` MiB, 1 MiB at a time. */
function allocate(mb: number): number {
  const keep: Buffer[] = [];
  for (let i = 0; i < mb; i++) keep.push(Buffer.alloc(1024 * 1024, 1));
  return keep.length;
}

// ── rlimits, niceness, oom_score_adj ─────────────────────────────────────────────────────────────────────

/** [property, value, soft, hard as /proc/self/limits shows them] */
const LIMITS: [PropertyName, string | number, bigint, bigint][] = [
  ['LimitCPU', '1h:2h', 3600n, 7200n],
  ['LimitFSIZE', '1M:2M', 1n * BigInt(MiB), 2n * BigInt(MiB)],
  ['LimitDATA', '6G:8G', 6n << 30n, 8n << 30n],
  ['LimitSTACK', '8M:16M', 8n * BigInt(MiB), 16n * BigInt(MiB)],
  ['LimitCORE', '0:1M', 0n, BigInt(MiB)],
  // Node raises its soft limit of open files to the hard one at start: the workers get 300 / 300.
  ['LimitNOFILE', '200:300', 300n, 300n],
  ['LimitAS', '32G:48G', 32n << 30n, 48n << 30n],
  ['LimitNPROC', '500:600', 500n, 600n],
  ['LimitMEMLOCK', '32K:64K', 32n * 1024n, 64n * 1024n],
  ['LimitLOCKS', '1000:2000', 1000n, 2000n],
  ['LimitSIGPENDING', '1000:2000', 1000n, 2000n],
  ['LimitMSGQUEUE', '100K:200K', 100n * 1024n, 200n * 1024n],
  ['LimitNICE', 5, 15n, 15n], // nice level 5 is the raw rlimit 20 - 5
  ['LimitRTPRIO', '3:5', 3n, 5n],
  ['LimitRTTIME', '50ms:100ms', 50_000n, 100_000n], // microseconds
];

/**
 * The manager can set a limit above its own hard limit only with CAP_SYS_RESOURCE. On these machines it has not
 * got it (and its nice and realtime-priority limits are 0), so LimitNICE and LimitRTPRIO can only be refused here.
 */
const sysResource = host.managerCapabilities?.includes('CAP_SYS_RESOURCE') ?? true;
const managerHard = (name: PropertyName) => host.managerLimits?.hard[name] ?? 2n ** 64n - 1n;
const settable = LIMITS.filter(
  ([name, , , hard]) => sysResource || (name === 'LimitNOFILE' ? 300n : hard) <= managerHard(name),
);
const unsettable = LIMITS.filter((l) => !settable.includes(l));

describe('a pool with every Limit* the manager can give, Nice and OOMScoreAdjust', () => {
  let pool: UnitPool;
  beforeAll(async () => {
    pool = await startPool({
      maxWorkers: 1,
      properties: {
        ...Object.fromEntries(settable.map(([name, value]) => [name, value])),
        Nice: 7,
        OOMScoreAdjust: 100,
      },
    });
  });
  afterAll(() => pool?.shutdown());

  it.each(settable)('%s: /proc/self/limits of the worker shows %s', async (name, _value, soft, hard) => {
    const limits = parseLimits(
      await pool.submit(async () => (await import('node:fs')).readFileSync('/proc/self/limits', 'utf8')),
    );
    expect(limits[name]).toEqual({ soft, hard });
  });

  it('LimitFSIZE is enforced: writing past the soft limit fails with EFBIG (Node ignores SIGXFSZ)', async () => {
    const r = await pool.submit(
      async (path: string) => {
        const fs = await import('node:fs');
        try {
          fs.writeFileSync(path, Buffer.alloc(2 * 1024 * 1024));
          return 'written';
        } catch (e) {
          return (e as NodeJS.ErrnoException).code;
        } finally {
          fs.rmSync(path, { force: true });
        }
      },
      [`${dir.path}/fsize-probe`],
    );
    expect(r).toBe('EFBIG');
  });

  it('LimitNOFILE is enforced: opening files stops with EMFILE at the hard limit (300)', async () => {
    const r = await pool.submit(async () => {
      const fs = await import('node:fs');
      const fds: number[] = [];
      let code = '';
      try {
        for (let i = 0; i < 400; i++) fds.push(fs.openSync('/dev/null', 'r'));
      } catch (e) {
        code = (e as NodeJS.ErrnoException).code!;
      }
      const highest = Math.max(...fds);
      for (const fd of fds) fs.closeSync(fd);
      return { code, highest };
    });
    expect(r.code).toBe('EMFILE');
    expect(r.highest).toBe(299);
  });

  it('Nice: os.getPriority() of the worker (and of the supervisor that forked it)', async () => {
    const seen = await pool.submit(async () => {
      const os = await import('node:os');
      return { self: os.getPriority(), parent: os.getPriority(process.ppid) };
    });
    expect(seen).toEqual({ self: 7, parent: 7 });
    expect(getPriority()).toBe(0);
  });

  it('OOMScoreAdjust: the supervisor has it, and the worker 500 more (the worker raises its own, by design)', async () => {
    const seen = await pool.submit(async () => {
      const { readFileSync } = await import('node:fs');
      return {
        self: Number(readFileSync('/proc/self/oom_score_adj', 'utf8')),
        parent: Number(readFileSync(`/proc/${process.ppid}/oom_score_adj`, 'utf8')),
      };
    });
    expect(seen).toEqual({ self: 600, parent: 100 });
  });
});

describe.runIf(!sysResource)(
  'what the manager cannot give without CAP_SYS_RESOURCE: refused, and what systemd would do (raw)',
  () => {
    it.each(unsettable)(`%s (%s) above the manager's own hard limit is refused`, async (name, value) => {
      const err = await expectRefused({ properties: { [name]: value } }, name);
      expect(err.reason).toMatch(
        /above the system manager's own \(.*\), and without CAP_SYS_RESOURCE the manager cannot raise it: systemd would silently apply/,
      );
    });

    it("LimitMSGQUEUE=1M:2M, above the manager's 800K, is refused", async () => {
      const err = await expectRefused({ properties: { LimitMSGQUEUE: '1M:2M' } }, 'LimitMSGQUEUE');
      expect(err.reason).toContain(`above the system manager's own (${managerHard('LimitMSGQUEUE')})`);
    });

    it('a negative OOMScoreAdjust is refused: the manager cannot lower oom_score_adj below its own', async () => {
      const err = await expectRefused({ properties: { OOMScoreAdjust: -100 } }, 'OOMScoreAdjust');
      expect(err.reason).toMatch(/cannot give its units less; systemd would silently leave the workers at/);
    });

    it('passed unchecked (raw), systemd clamps the limits to its own and keeps its own oom_score_adj, silently', async () => {
      await using pool = await startPool({
        maxWorkers: 1,
        raw: [
          ['LimitMSGQUEUE', 't', 2 * MiB],
          ['LimitMSGQUEUESoft', 't', MiB],
          ['LimitNICE', 't', 15],
          ['LimitNICESoft', 't', 15],
          ['OOMScoreAdjust', 'i', -100],
        ],
      });
      const seen = await pool.submit(async () => {
        const { readFileSync } = await import('node:fs');
        return {
          limits: readFileSync('/proc/self/limits', 'utf8'),
          oom: Number(readFileSync(`/proc/${process.ppid}/oom_score_adj`, 'utf8')),
        };
      });
      const limits = parseLimits(seen.limits);
      expect(limits.LimitMSGQUEUE).toEqual({ soft: managerHard('LimitMSGQUEUE'), hard: managerHard('LimitMSGQUEUE') });
      expect(limits.LimitNICE).toEqual({ soft: managerHard('LimitNICE'), hard: managerHard('LimitNICE') });
      expect(seen.oom).toBe(host.managerLimits!.oomScoreAdjust);
    });
  },
);

it.runIf(sysResource)(
  'OOMScoreAdjust=-100: the supervisor gets it (the manager has CAP_SYS_RESOURCE), the worker 500 more',
  async () => {
    await using pool = await startPool({ maxWorkers: 1, properties: { OOMScoreAdjust: -100 } });
    const seen = await pool.submit(async () => {
      const { readFileSync } = await import('node:fs');
      return {
        self: Number(readFileSync('/proc/self/oom_score_adj', 'utf8')),
        parent: Number(readFileSync(`/proc/${process.ppid}/oom_score_adj`, 'utf8')),
      };
    });
    expect(seen).toEqual({ self: 400, parent: -100 });
  },
);

it('Nice=-5: a negative nice level, given by the manager (it holds CAP_SYS_NICE)', async () => {
  if (!(host.managerCapabilities?.includes('CAP_SYS_NICE') ?? true)) {
    await expectRefused({ properties: { Nice: -5 } }, 'Nice');
    return;
  }
  await using pool = await startPool({ maxWorkers: 1, properties: { Nice: -5 } });
  expect(await pool.submit(async () => (await import('node:os')).getPriority())).toBe(-5);
});

it('LimitCPU is enforced: a worker past its CPU seconds dies of SIGXCPU', async () => {
  await using pool = await startPool({ maxWorkers: 1, properties: { LimitCPU: '1:5' } });
  const err = await pool.submit(spinFor, [10_000]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkerExitedError);
  expect(err).toMatchObject({ reason: 'signal', signal: 'SIGXCPU' });
  expect(await pool.submit(() => 'a new worker')).toBe('a new worker');
});

// ── CPU, tasks, IO ───────────────────────────────────────────────────────────────────────────────────────

// CPUWeight=10000 (the highest) keeps the CPU measurement honest while other test files run: under contention the unit
// still gets its 50%.
describe('a pool with CPUQuota=50%, CPUWeight=10000, TasksMax=64 and IOReadBandwidthMax=3M, three workers', () => {
  let pool: UnitPool;
  beforeAll(async () => {
    pool = await startPool({
      maxWorkers: 3,
      properties: { CPUQuota: '50%', CPUWeight: 10000, TasksMax: 64, IOReadBandwidthMax: { [dir.path]: '3M' } },
    });
  });
  afterAll(() => pool?.shutdown());

  it('CPUQuota: two busy workers together get 50% of one CPU (within 25%), by the unit cgroup CPU time over 3.5 s', async () => {
    expect(cgroupFile(pool, 'cpu', layout === 'v2' ? 'cpu.max' : 'cpu.cfs_quota_us')).toBe(
      layout === 'v2' ? '50000 100000' : '50000',
    );
    await Promise.all([pool.submit(spinFor, [200]), pool.submit(spinFor, [200])]); // warm up both workers
    const measure = async () => {
      const u0 = await pool.usage();
      const t0 = performance.now();
      const perWorker = await Promise.all([pool.submit(spinFor, [3500]), pool.submit(spinFor, [3500])]);
      const wallUs = (performance.now() - t0) * 1000;
      const u1 = await pool.usage();
      const share = (u1.cpuUsec! - u0.cpuUsec!) / wallUs;
      console.log(
        `CPUQuota=50%: the unit used ${(share * 100).toFixed(1)}% of a CPU over ${(wallUs / 1e6).toFixed(2)} s (workers: ${perWorker.map((u) => (u / 1000).toFixed(0)).join(' + ')} ms)`,
      );
      return { perWorker, wallUs, share };
    };
    // Measured once more when the first window is off (once in many CI runs the kernel let a loaded sandbox's unit
    // run past its quota for a whole window: 77.6% where every other run measured 49.7-50.5%); a quota that does not
    // hold fails both.
    let m = await measure();
    if (m.share < 0.375 || m.share > 0.625) m = await measure();
    const { perWorker, wallUs, share } = m;
    expect(wallUs).toBeGreaterThanOrEqual(3_000_000);
    expect(share).toBeGreaterThanOrEqual(0.375);
    expect(share).toBeLessThanOrEqual(0.625);
    // Unlimited, two busy workers on this 2-CPU machine would have used far more than half a CPU.
    expect((perWorker[0]! + perWorker[1]!) / wallUs).toBeLessThanOrEqual(0.625);
  });

  it('pool.usage(): CPU time, current and peak memory, and tasks are there and plausible, with their sources', async () => {
    const u = await pool.usage();
    console.log(`pool.usage(): ${JSON.stringify(u)}`);
    expect(u.cpuUsec).toBeGreaterThan(1_000_000); // the CPUQuota test spent about 1.75 s
    expect(u.memoryCurrent).toBeGreaterThan(4 * MiB);
    expect(u.memoryCurrent).toBeLessThan(1024 * MiB);
    expect(u.memoryPeak).toBeGreaterThanOrEqual(u.memoryCurrent!);
    // Supervisor and three workers, each with several threads (TasksMax counts threads).
    expect(u.tasks).toBeGreaterThanOrEqual(4);
    expect(u.tasks).toBeLessThanOrEqual(64);
    const all = [...u.source.dbus, ...u.source.cgroup].sort();
    expect(all).toEqual(expect.arrayContaining(['cpuUsec', 'memoryCurrent', 'memoryPeak', 'tasks']));
    if (layout !== 'v2') {
      // systemd 252 on these hosts: no CPUUsageNSec (cpu and cpuacct mounted apart), no MemoryPeak.
      expect(u.source.cgroup).toEqual(expect.arrayContaining(['cpuUsec', 'memoryPeak']));
      expect(u.source.dbus).toEqual(expect.arrayContaining(['memoryCurrent', 'tasks']));
    }
  });

  it('CPUWeight: the unit cgroup weight (cpu.shares 102400 on v1, cpu.weight 10000 on v2)', () => {
    if (layout === 'v2') expect(cgroupFile(pool, 'cpu', 'cpu.weight')).toBe('10000');
    else expect(cgroupFile(pool, 'cpu', 'cpu.shares')).toBe(String((10000 * 1024) / 100));
  });

  it('TasksMax: pids.max is 64, and forking past it fails', async () => {
    expect(cgroupFile(pool, 'pids', 'pids.max')).toBe('64');
    const r = await pool.submit(async () => {
      const { spawnSync } = await import('node:child_process');
      const p = spawnSync('sh', ['-c', 'i=0; while [ $i -lt 80 ]; do sleep 1 & i=$((i+1)); done; wait'], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      return { status: p.status, stderr: p.stderr };
    });
    expect(r.stderr).toMatch(/fork|Resource temporarily unavailable/i);
    expect(await pool.submit(() => 'still working')).toBe('still working');
  });

  it('IOReadBandwidthMax: reading 6 MiB from the disk goes at most at 3 MB/s', async () => {
    const r = await pool.submit(
      async (path: string) => {
        const { spawnSync } = await import('node:child_process');
        const fs = await import('node:fs');
        // Written with O_DIRECT, so not in the page cache: the read must go to the disk.
        const dd = spawnSync('dd', ['if=/dev/urandom', `of=${path}`, 'bs=1M', 'count=6', 'oflag=direct'], {
          encoding: 'utf8',
        });
        if (dd.status !== 0) throw new Error(dd.stderr);
        const t0 = performance.now();
        const bytes = fs.readFileSync(path).length;
        const seconds = (performance.now() - t0) / 1000;
        fs.rmSync(path);
        return { bytes, seconds };
      },
      [`${dir.path}/io-read-probe`],
    );
    const rate = r.bytes / r.seconds;
    console.log(
      `IOReadBandwidthMax=3M: read ${r.bytes} bytes in ${r.seconds.toFixed(2)} s (${(rate / 1e6).toFixed(2)} MB/s)`,
    );
    expect(r.bytes).toBe(6 * MiB);
    expect(rate).toBeLessThanOrEqual(3e6 * 1.2);
    expect(r.seconds).toBeGreaterThanOrEqual(1.5);
    const file =
      layout === 'v2' ? cgroupFile(pool, 'io', 'io.max') : cgroupFile(pool, 'blkio', 'blkio.throttle.read_bps_device');
    expect(file).toMatch(layout === 'v2' ? /rbps=3000000/ : /^\d+:\d+ 3000000$/m);
  });
});

// ── memory ───────────────────────────────────────────────────────────────────────────────────────────────

describe('MemoryMax', () => {
  it('MemoryMax=120M: a 200 MB allocation is OOM-killed (WorkerExitedError, reason oom-kill), and the pool goes on', async () => {
    await using pool = await startPool({ maxWorkers: 1, properties: { MemoryMax: '120M' } });
    expect(cgroupFile(pool, 'memory', layout === 'v2' ? 'memory.max' : 'memory.limit_in_bytes')).toBe(
      String(120 * MiB),
    );
    const err = await pool.submit(allocate, [200]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err).toMatchObject({ reason: 'oom-kill', signal: 'SIGKILL' });
    expect(await pool.submit(() => 'a new worker')).toBe('a new worker');
    const u = await pool.usage();
    expect(u.memoryPeak).toBeLessThanOrEqual(120 * MiB);
    expect(u.memoryPeak).toBeGreaterThan(100 * MiB);
  });

  it("MemoryMax=50M (the issue's case): Node starts (a supervisor and a worker are charged 10-20 MB here), and a 200 MB allocation is OOM-killed", async () => {
    const t0 = performance.now();
    await using pool = await startPool({ maxWorkers: 1, properties: { MemoryMax: '50M' } });
    const startMs = performance.now() - t0;
    const atStart = await pool.usage();
    console.log(
      `MemoryMax=50M: ready in ${startMs.toFixed(0)} ms, memoryCurrent ${(atStart.memoryCurrent! / MiB).toFixed(1)} MiB, tasks ${atStart.tasks}`,
    );
    expect(atStart.memoryCurrent).toBeLessThan(50 * MiB);
    const err = await pool.submit(allocate, [200]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err).toMatchObject({ reason: 'oom-kill' });
    expect(await pool.submit(() => 'a new worker')).toBe('a new worker');
  });

  it('MemoryMax at the 16M floor: starting and a 200 MB allocation end in a clear error, never a hang', async () => {
    const pool = new UnitPool({ maxWorkers: 1, stderr: sink(), properties: { MemoryMax: '16M' } });
    const t0 = performance.now();
    try {
      const err = await pool
        .ready()
        .then(() => pool.submit(allocate, [200]))
        .catch((e: unknown) => e);
      expect(performance.now() - t0).toBeLessThan(15_000);
      // The OOM killer takes the worker (reason oom-kill); with so little room it may take the supervisor too, at
      // start or later: then the pool breaks, saying that its unit stopped.
      if (err instanceof WorkerExitedError) expect(err.reason).toBe('oom-kill');
      else {
        expect(err).toBeInstanceOf(BrokenPoolError);
        expect((err as Error).message).toMatch(/^the pool's unit unitpool-[0-9a-f]+\.service stopped/);
      }
    } finally {
      await pool.shutdown();
    }
  });

  it('MemoryMax below 16M is refused at construction', () => {
    expect(() => new UnitPool({ properties: { MemoryMax: '8M' } })).toThrow(/MemoryMax: below 16M/);
  });
});

it('RuntimeMaxSec: after 2 s systemd stops the unit, and the pool breaks with a message', async () => {
  const t0 = performance.now();
  await using pool = await startPool({ maxWorkers: 1, properties: { RuntimeMaxSec: '2s' } });
  const err = await pool.submit(() => new Promise((r) => setTimeout(r, 30_000))).catch((e: unknown) => e);
  const elapsed = performance.now() - t0;
  expect(err).toBeInstanceOf(BrokenPoolError);
  expect((err as Error).message).toMatch(/^the pool's unit unitpool-[0-9a-f]+\.service stopped/);
  expect(elapsed).toBeGreaterThanOrEqual(1900);
  expect(elapsed).toBeLessThan(10_000);
  await expect(pool.submit(() => 1)).rejects.toBeInstanceOf(BrokenPoolError);
});

// ── what cgroup v1 cannot do ─────────────────────────────────────────────────────────────────────────────

describe.runIf(layout !== 'v2')(
  'cgroup v2 only: refused on this cgroup v1 host, and why (the same passed unchecked through raw)',
  () => {
    const V1_REFUSED: [PropertyName, Record<string, unknown>, RegExp][] = [
      ['AllowedCPUs', { AllowedCPUs: '0' }, /cpuset controller only on cgroup v2/],
      ['MemoryHigh', { MemoryHigh: '200M' }, /memory\.high exists only in the cgroup v2/],
      ['MemorySwapMax', { MemorySwapMax: 0 }, /swap limits only on cgroup v2/],
      [
        'IOWriteBandwidthMax',
        { IOWriteBandwidthMax: { [dir.path]: '3M' } },
        /buffered writes.*writeback, which v1 does not charge/,
      ],
      ['OOMPolicy', { OOMPolicy: 'stop' }, /only through cgroup v2's memory\.events/],
    ];
    it.each(V1_REFUSED)('%s is refused with a CapabilityError that says why', async (name, properties, why) => {
      const err = await expectRefused({ properties }, name);
      expect(err.message).toMatch(
        new RegExp(`^${name} cannot be enforced on this host: this host runs its cgroup controllers on v1`),
      );
      expect(err.reason).toMatch(why);
      expect(err.message).toContain(`bestEffort: ['${name}']`);
      expect(err.code).toBe('ERR_UNITPOOL_CAPABILITY');
    });

    it.runIf(!enforced('IOWeight'))(`IOWeight is refused: ${refusedHere('IOWeight')}`, async () => {
      const err = await expectRefused({ properties: { IOWeight: 50 } }, 'IOWeight');
      expect(err.reason).toMatch(/BFQ/);
    });

    describe('what systemd 252 does with them here, when they are passed unchecked (raw)', () => {
      let pool: UnitPool;
      beforeAll(async () => {
        pool = await startPool({
          maxWorkers: 1,
          properties: { MemoryMax: '150M' },
          raw: [
            ['AllowedCPUs', 'ay', Buffer.from([0b1])],
            ['MemoryHigh', 't', 100 * MiB],
            ['MemorySwapMax', 't', 0],
            ['IOWeight', 't', 50],
            ['IOWriteBandwidthMax', 'a(st)', [[dir.path, 2_000_000]]],
            ['OOMPolicy', 's', 'kill'],
          ],
        });
      });
      afterAll(() => pool?.shutdown());

      it('AllowedCPUs: accepted, and the workers still run on every CPU', async () => {
        const status = await pool.submit(async () =>
          (await import('node:fs')).readFileSync('/proc/self/status', 'utf8'),
        );
        const all = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s+(\S+)$/m)![1];
        expect(status.match(/^Cpus_allowed_list:\s+(\S+)$/m)![1]).toBe(all);
      });

      it('MemoryHigh, MemorySwapMax: accepted, and the only v1 memory limit is MemoryMax', () => {
        expect(cgroupFile(pool, 'memory', 'memory.limit_in_bytes')).toBe(String(150 * MiB));
        expect(Number(cgroupFile(pool, 'memory', 'memory.soft_limit_in_bytes'))).toBeGreaterThan(2 ** 62);
      });

      // Which weight file the v1 blkio controller has depends on the kernel's I/O schedulers: BFQ's blkio.bfq.weight,
      // CFQ's blkio.weight, or neither (mq-deadline/kyber only, as on some of these machines).
      const weightFiles = () =>
        ['blkio.bfq.weight', 'blkio.weight'].filter((f) =>
          existsSync(`/sys/fs/cgroup/blkio${pool.unit!.controlGroup}/${f}`),
        );
      it('IOWeight=50: written to blkio.bfq.weight converted twice (113, above the default 100), on a disk without BFQ; a kernel without BFQ or CFQ has no weight file to write', () => {
        if (weightFiles().includes('blkio.bfq.weight'))
          expect(cgroupFile(pool, 'blkio', 'blkio.bfq.weight')).toBe('113');
        else expect(weightFiles()).toEqual([]);
      });

      it("IOWriteBandwidthMax=2M: fsync'd writes are throttled, buffered writes are not", async () => {
        const r = await pool.submit(
          async (path: string) => {
            const fs = await import('node:fs');
            let t0 = performance.now();
            fs.writeFileSync(path, Buffer.alloc(8 * 1024 * 1024, 1));
            const buffered = (performance.now() - t0) / 1000;
            fs.rmSync(path);
            t0 = performance.now();
            const fd = fs.openSync(path, 'w');
            fs.writeSync(fd, Buffer.alloc(3 * 1024 * 1024, 2));
            fs.fsyncSync(fd);
            fs.closeSync(fd);
            const synced = (performance.now() - t0) / 1000;
            fs.rmSync(path);
            return { buffered, synced };
          },
          [`${dir.path}/io-write-probe`],
        );
        console.log(
          `raw IOWriteBandwidthMax=2M on cgroup v1: 8 MiB buffered in ${r.buffered.toFixed(3)} s, 3 MiB + fsync in ${r.synced.toFixed(2)} s`,
        );
        expect(r.buffered).toBeLessThan(1); // 2 MB/s would take 4 s
        expect(r.synced).toBeGreaterThanOrEqual(1);
      });

      it('OOMPolicy=kill: accepted, and after an OOM kill the unit goes on as if it were continue', async () => {
        const err = await pool.submit(allocate, [200]).catch((e: unknown) => e);
        expect(err).toMatchObject({ name: 'WorkerExitedError', reason: 'oom-kill' });
        await new Promise((r) => setTimeout(r, 500));
        expect(await pool.submit(() => 'alive')).toBe('alive');
      });
    });
  },
);
