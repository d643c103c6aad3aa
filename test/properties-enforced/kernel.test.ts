// Network and kernel protections, seen from inside a forked worker: each test makes the call the property forbids
// (as root, where nothing else would stop it) and checks that it fails, and how. One pool holds every protection
// that can live together; the BPF firewall (IPAddressDeny/IPAddressAllow) gets its own, and so do the properties
// that stop Node itself (MemoryDenyWriteExecute) or need a security module (SELinuxContext, AppArmorProfile).
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptionError, UnitPool } from '../../src/index.js';
import {
  capNames,
  connectProbe,
  enforced,
  execProbe,
  expectRefused,
  layout,
  readProbe,
  refusedHere,
  scratchDir,
  sink,
  startPool,
  statusProbe,
  writeProbe,
} from './helpers.js';

const dir = scratchDir('kernel');
afterAll(() => dir.remove());

/**
 * A static x86-64 ELF that makes one 32-bit system call (getpid through int 0x80) and exits 0: with
 * SystemCallArchitectures=native the i386 ABI is filtered, and the process dies of SIGSYS.
 */
function i386SyscallElf(): Buffer {
  const code = Buffer.from([0xb8, 0x14, 0, 0, 0, 0xcd, 0x80, 0x31, 0xff, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05]);
  const b = Buffer.alloc(120 + code.length);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // ELF, 64-bit, little-endian, version 1
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(0x3e, 18); // x86-64
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(0x400000n + 120n, 24); // entry
  b.writeBigUInt64LE(64n, 32); // program headers right after this header
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(1, 56);
  b.writeUInt32LE(1, 64); // PT_LOAD
  b.writeUInt32LE(5, 68); // R+X
  b.writeBigUInt64LE(0x400000n, 80);
  b.writeBigUInt64LE(0x400000n, 88);
  b.writeBigUInt64LE(BigInt(b.length), 96);
  b.writeBigUInt64LE(BigInt(b.length), 104);
  b.writeBigUInt64LE(0x1000n, 112);
  code.copy(b, 120);
  return b;
}

const onX86_64 = process.arch === 'x64';

