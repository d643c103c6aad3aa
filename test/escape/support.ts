// Shared by the escape suite's filesystem, syscall and socket attacks: each plays the attacker from inside a task of a
// preset: 'untrusted' pool in the real sandbox, asserts that the attack fails, and that the pool still answers.
// Task functions here are sent to the workers as source: they import what they need and use no closure.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { expect } from 'vitest';
import type { UnitPool, UnitPoolOptions } from '../../src/index.js';
import { startPool } from '../properties-enforced/helpers.js';

export { scratchDir } from '../properties-enforced/helpers.js';

/** An untrusted pool of one worker (the attacks run one at a time). */
export function untrustedPool(options: UnitPoolOptions = {}): Promise<UnitPool> {
  return startPool({ preset: 'untrusted', maxWorkers: 1, ...options });
}

/** The pool still runs ordinary work after an attack. */
export async function expectStillAnswers(pool: UnitPool): Promise<void> {
  expect(await pool.submit((a: number, b: number) => a + b, [2, 3])).toBe(5);
}

/** The dynamic uid the pool's workers run as. */
export function workerUid(pool: UnitPool): Promise<number> {
  return pool.submit(() => process.getuid!());
}

// ---- Inside the unit ------------------------------------------------------------------------------

/** One directory a task can create a file in, with the device of its file system. */
export interface WritableDir {
  path: string;
  dev: number;
}

/**
 * Walks the whole file system as the task sees it and returns every directory it can really create a file in
 * (access() says maybe; only a created and removed file counts). /proc/<pid> trees are skipped past their top.
 */
export async function writableDirsProbe(): Promise<WritableDir[]> {
  const fs = await import('node:fs');
  const nodePath = await import('node:path');
  const found: WritableDir[] = [];
  const seen = new Set<string>();
  const walk = (dir: string, depth: number): void => {
    if (depth > 14) return;
    let st;
    try {
      st = fs.lstatSync(dir);
    } catch {
      return;
    }
    if (!st.isDirectory()) return;
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (/^\/proc\/(\d+|self|thread-self)\/.+/.test(dir)) return;
    try {
      fs.accessSync(dir, fs.constants.W_OK);
      const probe = nodePath.join(dir, `.unitpool-escape-${process.pid}`);
      fs.writeFileSync(probe, '', { flag: 'wx' });
      fs.unlinkSync(probe);
      found.push({ path: dir, dev: st.dev });
    } catch {
      /* not writable */
    }
    let entries: string[];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) walk(nodePath.join(dir, e), depth + 1);
  };
  walk('/', 0);
  return found;
}

/**
 * Every file under /proc (but /proc/<pid>, /proc/self and /proc/thread-self: the task's own), /sys, /dev and /run
 * that the task may open for writing (access(2) W_OK, which a read-only mount answers with EROFS).
 */
export async function writableFilesProbe(): Promise<string[]> {
  const fs = await import('node:fs');
  const nodePath = await import('node:path');
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 10) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = nodePath.join(dir, e.name);
      if (/^\/proc\/(\d+|self|thread-self)$/.test(p)) continue;
      if (e.isDirectory()) walk(p, depth + 1);
      else if (!e.isSymbolicLink()) {
        try {
          fs.accessSync(p, fs.constants.W_OK);
          found.push(p);
        } catch {
          /* not writable */
        }
      }
    }
  };
  for (const top of ['/proc', '/sys', '/dev', '/run']) walk(top, 0);
  return found.sort();
}

