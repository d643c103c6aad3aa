// The attacker writes: from inside a task of an untrusted pool, it looks for every place of the host it can write,
// fills its scratch space, plants files, symlinks, hard links, FIFOs and IPC objects in shared places, and hopes
// something outlives the pool. Each attack must fail, and the pool must still answer.
import { existsSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnitPool } from '../../src/index.js';
import {
  expectStillAnswers,
  hostIpcOf,
  hostLeftovers,
  hostWritableMounts,
  perlProbe,
  plantProbe,
  untrustedPool,
  workerUid,
  writableDirsProbe,
  writableFilesProbe,
} from './support.js';

/** Where a task's files could outlive it if the unit shared them with the host (the usual world-writable places). */
const SHARED_PLACES = [
  '/tmp',
  '/var/tmp',
  '/dev/shm',
  '/dev/mqueue',
  '/run/lock',
  '/var/crash',
  '/var/lib/php/sessions',
  '/run/screen',
  '/var/spool/samba',
];

const MiB = 1024 * 1024;

describe('the filesystem, attacked from an untrusted task', () => {
  let pool: UnitPool;
  let uid: number;
  const marker = `unitpool-escape-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    pool = await untrustedPool({ scratchSize: '8M' });
    uid = await workerUid(pool);
  });
  afterAll(() => pool?.shutdown());

  it('the only directory a task can create a file in is its scratch space', async () => {
    const found = await pool.submit(writableDirsProbe, [], { timeout: 120_000 });
    const scratchDev = await pool.submit(async () => (await import('node:fs')).statSync('/tmp').dev);
    const outside = found.filter((d) => d.dev !== scratchDev);
    expect(outside.map((d) => d.path)).toEqual([]);
    expect(found.map((d) => d.path)).toEqual(expect.arrayContaining(['/dev/shm']));
    await expectStillAnswers(pool);
  });

  it('the only files a task can write under /proc, /sys, /dev and /run are its own /proc entries and the harmless devices', async () => {
    const files = await pool.submit(writableFilesProbe, [], { timeout: 120_000 });
    const scratch = /^\/dev\/shm\//;
    expect(files.filter((f) => !scratch.test(f))).toEqual([
      '/dev/full',
      '/dev/null',
      '/dev/random',
      '/dev/tty',
      '/dev/urandom',
      '/dev/zero',
    ]);
    await expectStillAnswers(pool);
  });

  // The pool's own links need no RuntimeDirectory (the pool listens; src/wire/direct.ts), so nothing of the unit's
  // own lives on the host's /run, where a task could write past scratchSize.
  it('nothing under /run takes a write: the pool gives its units no RuntimeDirectory of its own', async () => {
    const r = await pool.submit(async () => {
      const fs = await import('node:fs');
      const nodePath = await import('node:path');
      const dirs = ['/run'];
      for (const d of [...dirs]) {
        try {
          for (const e of fs.readdirSync(d, { withFileTypes: true }))
            if (e.isDirectory()) dirs.push(nodePath.join(d, e.name));
        } catch {
          /* hidden */
        }
      }
      const written: string[] = [];
      for (const d of dirs) {
        try {
          fs.writeFileSync(nodePath.join(d, 'probe'), 'x');
          fs.rmSync(nodePath.join(d, 'probe'));
          written.push(d);
        } catch {
          /* refused */
        }
      }
      return { dirs: dirs.length, written, env: process.env.RUNTIME_DIRECTORY ?? null };
    });
    expect(r.written).toEqual([]);
    expect(r.env).toBeNull();
  });

  it('/tmp, /var/tmp and /dev/shm are one private tmpfs capped at scratchSize: writing past it fails with ENOSPC', async () => {
    const r = await pool.submit(
      async (mib: number) => {
        const fs = await import('node:fs');
        const view = ['/tmp', '/var/tmp', '/dev/shm'].map((p) => {
          const s = fs.statfsSync(p);
          return { p, dev: fs.statSync(p).dev, type: s.type, bytes: s.blocks * s.bsize };
        });
        const fill = (path: string): string => {
          const chunk = Buffer.alloc(mib);
          const fd = fs.openSync(path, 'w');
          try {
            for (let i = 0; i < 9; i++) fs.writeSync(fd, chunk);
            return 'wrote 9 MiB';
          } catch (e) {
            return (e as NodeJS.ErrnoException).code ?? String(e);
          } finally {
            fs.closeSync(fd);
            fs.rmSync(path);
          }
        };
        return { view, tmp: fill('/tmp/fill'), varTmp: fill('/var/tmp/fill'), shm: fill('/dev/shm/fill') };
      },
      [MiB],
    );
    for (const v of r.view) {
      expect(v.type, v.p).toBe(0x01021994); // TMPFS_MAGIC
      expect(v.bytes, v.p).toBe(8 * MiB);
      expect(v.dev, v.p).toBe(r.view[0]!.dev);
    }
    expect([r.tmp, r.varTmp, r.shm]).toEqual(['ENOSPC', 'ENOSPC', 'ENOSPC']);
    await expectStillAnswers(pool);
  });

  it("the scratch space's inodes are capped too (one per 4 KiB of scratchSize): empty files stop with ENOSPC", async () => {
    const r = await pool.submit(async () => {
      const fs = await import('node:fs');
      fs.mkdirSync('/tmp/many');
      let made = 0;
      try {
        for (; made < 100_000; made++) fs.closeSync(fs.openSync(`/tmp/many/${made}`, 'wx'));
        return { made, code: 'none' };
      } catch (e) {
        return { made, code: (e as NodeJS.ErrnoException).code };
      } finally {
        fs.rmSync('/tmp/many', { recursive: true, force: true });
      }
    });
    expect(r.code).toBe('ENOSPC');
    expect(r.made).toBeLessThanOrEqual((8 * MiB) / 4096);
    await expectStillAnswers(pool);
  });

  it("the host's /run (and /run/lock) is hidden under an empty read-only tmpfs, /proc/pressure is read-only, /dev/mqueue and the host's /dev/pts are hidden", async () => {
    const r = await pool.submit(async () => {
      const fs = await import('node:fs');
      const code = (fn: () => unknown): string => {
        try {
          fn();
          return 'ok';
        } catch (e) {
          return (e as NodeJS.ErrnoException).code ?? String(e);
        }
      };
      return {
        runLock: code(() => fs.writeFileSync('/run/lock/unitpool-escape', 'x')),
        run: code(() => fs.writeFileSync('/run/unitpool-escape', 'x')),
        runSeen: fs.readdirSync('/run').sort(),
        pressure: code(() => fs.writeFileSync('/proc/pressure/memory', 'some 150000 1000000')),
        mqueue: code(() => fs.readdirSync('/dev/mqueue')),
        ptmx: code(() => fs.closeSync(fs.openSync('/dev/ptmx', 'r+'))),
      };
    });
    expect(r.runLock).toBe('ENOENT');
    expect(r.run).toBe('EROFS');
    // Only what systemd binds in: systemd/incoming (its mount propagation); the pool gives the unit no RuntimeDirectory.
    expect(r.runSeen).toEqual(['systemd']);
    expect(r.pressure).toMatch(/^(EROFS|ENOENT)$/);
    expect(r.mqueue).toBe('EACCES');
    expect(r.ptmx).toMatch(/^(EACCES|ENOENT)$/);
    await expectStillAnswers(pool);
  });

  it("files, symlinks, hard links and FIFOs planted in the shared places never reach the host, during the pool's life or after", async () => {
    // Every world-writable place this host has, as the host sees it, plus the ones the task itself found writable.
    const inside = (await pool.submit(writableDirsProbe, [], { timeout: 120_000 })).map((d) => d.path);
    const places = [...new Set([...SHARED_PLACES, ...hostWritableMounts(), ...inside])];
    const planted = await pool.submit(plantProbe, [places, marker, `/etc/${marker}-target`]);
    // Where the task could write (its scratch space), a host file cannot be linked in: another file system.
    expect(planted['/tmp']).toEqual(['file', 'symlink', 'hardlink:EXDEV', 'fifo']);
    // While the pool runs, none of it is visible on the host.
    expect(hostLeftovers(uid, marker).filter((p) => p.includes(marker))).toEqual([]);
    await expectStillAnswers(pool);
  });

  it('System V IPC objects and POSIX message queues a task creates are private to the unit, and gone after it', async () => {
    const made = await pool.submit(
      async (name: string) => {
        const { spawnSync } = await import('node:child_process');
        const ipcmk = ['-M 4096', '-Q', '-S 1'].map((a) =>
          spawnSync('ipcmk', a.split(' '), { encoding: 'utf8' }).stdout.trim(),
        );
        const ipcs = spawnSync('ipcs', ['-a'], { encoding: 'utf8' }).stdout;
        // A queue made through the path instead of mq_open(3): the host's /dev/mqueue, if the unit could see it.
        let viaPath: string;
        try {
          (await import('node:fs')).closeSync((await import('node:fs')).openSync(`/dev/mqueue/${name}`, 'wx'));
          viaPath = 'created';
        } catch (e) {
          viaPath = (e as NodeJS.ErrnoException).code ?? String(e);
        }
        return { ipcmk, ipcs, viaPath };
      },
      [marker],
    );
    expect(
      made.ipcmk.every((l) => /id: \d+/.test(l)),
      made.ipcmk.join('; '),
    ).toBe(true);
    // mq_open(3) works, in the unit's own IPC namespace (perl makes the raw x86-64 syscall).
    if (process.arch === 'x64') {
      const mq = await pool.submit(perlProbe, [
        'my $n = $ARGV[0]; my $r = syscall(240, $n, 0100 | 02, 0600, 0); if ($r < 0) { print "E" . ($! + 0); exit 1 } exit 0',
        [marker],
      ]);
      expect(mq[marker]).toBe('ok');
    }
    expect(hostIpcOf(uid)).toEqual([]);
    expect(made.viaPath).toBe('EACCES');
    await expectStillAnswers(pool);
  });

  it('after shutdown nothing the tasks created remains on the host: no file, symlink, FIFO, IPC object or private tmp', async () => {
    const unit = pool.unit!.name;
    await pool.shutdown();
    expect(hostLeftovers(uid, marker)).toEqual([]);
    expect(hostIpcOf(uid)).toEqual([]);
    expect(existsSync(`/etc/${marker}-target`)).toBe(false);
    const privateTmps = ['/tmp', '/var/tmp'].flatMap((d) => readdirSync(d).filter((e) => e.includes(unit)));
    expect(privateTmps).toEqual([]);
  });
});