describe('a pool with the kernel protections', () => {
  let pool: UnitPool;
  const elf = join(dir.path, 'i386-syscall');
  beforeAll(async () => {
    if (onX86_64) {
      writeFileSync(elf, i386SyscallElf());
      chmodSync(elf, 0o755);
    }
    pool = await startPool({
      maxWorkers: 2,
      properties: {
        PrivateNetwork: true,
        PrivateIPC: true,
        ProtectHostname: true,
        ProtectClock: true,
        ProtectKernelTunables: true,
        ProtectKernelModules: true,
        ProtectKernelLogs: true,
        ProtectControlGroups: true,
        LockPersonality: true,
        RestrictNamespaces: true,
        RestrictSUIDSGID: true,
        RestrictRealtime: true,
        NoNewPrivileges: true,
        SystemCallFilter: '~@mount',
        SystemCallArchitectures: 'native',
      },
    });
  });
  afterAll(() => pool?.shutdown());

  it('PrivateNetwork: only lo in /proc/net/dev, and connect() to the outside fails with ENETUNREACH', async () => {
    const ifaces = await pool.submit(async () => {
      const { readFileSync } = await import('node:fs');
      return readFileSync('/proc/net/dev', 'utf8')
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0]!.trim())
        .filter(Boolean);
    });
    expect(ifaces).toEqual(['lo']);
    expect(await pool.submit(connectProbe, ['192.0.2.1', 53])).toBe('ENETUNREACH');
  });

  it('PrivateIPC: its own IPC namespace (System V IPC and POSIX message queues)', async () => {
    const ns = await pool.submit(async () => (await import('node:fs')).readlinkSync('/proc/self/ns/ipc'));
    expect(ns).toMatch(/^ipc:\[\d+\]$/);
    expect(ns).not.toBe(readlinkSync('/proc/self/ns/ipc'));
  });

  it('ProtectHostname: its own UTS namespace, and sethostname() is refused', async () => {
    const ns = await pool.submit(async () => (await import('node:fs')).readlinkSync('/proc/self/ns/uts'));
    expect(ns).not.toBe(readlinkSync('/proc/self/ns/uts'));
    const r = await pool.submit(execProbe, ['hostname', ['unitpool-probe']]);
    expect(r.status).not.toBe(0);
    // hostname(1) turns the EPERM from the seccomp filter into this message.
    expect(r.stderr).toMatch(/Operation not permitted|must be root/);
    expect(await pool.submit(async () => (await import('node:os')).hostname())).toBe(hostname());
  });

  it('ProtectClock: setting the clock is refused; CAP_SYS_TIME and CAP_WAKE_ALARM are out of the bounding set', async () => {
    // Were it not refused, this would set the clock to what it already is.
    const r = await pool.submit(async () => {
      const { spawnSync } = await import('node:child_process');
      const now = (Date.now() / 1000).toFixed(3);
      const p = spawnSync('date', ['-s', `@${now}`], { encoding: 'utf8' });
      return { status: p.status, stderr: p.stderr };
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Operation not permitted/);
    const caps = capNames((await pool.submit(statusProbe)).CapBnd!);
    expect(caps).not.toContain('CAP_SYS_TIME');
    expect(caps).not.toContain('CAP_WAKE_ALARM');
  });

  it('ProtectKernelTunables: /proc/sys is read-only (EROFS), even writing a value back', async () => {
    const r = await pool.submit(async () => {
      const fs = await import('node:fs');
      const path = '/proc/sys/kernel/printk_ratelimit';
      const value = fs.readFileSync(path, 'utf8');
      try {
        fs.writeFileSync(path, value);
        return 'written';
      } catch (e) {
        return (e as NodeJS.ErrnoException).code;
      }
    });
    expect(r).toBe('EROFS');
  });

  it('ProtectKernelModules: CAP_SYS_MODULE is out of the bounding set and the module directories are hidden', async () => {
    expect(capNames((await pool.submit(statusProbe)).CapBnd!)).not.toContain('CAP_SYS_MODULE');
    for (const d of ['/usr/lib/modules', '/lib/modules']) {
      const seen = await pool.submit(
        async (path: string) => {
          const fs = await import('node:fs');
          try {
            return fs.readdirSync(path).length;
          } catch (e) {
            return (e as NodeJS.ErrnoException).code;
          }
        },
        [d],
      );
      expect([0, 'ENOENT', 'EACCES']).toContain(seen);
    }
  });

  it('ProtectKernelLogs: /proc/kmsg and /dev/kmsg are covered by inaccessible nodes, syslog(2) (dmesg) is refused, CAP_SYSLOG is gone', async () => {
    // (Not read: on a host without the protection, reading /proc/kmsg would wait for kernel messages.)
    const covered = await pool.submit(async () => {
      const { readFileSync } = await import('node:fs');
      return readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[4])
        .filter((m) => m === '/proc/kmsg' || m === '/dev/kmsg');
    });
    expect(covered).toContain('/proc/kmsg');
    const r = await pool.submit(execProbe, ['dmesg', []]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Operation not permitted|read kernel buffer failed/);
    expect(capNames((await pool.submit(statusProbe)).CapBnd!)).not.toContain('CAP_SYSLOG');
  });

  it('ProtectControlGroups: /sys/fs/cgroup is read-only (mkdir of a cgroup: EROFS)', async () => {
    const where = layout === 'v2' ? '/sys/fs/cgroup/unitpool-probe' : '/sys/fs/cgroup/pids/unitpool-probe';
    const r = await pool.submit(
      async (path: string) => {
        const fs = await import('node:fs');
        try {
          fs.mkdirSync(path);
          fs.rmdirSync(path);
          return 'created';
        } catch (e) {
          return (e as NodeJS.ErrnoException).code;
        }
      },
      [where],
    );
    expect(r).toBe('EROFS');
  });

  it('LockPersonality: personality(2) cannot change (setarch fails)', async () => {
    for (const args of [
      ['x86_64', '-R', 'true'],
      ['i686', 'true'],
    ]) {
      const r = await pool.submit(execProbe, ['setarch', args]);
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr).toMatch(/failed to set personality/);
    }
  });

  it('RestrictNamespaces: unshare(2) of any namespace fails', async () => {
    for (const flag of ['-n', '-U', '-m', '-i']) {
      const r = await pool.submit(execProbe, ['unshare', [flag, 'true']]);
      expect(r.status, flag).not.toBe(0);
      expect(r.stderr).toMatch(/Operation not permitted/);
    }
  });

  it('RestrictSUIDSGID: chmod u+s / g+s fails with EPERM', async () => {
    const r = await pool.submit(
      async (path: string) => {
        const fs = await import('node:fs');
        fs.writeFileSync(path, '#!/bin/sh\n');
        const out: string[] = [];
        for (const mode of [0o4755, 0o2755]) {
          try {
            fs.chmodSync(path, mode);
            out.push('set');
          } catch (e) {
            out.push((e as NodeJS.ErrnoException).code!);
          }
        }
        fs.chmodSync(path, 0o755);
        return out;
      },
      [join(dir.path, 'suid-probe')],
    );
    expect(r).toEqual(['EPERM', 'EPERM']);
  });

  it('RestrictRealtime: a realtime scheduling policy is refused (chrt -f)', async () => {
    const r = await pool.submit(execProbe, ['chrt', ['-f', '10', 'true']]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Operation not permitted/);
  });

  it('NoNewPrivileges: NoNewPrivs is 1, and seccomp filters are in place', async () => {
    const status = await pool.submit(statusProbe);
    expect(status.NoNewPrivs).toBe('1');
    expect(status.Seccomp).toBe('2');
  });

  it('SystemCallFilter=~@mount: mount(2) kills the process that calls it (SIGSYS)', async () => {
    const r = await pool.submit(execProbe, ['mount', ['-t', 'tmpfs', 'none', dir.path]]);
    expect(r.signal).toBe('SIGSYS');
  });

  it('SystemCallErrorNumber=EPERM: a call the filter blocks fails with EPERM instead of killing the caller', async () => {
    // The same mount(2) as above, which this file's pool (no SystemCallErrorNumber) answers with SIGSYS.
    await using quiet = await startPool({
      maxWorkers: 1,
      properties: { SystemCallFilter: '~@mount', SystemCallErrorNumber: 'EPERM' },
    });
    const r = await quiet.submit(execProbe, ['mount', ['-t', 'tmpfs', 'none', dir.path]]);
    expect(r.signal).toBeNull();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/permission denied|not permitted/i);
  });

  it.runIf(onX86_64)(
    'SystemCallArchitectures=native: a 32-bit (int 0x80) system call kills the process (SIGSYS)',
    async () => {
      // Outside the unit the same binary runs fine: the kernel has the i386 ABI, so the filter is what stops it.
      const control = spawnSync(elf);
      expect({ status: control.status, signal: control.signal }).toEqual({ status: 0, signal: null });
      const r = await pool.submit(execProbe, [elf, []]);
      expect(r.signal).toBe('SIGSYS');
    },
  );

  it('the worker still does its job under all of this', async () => {
    expect(await pool.submit((a: number, b: number) => a * b, [6, 7])).toBe(42);
    expect(await pool.submit(writeProbe, [join(dir.path, 'still-writable')])).toBe('written');
  });
});