/** What a task managed to leave in `dir`: 'file', 'symlink', 'fifo', 'hardlink' (each created), or the error codes. */
export async function plantProbe(dirs: string[], marker: string, target: string): Promise<Record<string, string[]>> {
  const fs = await import('node:fs');
  const { spawnSync } = await import('node:child_process');
  const nodePath = await import('node:path');
  const out: Record<string, string[]> = {};
  for (const dir of dirs) {
    const r: string[] = [];
    const attempt = (what: string, fn: () => void) => {
      try {
        fn();
        r.push(what);
      } catch (e) {
        r.push(`${what}:${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    };
    attempt('file', () => fs.writeFileSync(nodePath.join(dir, `${marker}-file`), 'left by a task', { flag: 'wx' }));
    // Judge0's CVE-2024-28185 in spirit: a link in a shared place, waiting for a privileged writer.
    attempt('symlink', () => fs.symlinkSync(target, nodePath.join(dir, `${marker}-symlink`)));
    attempt('hardlink', () => fs.linkSync('/etc/passwd', nodePath.join(dir, `${marker}-hardlink`)));
    attempt('fifo', () => {
      const p = spawnSync('mkfifo', [nodePath.join(dir, `${marker}-fifo`)], { encoding: 'utf8' });
      if (p.status !== 0)
        throw Object.assign(new Error(p.stderr), {
          code: /denied/.test(p.stderr) ? 'EACCES' : /Read-only/.test(p.stderr) ? 'EROFS' : `mkfifo ${p.status}`,
        });
    });
    out[dir] = r;
  }
  return out;
}

/**
 * Runs `perl` with `script` once per syscall name (so that a SIGSYS kills only that probe): per name, 'ok', the
 * errno name ('EPERM', ...) or 'SIGSYS'. The script reads the name from $ARGV[0] and exits 0, or prints "E<errno>".
 */
export async function perlProbe(script: string, names: string[]): Promise<Record<string, string>> {
  const { spawnSync } = await import('node:child_process');
  const { constants } = await import('node:os');
  const byNumber = Object.fromEntries(Object.entries(constants.errno).map(([k, v]) => [v, k]));
  const out: Record<string, string> = {};
  for (const n of names) {
    const r = spawnSync('perl', ['-e', script, n], { encoding: 'utf8', timeout: 10_000 });
    const m = /E(\d+)/.exec(r.stdout);
    out[n] = r.signal
      ? r.signal
      : m
        ? (byNumber[Number(m[1])] ?? `E${m[1]}`)
        : r.status === 0
          ? 'ok'
          : `status ${r.status}: ${r.stderr.trim()}`;
  }
  return out;
}

// ---- On the host ----------------------------------------------------------------------------------

/**
 * The host's file systems a unit could ever write in: every mount but the root file system (which
 * ProtectSystem=strict makes read-only inside, see the walk), /proc and /sys.
 */
export function hostWritableMounts(): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(' ');
      const fstype = f[f.indexOf('-') + 1]!;
      return { target: f[4]!.replace(/\\040/g, ' '), fstype, ro: /(^|,)ro(,|$)/.test(f[5]!) };
    });
  return [
    ...new Set(
      mounts
        .filter((m) => !m.ro && ['tmpfs', 'mqueue', 'devtmpfs', 'devpts', 'ramfs'].includes(m.fstype))
        .filter((m) => !/^\/(proc|sys)(\/|$)/.test(m.target))
        .map((m) => m.target),
    ),
  ];
}

/** Every path on the host's writable mounts owned by `uid` or named with `marker` (find(1), as root). */
export function hostLeftovers(uid: number, marker: string): string[] {
  const out: string[] = [];
  for (const mount of hostWritableMounts()) {
    const r = spawnSync(
      'find',
      [mount, '-xdev', '(', '-uid', String(uid), '-o', '-name', `*${marker}*`, ')', '-print'],
      { encoding: 'utf8' },
    );
    out.push(...r.stdout.split('\n').filter(Boolean));
  }
  return [...new Set(out)].sort();
}

/** The host's System V IPC objects and POSIX message queues owned by `uid` (ipcs(1) and /dev/mqueue). */
export function hostIpcOf(uid: number): string[] {
  const ipcs = spawnSync('ipcs', ['-a', '-c'], { encoding: 'utf8' }).stdout.split('\n');
  // ipcs -c: "id perms cuid cgid uid gid": the creator's and the owner's uid.
  const owned = ipcs.filter((l) => /^\s*\d+\s+\d+/.test(l) && l.trim().split(/\s+/).slice(2).includes(String(uid)));
  const queues = readdirSync('/dev/mqueue')
    .map((q) => `/dev/mqueue/${q}`)
    .filter((q) => statSync(q).uid === uid);
  return [...owned, ...queues];
}
