// The presets, from inside their workers: each blocks what PRESET_DOCS says it blocks, and keeps what it keeps.
import { availableParallelism, totalmem } from 'node:os';
import { privateTmpEntries, underPrivateTmp } from '../support/systemd.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnitPool } from '../../src/index.js';
import {
  capNames,
  cgroupFile,
  connectProbe,
  execProbe,
  layout,
  listenProbe,
  listProbe,
  MiB,
  ROOT,
  scratchDir,
  startPool,
  statusProbe,
  writeProbe,
} from './helpers.js';

const dir = scratchDir('presets');
afterAll(() => dir.remove());

/** MemoryMax=50%: systemd scales the host's RAM (its own reading of it, rounded to pages). */
function expectHalfOfRam(pool: UnitPool): void {
  const limit = Number(cgroupFile(pool, 'memory', layout === 'v2' ? 'memory.max' : 'memory.limit_in_bytes'));
  expect(Math.abs(limit - totalmem() / 2) / (totalmem() / 2)).toBeLessThan(0.01);
}

describe("preset: 'untrusted'", () => {
  let pool: UnitPool;
  beforeAll(async () => {
    pool = await startPool({ preset: 'untrusted', maxWorkers: 2 });
  });
  afterAll(() => pool?.shutdown());

  it('a fresh dynamic uid, no capabilities at all, no new privileges, a seccomp filter, umask 0077', async () => {
    const status = await pool.submit(statusProbe);
    const uid = Number(status.Uid!.split(/\s+/)[0]);
    expect(uid).toBeGreaterThanOrEqual(61184);
    expect(uid).toBeLessThanOrEqual(65519);
    expect(capNames(status.CapBnd!)).toEqual([]);
    expect(capNames(status.CapEff!)).toEqual([]);
    expect(status.NoNewPrivs).toBe('1');
    expect(status.Seccomp).toBe('2');
    expect(await pool.submit(() => process.umask())).toBe(0o077);
  });

  it('no network: only lo, and no socket of any family (socket(2) fails with EPERM)', async () => {
    const ifaces = await pool.submit(async () => {
      const { readFileSync } = await import('node:fs');
      return readFileSync('/proc/net/dev', 'utf8')
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0]!.trim())
        .filter(Boolean);
    });
    expect(ifaces).toEqual(['lo']);
    expect(await pool.submit(listenProbe, ['127.0.0.1'])).toBe('EPERM');
    expect(await pool.submit(connectProbe, ['192.0.2.1', 80])).toBe('EPERM');
  });

  it('no writes but its private /tmp; no home directories; no devices; no other processes', async () => {
    expect(await pool.submit(writeProbe, ['/usr/unitpool-probe'])).toBe('EROFS');
    expect(await pool.submit(writeProbe, [join(dir.path, 'probe')])).toBe('EROFS');
    expect(await pool.submit(writeProbe, ['/tmp/unitpool-probe'])).toBe('written');
    for (const d of ['/home', '/root']) {
      const seen = await pool.submit(listProbe, [d]);
      expect(Array.isArray(seen) ? seen : [], d).toEqual([]);
    }
    const dev = (await pool.submit(listProbe, ['/dev'])) as string[];
    expect(dev).toContain('null');
    expect(dev).not.toContain('kvm');
    expect(await pool.submit(async () => (await import('node:fs')).existsSync('/proc/1'))).toBe(false);
  });

  it('syscalls outside @system-service kill the caller (mount: SIGSYS); no new namespaces', async () => {
    const mount = await pool.submit(execProbe, ['mount', ['-t', 'tmpfs', 'none', '/tmp']]);
    expect(mount.signal).toBe('SIGSYS');
    const unshare = await pool.submit(execProbe, ['unshare', ['-U', 'true']]);
    expect(unshare.status).not.toBe(0);
  });

  it('caps: TasksMax=1024 and MemoryMax=50% of RAM', () => {
    expect(cgroupFile(pool, 'pids', 'pids.max')).toBe('1024');
    expectHalfOfRam(pool);
  });

  it('still runs ordinary work', async () => {
    expect(await pool.submit((xs: number[]) => xs.reduce((a, b) => a + b, 0), [[1, 2, 3]])).toBe(6);
  });
});