describe('IPAddressDeny / IPAddressAllow (the BPF firewall)', () => {
  it.runIf(enforced('IPAddressDeny'))(
    'IPAddressDeny=any with IPAddressAllow=127.0.0.1: 127.0.0.1 connects, 127.0.0.2 is dropped',
    async () => {
      await using pool = await startPool({
        maxWorkers: 1,
        properties: { PrivateNetwork: true, IPAddressDeny: 'any', IPAddressAllow: '127.0.0.1' },
      });
      const seen = await pool.submit(async () => {
        const net = await import('node:net');
        const serve = (host: string) =>
          new Promise<import('node:net').Server>((resolve) => {
            const s = net.createServer((c) => {
              c.on('error', () => {});
              c.end('hi');
            });
            s.listen(0, host, () => resolve(s));
          });
        const connect = (host: string, port: number) =>
          new Promise<string>((resolve) => {
            const c = net.connect({ host, port, timeout: 1500 });
            c.once('connect', () => (c.destroy(), resolve('connected')));
            c.once('timeout', () => (c.destroy(), resolve('timeout')));
            c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
          });
        const allowed = await serve('127.0.0.1');
        const denied = await serve('127.0.0.2');
        const out = {
          allowed: await connect('127.0.0.1', (allowed.address() as import('node:net').AddressInfo).port),
          denied: await connect('127.0.0.2', (denied.address() as import('node:net').AddressInfo).port),
        };
        allowed.close();
        denied.close();
        return out;
      });
      expect(seen).toEqual({ allowed: 'connected', denied: 'timeout' });
    },
  );

  it.runIf(enforced('IPAddressDeny'))(
    'without IPAddressDeny the same connection goes through (the control)',
    async () => {
      await using pool = await startPool({ maxWorkers: 1, properties: { PrivateNetwork: true } });
      const seen = await pool.submit(async () => {
        const net = await import('node:net');
        const s = await new Promise<import('node:net').Server>((resolve) => {
          const srv = net.createServer((c) => {
            c.on('error', () => {});
            c.end();
          });
          srv.listen(0, '127.0.0.2', () => resolve(srv));
        });
        const r = await new Promise<string>((resolve) => {
          const c = net.connect({
            host: '127.0.0.2',
            port: (s.address() as import('node:net').AddressInfo).port,
            timeout: 1500,
          });
          c.once('connect', () => (c.destroy(), resolve('connected')));
          c.once('timeout', () => resolve('timeout'));
          c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        });
        s.close();
        return r;
      });
      expect(seen).toBe('connected');
    },
  );

  // A legacy cgroup v1 host (no cgroup2 at all) or a user manager cannot attach the BPF firewall.
  it.runIf(!enforced('IPAddressDeny'))(`is refused here: ${refusedHere('IPAddressDeny')}`, async () => {
    const err = await expectRefused({ properties: { IPAddressDeny: 'any' } }, 'IPAddressDeny');
    expect(err.reason).toMatch(/BPF|system manager/);
    await expectRefused({ properties: { IPAddressAllow: 'localhost', IPAddressDeny: 'any' } }, 'IPAddressAllow');
  });
});

