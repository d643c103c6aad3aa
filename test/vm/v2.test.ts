// What only a pure cgroup v2 host with systemd as PID 1 can show (the VM tier: `npm run test:vm`): the OOM kill
// reported by systemd itself (Result=oom-kill), memory.events / memory.peak, CPUUsageNSec under CPUQuota, IO
// bandwidth limits on a virtio disk; the same through the pool where the pool has the feature. On the hybrid v1
// machines (and in the v1 sandbox) every test here is skipped, with the reason in its title.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UnitPool, WorkerExitedError } from '../../src/index.js';
import {
  cgroupDir,
  inVm,
  keyed,
  measureCpuShare,
  run,
  show,
  systemctl,
  systemdRun,
  SYSTEM,
  titled,
  unitName,
  v2SkipReason,
  waitFor,
} from './helpers.js';

if (v2SkipReason) console.warn(`cgroup v2 tests skipped: ${v2SkipReason}`);
const skip = v2SkipReason !== undefined;
const MiB = 1024 * 1024;

/** Units started here that may still be running or failed (kept for their Result): cleaned up at the end. */
const started: string[] = [];
afterAll(() => {
  if (skip) return;
  for (const u of started) {
    systemctl(SYSTEM, ['stop', u]);
    systemctl(SYSTEM, ['reset-failed', u]);
  }
});