describe("preset: 'currentDirOnly'", () => {
  let pool: UnitPool;
  beforeAll(async () => {
    pool = await startPool({ preset: 'currentDirOnly', maxWorkers: 1 });
  });
  afterAll(() => pool?.shutdown());

  it('the working directory is the current one, and writable', async () => {
    expect(await pool.submit(() => process.cwd())).toBe(process.cwd());
    expect(await pool.submit(writeProbe, [join(dir.path, 'written-inside-cwd')])).toBe('written');
  });

  it('nothing else is writable: /usr, /etc, the parent of the working directory', async () => {
    expect(await pool.submit(writeProbe, ['/usr/unitpool-probe'])).toBe('EROFS');
    expect(await pool.submit(writeProbe, ['/etc/unitpool-probe'])).toBe('EROFS');
    // (Unless the checkout lies under /tmp, where PrivateTmp gives the unit a writable /tmp of its own.)
    const parent = join(process.cwd(), '..');
    if (!underPrivateTmp(parent)) expect(await pool.submit(writeProbe, [join(parent, 'unitpool-probe')])).toBe('EROFS');
  });

  it('home directories look empty (tmpfs), /tmp is private, devices are not there, kernel tunables are read-only', async () => {
    for (const d of ['/home', '/root']) expect(await pool.submit(listProbe, [d]), d).toEqual([]);
    expect(await pool.submit(listProbe, ['/tmp'])).toEqual(privateTmpEntries('/tmp'));
    expect((await pool.submit(listProbe, ['/dev'])) as string[]).not.toContain('kvm');
    expect(await pool.submit(writeProbe, ['/proc/sys/kernel/printk_ratelimit'])).toBe('EROFS');
  });

  it('keeps the network and the user', async () => {
    const status = await pool.submit(statusProbe);
    expect(status.Uid!.split(/\s+/)[0]).toBe(String(process.getuid!()));
    const ifaces = await pool.submit(async () => (await import('node:fs')).readFileSync('/proc/net/dev', 'utf8'));
    expect(ifaces).toContain('lo:');
    expect(await pool.submit(listenProbe, ['127.0.0.1'])).toBe('listening');
  });

  it('the project is still readable (unitpool itself runs from it)', async () => {
    expect(
      await pool.submit(async (p: string) => (await import('node:fs')).existsSync(p), [join(ROOT, 'package.json')]),
    ).toBe(true);
  });
});

describe("preset: 'batch'", () => {
  let pool: UnitPool;
  beforeAll(async () => {
    pool = await startPool({ preset: 'batch' });
  });
  afterAll(() => pool?.shutdown());

  it('CPUQuota of half the CPUs (rounded up to whole CPUs), and maxWorkers to match', () => {
    const cpus = Math.ceil(availableParallelism() / 2);
    const quota = cgroupFile(pool, 'cpu', layout === 'v2' ? 'cpu.max' : 'cpu.cfs_quota_us');
    expect(quota).toBe(layout === 'v2' ? `${cpus * 100000} 100000` : String(cpus * 100000));
    expect(pool.maxWorkers).toBe(cpus);
  });

  it('MemoryMax of half the RAM', () => {
    expectHalfOfRam(pool);
  });

  it('and nothing else: the worker runs as root, with the network, and can write the disk', async () => {
    expect(await pool.submit(() => process.getuid!())).toBe(0);
    expect(await pool.submit(listenProbe, ['127.0.0.1'])).toBe('listening');
    expect(await pool.submit(writeProbe, [join(dir.path, 'batch-probe')])).toBe('written');
    expect((await pool.usage()).memoryCurrent).toBeLessThan(512 * MiB);
  });
});
