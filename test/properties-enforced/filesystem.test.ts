// The filesystem view of a worker: what it can write, what it cannot see, what is bound in. One pool with every
// filesystem property that can live together (ProtectSystem=strict with ReadWritePaths / ReadOnlyPaths inside a
// scratch directory, InaccessiblePaths, TemporaryFileSystem, BindPaths, BindReadOnlyPaths, ProtectHome, PrivateTmp,
// PrivateDevices, RestrictAddressFamilies), and one chroot'ed pool (RootDirectory).
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { privateTmpEntries } from '../support/systemd.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnitPool } from '../../src/index.js';
import {
  capNames,
  enforced,
  listenProbe,
  listProbe,
  readProbe,
  ROOT,
  scratchDir,
  startPool,
  statusProbe,
  writeProbe,
} from './helpers.js';

const dir = scratchDir('fs');
afterAll(() => dir.remove());
const F = dir.path;
const p = (...parts: string[]) => join(F, ...parts);

/** Entries of a host directory, or [] if it cannot be read. */
function hostList(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** An inaccessible or hidden directory: empty, or unreadable. */
const hidden = (seen: string[] | string) =>
  Array.isArray(seen) ? seen.length === 0 : /^!(EACCES|EPERM|ENOENT)$/.test(seen);

describe('a pool with ProtectSystem=strict and the path properties', () => {
  let pool: UnitPool;
  beforeAll(async () => {
    for (const d of ['ro', 'secret', 'tmpfs', 'bind-src', 'bind-dst', 'bindro-src', 'bindro-dst']) mkdirSync(p(d));
    writeFileSync(p('ro', 'file'), 'read-only content');
    writeFileSync(p('secret', 'file'), 'secret content');
    writeFileSync(p('tmpfs', 'hidden'), 'under the tmpfs');
    writeFileSync(p('bind-src', 'file'), 'bound content');
    writeFileSync(p('bindro-src', 'file'), 'bound read-only content');
    pool = await startPool({
      maxWorkers: 2,
      properties: {
        ProtectSystem: 'strict',
        ReadWritePaths: [F],
        ReadOnlyPaths: [p('ro')],
        InaccessiblePaths: [p('secret')],
        TemporaryFileSystem: `${p('tmpfs')}:ro`,
        BindPaths: [`${p('bind-src')}:${p('bind-dst')}`],
        BindReadOnlyPaths: [`${p('bindro-src')}:${p('bindro-dst')}`],
        ProtectHome: true,
        PrivateTmp: true,
        PrivateDevices: true,
        RestrictAddressFamilies: ['AF_UNIX'],
      },
    });
  });
  afterAll(() => pool?.shutdown());

  it('ProtectSystem=strict: /usr, /etc and the rest of the disk are read-only (EROFS); ReadWritePaths stays writable', async () => {
    expect(await pool.submit(writeProbe, ['/usr/unitpool-probe'])).toBe('EROFS');
    expect(await pool.submit(writeProbe, ['/etc/unitpool-probe'])).toBe('EROFS');
    expect(await pool.submit(writeProbe, [join(ROOT, 'node_modules', '.cache', 'unitpool-probe')])).toBe('EROFS');
    expect(await pool.submit(writeProbe, [p('written-by-the-worker')])).toBe('written');
  });

  it('ReadOnlyPaths: readable, not writable, inside a writable directory', async () => {
    expect(await pool.submit(readProbe, [p('ro', 'file')])).toBe('read-only content');
    expect(await pool.submit(writeProbe, [p('ro', 'new')])).toBe('EROFS');
    expect(await pool.submit(writeProbe, [p('ro', 'file')])).toBe('EROFS');
  });

  it('InaccessiblePaths: the directory shows nothing and its file cannot be read', async () => {
    expect(readFileSync(p('secret', 'file'), 'utf8')).toBe('secret content');
    expect(hidden(await pool.submit(listProbe, [p('secret')]))).toBe(true);
    expect(await pool.submit(readProbe, [p('secret', 'file')])).toMatch(/^!(EACCES|ENOENT|EPERM)$/);
  });

  it('TemporaryFileSystem: an empty tmpfs hides what is there; ":ro" makes it read-only', async () => {
    expect(hostList(p('tmpfs'))).toEqual(['hidden']);
    expect(await pool.submit(listProbe, [p('tmpfs')])).toEqual([]);
    expect(await pool.submit(writeProbe, [p('tmpfs', 'new')])).toBe('EROFS');
    const fstype = await pool.submit(
      async (path: string) => {
        const { readFileSync } = await import('node:fs');
        return readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .find((l) => l.split(' ')[4] === path)
          ?.split(' - ')[1]
          ?.split(' ')[0];
      },
      [p('tmpfs')],
    );
    expect(fstype).toBe('tmpfs');
  });

  it('BindPaths: the source is visible and writable at the destination', async () => {
    expect(hostList(p('bind-dst'))).toEqual([]);
    expect(await pool.submit(listProbe, [p('bind-dst')])).toEqual(['file']);
    expect(await pool.submit(readProbe, [p('bind-dst', 'file')])).toBe('bound content');
    await pool.submit(
      async (path: string) => (await import('node:fs')).writeFileSync(path, 'from the worker'),
      [p('bind-dst', 'new')],
    );
    expect(readFileSync(p('bind-src', 'new'), 'utf8')).toBe('from the worker');
  });

  it('BindReadOnlyPaths: the source is visible at the destination, read-only', async () => {
    expect(hostList(p('bindro-dst'))).toEqual([]);
    expect(await pool.submit(readProbe, [p('bindro-dst', 'file')])).toBe('bound read-only content');
    expect(await pool.submit(writeProbe, [p('bindro-dst', 'new')])).toBe('EROFS');
  });

  it('ProtectHome=true: /home, /root and /run/user show nothing', async () => {
    for (const d of ['/home', '/root', '/run/user']) {
      expect(hidden(await pool.submit(listProbe, [d])), d).toBe(true);
    }
    // Not vacuous: the host's /root has files (/home may be empty on some hosts).
    expect(hostList('/root').length).toBeGreaterThan(0);
  });

  it('PrivateTmp: an empty /tmp and /var/tmp of its own; what it writes there stays there', async () => {
    const seen = await pool.submit(async () => {
      const fs = await import('node:fs');
      const before = { tmp: fs.readdirSync('/tmp'), varTmp: fs.readdirSync('/var/tmp') };
      fs.writeFileSync('/tmp/unitpool-private-tmp-probe', 'x');
      return { ...before, after: fs.readdirSync('/tmp') };
    });
    expect(seen.tmp).toEqual(privateTmpEntries('/tmp'));
    expect(seen.varTmp).toEqual(privateTmpEntries('/var/tmp'));
    expect(seen.after.sort()).toEqual([...privateTmpEntries('/tmp'), 'unitpool-private-tmp-probe'].sort());
    expect(existsSync('/tmp/unitpool-private-tmp-probe')).toBe(false);
  });

  it('PrivateDevices: a /dev of pseudo-devices only (no block devices, no kvm/fuse/net), /dev/null works, no CAP_MKNOD/CAP_SYS_RAWIO', async () => {
    const seen = await pool.submit(async () => {
      const fs = await import('node:fs');
      const entries = fs.readdirSync('/dev');
      const blocks = entries.filter((e) => {
        try {
          return fs.statSync(`/dev/${e}`).isBlockDevice();
        } catch {
          return false;
        }
      });
      fs.writeFileSync('/dev/null', 'discarded');
      const fd = fs.openSync('/dev/zero', 'r');
      const zero = fs.readSync(fd, Buffer.alloc(16), 0, 16, null);
      fs.closeSync(fd);
      return { entries, blocks, zero };
    });
    expect(seen.blocks).toEqual([]);
    expect(seen.zero).toBe(16);
    expect(seen.entries).toEqual(expect.arrayContaining(['null', 'zero', 'random', 'urandom', 'full', 'tty']));
    for (const d of ['kvm', 'fuse', 'net', 'vda', 'sda', 'nvme0n1', 'mem', 'kmsg'])
      expect(seen.entries, d).not.toContain(d);
    // On the host side, at least one of those exists (else the check above proves nothing).
    expect(
      hostList('/dev').some((d) => ['kvm', 'fuse', 'net', 'vda', 'sda', 'nvme0n1', 'mem', 'kmsg'].includes(d)),
    ).toBe(true);
    const status = await pool.submit(statusProbe);
    expect(capNames(status.CapBnd!)).not.toContain('CAP_MKNOD');
    expect(capNames(status.CapBnd!)).not.toContain('CAP_SYS_RAWIO');
  });

  it('RestrictAddressFamilies=AF_UNIX: an AF_INET or AF_INET6 socket fails with EAFNOSUPPORT; AF_UNIX works', async () => {
    expect(await pool.submit(listenProbe, ['127.0.0.1'])).toBe('EAFNOSUPPORT');
    expect(await pool.submit(listenProbe, ['::1'])).toBe('EAFNOSUPPORT');
    expect(await pool.submit(listenProbe, ['/tmp/unitpool-unix-probe.sock'])).toBe('listening');
  });
});

describe.runIf(enforced('RootDirectory'))('RootDirectory: a chroot with only /usr and unitpool bound in', () => {
  let pool: UnitPool;
  const root = p('chroot');
  beforeAll(async () => {
    mkdirSync(root);
    chmodSync(root, 0o755);
    for (const d of ['usr', 'proc', 'dev', 'sys', 'tmp', 'run', 'etc']) mkdirSync(join(root, d));
    // Merged /usr: /bin, /lib, /lib64 are links into /usr (as on the host, if it is merged; else bind them too).
    for (const l of ['bin', 'sbin', 'lib', 'lib64'])
      if (existsSync(`/usr/${l}`)) symlinkSync(`usr/${l}`, join(root, l));
    writeFileSync(join(root, 'marker'), 'inside the chroot');
    pool = await startPool({
      maxWorkers: 1,
      properties: {
        RootDirectory: root,
        BindReadOnlyPaths: ['/usr', ROOT],
      },
    });
  });
  afterAll(() => pool?.shutdown());

  it('the worker sees the chroot as /: its marker, no /home, no host files', async () => {
    const seen = await pool.submit(async () => {
      const fs = await import('node:fs');
      return {
        root: fs.readdirSync('/').sort(),
        marker: fs.readFileSync('/marker', 'utf8'),
        home: fs.existsSync('/home'),
        cwd: process.cwd(),
      };
    });
    expect(seen.marker).toBe('inside the chroot');
    expect(seen.home).toBe(false);
    expect(seen.root).toEqual(expect.arrayContaining(['marker', 'usr', 'proc', 'dev']));
    expect(seen.root).not.toContain('home');
    expect(statSync('/home').isDirectory()).toBe(true);
  });
});