/** busctl: the unit's object path, and one property of it, read over D-Bus. */
function busProperty(unit: string, iface: string, prop: string): string {
  const path = run('busctl', [
    'call',
    'org.freedesktop.systemd1',
    '/org/freedesktop/systemd1',
    'org.freedesktop.systemd1.Manager',
    'GetUnit',
    's',
    unit,
  ]);
  expect(path.status, path.stderr).toBe(0);
  const objectPath = JSON.parse(path.stdout.trim().replace(/^o /, ''));
  const r = run('busctl', ['get-property', 'org.freedesktop.systemd1', objectPath, iface, prop]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe.skipIf(skip)(titled('the VM tier guest'), () => {
  it('has systemd as PID 1 on a pure cgroup v2 hierarchy with the cpu, io, memory and pids controllers', () => {
    const controllers = readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').trim().split(' ');
    expect(controllers).toEqual(expect.arrayContaining(['cpu', 'io', 'memory', 'pids']));
    expect(readFileSync('/proc/mounts', 'utf8')).not.toMatch(/ cgroup /); // no v1 hierarchy mounted
    expect(run('systemctl', ['--version']).stdout).toMatch(/^systemd 252/);
    if (inVm) expect(readFileSync('/proc/cmdline', 'utf8')).toContain('systemd.unified_cgroup_hierarchy=1');
  });

  it('garbage-collects a transient unit that succeeded at once (GetUnit then fails)', () => {
    const unit = unitName('gc');
    const r = systemdRun(SYSTEM, ['--unit', unit, '--wait', '--quiet', 'true']);
    expect(r.status, r.stderr).toBe(0);
    const get = run('busctl', [
      'call',
      'org.freedesktop.systemd1',
      '/org/freedesktop/systemd1',
      'org.freedesktop.systemd1.Manager',
      'GetUnit',
      's',
      unit,
    ]);
    expect(get.status).not.toBe(0);
    expect(get.stderr).toMatch(/not loaded|NoSuchUnit/i);
  });
});

describe.skipIf(skip)(titled('cgroup v2: memory'), () => {
  it('MemoryMax=50M: a 200 MB allocation ends the unit with Result=oom-kill, as systemd reports it over D-Bus', () => {
    const unit = unitName('oom');
    started.push(unit);
    // dd allocates its 200 MB buffer and fills it from /dev/zero: every page is touched.
    const r = systemdRun(SYSTEM, [
      '--unit',
      unit,
      '-p',
      'MemoryMax=50M',
      '-p',
      'MemorySwapMax=0',
      '--wait',
      'dd',
      'if=/dev/zero',
      'of=/dev/null',
      'bs=200M',
      'count=1',
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('Finished with result: oom-kill');
    expect(busProperty(unit, 'org.freedesktop.systemd1.Service', 'Result')).toBe('s "oom-kill"');
    const props = show(unit, ['Result', 'ActiveState', 'ExecMainCode', 'ExecMainStatus', 'MemoryMax']);
    expect(props).toMatchObject({
      Result: 'oom-kill',
      ActiveState: 'failed',
      ExecMainCode: '2',
      ExecMainStatus: '9',
      MemoryMax: String(50 * MiB),
    });
  });

  it('memory.events counts the OOM kill and memory.peak stays within MemoryMax (OOMPolicy=continue keeps the unit)', async () => {
    const unit = unitName('peak');
    started.push(unit);
    const script =
      'dd if=/dev/zero of=/dev/null bs=200M count=1; echo "dd=$?"; dd if=/dev/zero of=/dev/null bs=30M count=1; exec sleep 600';
    const r = systemdRun(SYSTEM, [
      '--unit',
      unit,
      '-p',
      'MemoryMax=50M',
      '-p',
      'MemorySwapMax=0',
      '-p',
      'OOMPolicy=continue',
      'sh',
      '-c',
      script,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const dir = cgroupDir(unit);
    const events = await waitFor(
      'an oom_kill in memory.events',
      () => {
        const e = keyed(readFileSync(join(dir, 'memory.events'), 'utf8'));
        return (e.oom_kill ?? 0) >= 1 && e;
      },
      60_000,
    );
    expect(events.oom_kill).toBe(1);
    expect(events.max).toBeGreaterThan(0); // the limit was hit
    expect(readFileSync(join(dir, 'memory.max'), 'utf8').trim()).toBe(String(50 * MiB));
    const peak = Number(readFileSync(join(dir, 'memory.peak'), 'utf8'));
    expect(peak).toBeLessThanOrEqual(50 * MiB);
    expect(peak).toBeGreaterThan(40 * MiB); // it really got up to the limit
    // The shell survived (the OOM killer took dd, the biggest process), so the unit is still running.
    expect(show(unit, ['ActiveState', 'Result'])).toMatchObject({ ActiveState: 'active', Result: 'success' });
    expect(Number(show(unit, ['MemoryCurrent']).MemoryCurrent)).toBeLessThan(50 * MiB);
  });

  it('the pool: a task allocating 300 MB under MemoryMax=120M rejects with reason oom-kill, and the pool goes on', async () => {
    await using pool = new UnitPool({ maxWorkers: 1, properties: { MemoryMax: '120M', MemorySwapMax: 0 } });
    const err = await pool
      .submit(() => {
        const keep: Buffer[] = [];
        for (let i = 0; i < 300; i++) keep.push(Buffer.alloc(1024 * 1024, 1));
        return keep.length;
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err).toMatchObject({ reason: 'oom-kill', signal: 'SIGKILL' });
    const dir = `/sys/fs/cgroup${pool.unit!.controlGroup}`;
    expect(keyed(readFileSync(join(dir, 'memory.events'), 'utf8')).oom_kill).toBe(1);
    expect(Number(readFileSync(join(dir, 'memory.peak'), 'utf8'))).toBeLessThanOrEqual(120 * MiB);
    expect(await pool.submit(() => 'a new worker')).toBe('a new worker');
  });
});

describe.skipIf(skip)(titled('cgroup v2: CPU'), () => {
  it('CPUQuota=20%: a busy loop gets 15-25% of a CPU by CPUUsageNSec over 4 s (and by cpu.stat)', async () => {
    const unit = unitName('cpu');
    started.push(unit);
    const r = systemdRun(SYSTEM, ['--unit', unit, '-p', 'CPUQuota=20%', 'sh', '-c', 'while :; do :; done']);
    expect(r.status, r.stderr).toBe(0);
    const m = await measureCpuShare(unit, 4000);
    systemctl(SYSTEM, ['stop', unit]);
    console.log(
      `CPUQuota=20%: CPUUsageNSec share ${(m.systemd * 100).toFixed(1)}%, cpu.stat ${(m.cgroup * 100).toFixed(1)}% over ${m.wallMs.toFixed(0)} ms`,
    );
    expect(m.cpuMax).toBe('20000 100000');
    expect(m.wallMs).toBeGreaterThanOrEqual(3000);
    expect(m.systemd).toBeGreaterThanOrEqual(0.15);
    expect(m.systemd).toBeLessThanOrEqual(0.25);
    expect(m.cgroup).toBeGreaterThanOrEqual(0.15);
    expect(m.cgroup).toBeLessThanOrEqual(0.25);
  });

  it('the pool under CPUQuota=20%: one worker, and a busy task gets 15-25% of a CPU', async () => {
    await using pool = new UnitPool({ properties: { CPUQuota: '20%' } });
    expect(pool.maxWorkers).toBe(1);
    const share = await pool.submit(() => {
      // Spin for 4 s of wall time after a 1 s warm-up; the share of it spent on the CPU is what the quota allows.
      const spin = (ms: number) => {
        const end = Date.now() + ms;
        let x = 0;
        while (Date.now() < end) x++;
        return x;
      };
      spin(1000);
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      spin(4000);
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / (Number(process.hrtime.bigint() - t0) / 1000);
    });
    console.log(`pool under CPUQuota=20%: the worker's CPU share ${(share * 100).toFixed(1)}%`);
    expect(share).toBeGreaterThanOrEqual(0.15);
    expect(share).toBeLessThanOrEqual(0.25);
    const ns = BigInt(show(pool.unit!.name, ['CPUUsageNSec']).CPUUsageNSec || '0');
    expect(ns).toBeGreaterThan(0n); // systemd reports it on v2 (never on the v1 machines)
  });
});

// The IO test disk is the VM's second virtio disk (serial unitpool-io), found by the guest; elsewhere there is none.
const ioDisk = process.env.UNITPOOL_VM_IO_DISK;

function ddSeconds(r: { stdout: string; stderr: string }): { seconds: number; bytes: number } {
  const m = /(\d+) bytes .* copied, ([\d.]+) s/.exec(r.stdout + r.stderr);
  if (!m) throw new Error(`no dd summary in: ${r.stdout}${r.stderr}`);
  return { bytes: Number(m[1]), seconds: Number(m[2]) };
}

describe.skipIf(skip || !ioDisk)(
  titled(
    `cgroup v2: IO bandwidth limits on a virtio disk${ioDisk ? ` (${ioDisk})` : ' [no test disk: runs in the VM tier]'}`,
  ),
  () => {
    const disk = ioDisk!;
    const dd = (props: string[], args: string[]) =>
      systemdRun(SYSTEM, [
        '--unit',
        unitName('io'),
        '--wait',
        '--pipe',
        '--quiet',
        ...props.flatMap((p) => ['-p', p]),
        'dd',
        ...args,
        'bs=1M',
        'count=8',
      ]);

    it('IOWriteBandwidthMax=2M: 8 MiB of direct writes take about 4 s (unlimited: far less)', () => {
      const free = dd([], [`of=${disk}`, 'if=/dev/zero', 'oflag=direct']);
      expect(free.status, free.stderr).toBe(0);
      const limited = dd([`IOWriteBandwidthMax=${disk} 2M`], [`of=${disk}`, 'if=/dev/zero', 'oflag=direct']);
      expect(limited.status, limited.stderr).toBe(0);
      const f = ddSeconds(free);
      const l = ddSeconds(limited);
      console.log(
        `IOWriteBandwidthMax=2M: ${(l.bytes / MiB / l.seconds).toFixed(2)} MiB/s limited, ${(f.bytes / MiB / f.seconds).toFixed(1)} MiB/s unlimited`,
      );
      expect(l.bytes).toBe(8 * MiB);
      expect(l.bytes / MiB / l.seconds).toBeLessThanOrEqual(2.4);
      expect(l.seconds).toBeGreaterThan(3);
      expect(f.seconds * 2).toBeLessThan(l.seconds);
    });

    it('IOReadBandwidthMax=2M: 8 MiB of direct reads take about 4 s', () => {
      const limited = dd([`IOReadBandwidthMax=${disk} 2M`], [`if=${disk}`, 'of=/dev/null', 'iflag=direct']);
      expect(limited.status, limited.stderr).toBe(0);
      const l = ddSeconds(limited);
      console.log(`IOReadBandwidthMax=2M: ${(l.bytes / MiB / l.seconds).toFixed(2)} MiB/s`);
      expect(l.bytes / MiB / l.seconds).toBeLessThanOrEqual(2.4);
      expect(l.seconds).toBeGreaterThan(3);
    });
  },
);