describe('MemoryDenyWriteExecute', () => {
  it("is refused at construction: V8's JIT needs memory it can make executable", () => {
    let err: unknown;
    try {
      new UnitPool({ properties: { MemoryDenyWriteExecute: true } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OptionError);
    expect((err as OptionError).message).toMatch(
      /^properties\.MemoryDenyWriteExecute: it breaks V8's JIT: Node aborts at start/,
    );
  });

  it('the refusal is right: passed unchecked (raw), Node dies at start and the pool breaks with a clear error', async () => {
    const stderr = sink();
    const pool = new UnitPool({ maxWorkers: 1, stderr, raw: [['MemoryDenyWriteExecute', 'b', true]] });
    const err = await pool.ready().catch((e: unknown) => e);
    await pool.shutdown();
    expect(err).toMatchObject({ name: 'BrokenPoolError' });
    expect((err as Error).message).toMatch(/stopped/);
    // V8 could not make its code executable.
    expect(stderr.text()).toMatch(/Fatal|Check failed|out of memory/i);
  });
});

describe('SELinuxContext and AppArmorProfile', () => {
  it.runIf(!enforced('SELinuxContext'))(
    `SELinuxContext is refused here: ${refusedHere('SELinuxContext')}`,
    async () => {
      const err = await expectRefused(
        { properties: { SELinuxContext: 'system_u:system_r:unconfined_t:s0' } },
        'SELinuxContext',
      );
      expect(err.message).toMatch(/^SELinuxContext cannot be enforced on this host: /);
      expect(err.reason).toMatch(/SELinux/);
    },
  );

  it.runIf(!enforced('AppArmorProfile'))(
    `AppArmorProfile is refused here: ${refusedHere('AppArmorProfile')}`,
    async () => {
      const err = await expectRefused({ properties: { AppArmorProfile: 'unitpool-test' } }, 'AppArmorProfile');
      expect(err.message).toMatch(/^AppArmorProfile cannot be enforced on this host: /);
      expect(err.reason).toMatch(/AppArmor/);
    },
  );

  // Observing them needs a host with the module enabled and a policy to run under (a loaded AppArmor profile, an
  // SELinux context the policy allows): given by the environment, else skipped with the reason in the title.
  const selinuxContext = process.env.UNITPOOL_TEST_SELINUX_CONTEXT;
  it.skipIf(!enforced('SELinuxContext') || !selinuxContext)(
    `SELinuxContext: /proc/self/attr/current is the context${enforced('SELinuxContext') ? (selinuxContext ? '' : ' [skipped: set UNITPOOL_TEST_SELINUX_CONTEXT]') : ' [skipped: no SELinux here]'}`,
    async () => {
      await using pool = await startPool({ maxWorkers: 1, properties: { SELinuxContext: selinuxContext! } });
      expect((await pool.submit(readProbe, ['/proc/self/attr/current'])).replace(/\0/g, '').trim()).toBe(
        selinuxContext,
      );
    },
  );
  const apparmorProfile = process.env.UNITPOOL_TEST_APPARMOR_PROFILE;
  it.skipIf(!enforced('AppArmorProfile') || !apparmorProfile)(
    `AppArmorProfile: /proc/self/attr/current names the profile${enforced('AppArmorProfile') ? (apparmorProfile ? '' : ' [skipped: set UNITPOOL_TEST_APPARMOR_PROFILE to a loaded profile]') : ' [skipped: no AppArmor here]'}`,
    async () => {
      await using pool = await startPool({ maxWorkers: 1, properties: { AppArmorProfile: apparmorProfile! } });
      expect(await pool.submit(readProbe, ['/proc/self/attr/current'])).toContain(apparmorProfile);
    },
  );
});

// Reading /proc/self/status on the host side, for the record of what a plain unit would have.
it('outside the protections (the test process) the same calls are allowed: CAP_SYS_ADMIN, CAP_SYS_TIME and CAP_SYSLOG are held', () => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const caps = capNames(/^CapBnd:\s+(\S+)$/m.exec(status)![1]!);
  expect(caps).toEqual(
    expect.arrayContaining(['CAP_SYS_ADMIN', 'CAP_SYS_TIME', 'CAP_SYSLOG', 'CAP_SYS_MODULE', 'CAP_MKNOD']),
  );
});
