// Keeping what the workers must read readable: the node binary and unitpool's own package directory
// (worker-entry/*.js and its dependencies), and whatever else the pool names.
//
// Three things can take them away:
//  1. ProtectHome=yes|tmpfs hides /home, /root and /run/user; TemporaryFileSystem= hides what it covers;
//     PrivateTmp= (and DynamicUser=) replace /tmp and /var/tmp.
//     Fix: a BindReadOnlyPaths entry of the path onto itself. systemd cannot create a bind mount point
//     inside ProtectHome=yes's inaccessible directories (systemd.exec(5), BindPaths=), so ProtectHome=yes
//     is turned into ProtectHome=tmpfs, which hides the same contents (empty, read-only directories
//     instead of unreadable ones) and lets the bind through. systemd creates the directories leading to
//     the mount point inside the tmpfs with mode 0755.
//  2. InaccessiblePaths= covering one of them: the user asked for that explicitly, so it is an error.
//  3. Permissions, when the workers run as another user (User=, DynamicUser=): every directory on the way
//     must let that user through (x) and the path itself be readable. /root is 0700 on most systems, and
//     under ProtectHome=tmpfs systemd mounts /root's tmpfs with mode 0700 too, so a project under /root
//     can never be read by nobody or a dynamic user: that is an error naming the directory, not a crash
//     of every worker at start.
// A RootDirectory= (chroot) must contain the paths itself: checked, not fixed.

import { statSync } from 'node:fs';
import { isUnder, trimSlash } from './parse.js';

export interface ReadablePath {
  /** Absolute path the workers must be able to read. */
  readonly path: string;
  /** What it is, for messages: "the node binary", "unitpool's package directory". */
  readonly what: string;
}

export interface FileInfo {
  mode: number;
  uid: number;
  gid: number;
  isDirectory: boolean;
}

export type StatFn = (path: string) => FileInfo | undefined;

export const realStat: StatFn = (path) => {
  try {
    const st = statSync(path);
    return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, isDirectory: st.isDirectory() };
  } catch {
    return undefined;
  }
};

export interface ReadableInput {
  readonly paths: readonly ReadablePath[];
  /** ProtectHome in its D-Bus form: 'no', 'yes', 'read-only', 'tmpfs' (undefined = not set). */
  readonly protectHome: string | undefined;
  /** Who the workers run as: undefined = root (or the user manager's own user), 'dynamic', or a user. */
  readonly identity: undefined | 'dynamic' | { readonly name: string; readonly uid: number; readonly gid: number };
  /** InaccessiblePaths, prefixes stripped. */
  readonly inaccessible: readonly string[];
  /** PrivateTmp (or DynamicUser, which implies it): the host's /tmp and /var/tmp are replaced. */
  readonly privateTmp?: boolean;
  /** TemporaryFileSystem mount points and their options. */
  readonly tmpfs: readonly { readonly path: string; readonly options: string }[];
  /** Destinations of the user's BindPaths / BindReadOnlyPaths. */
  readonly bindDestinations: readonly string[];
  readonly rootDirectory: string | undefined;
  readonly stat?: StatFn;
}

export interface ReadableProblem {
  /** The property to blame, e.g. 'InaccessiblePaths' or 'User'. */
  readonly property: string;
  readonly problem: string;
  /** What would be accepted instead. */
  readonly expected: string;
}

export interface ReadablePlan {
  /** Paths to add to BindReadOnlyPaths, each onto itself (non-recursive flags: rbind). */
  readonly binds: string[];
  /** Set when ProtectHome=yes has to become tmpfs for the binds to work. */
  readonly protectHome: 'tmpfs' | undefined;
  readonly problems: ReadableProblem[];
}

const HOME_DIRS = ['/home', '/root', '/run/user'];
const TMP_DIRS = ['/tmp', '/var/tmp'];
/** Modes systemd gives ProtectHome=tmpfs's mounts (src/core/namespace.c, protect_home_tmpfs_table). */
const HOME_TMPFS_MODE: Readonly<Record<string, number>> = { '/home': 0o755, '/root': 0o700, '/run/user': 0o755 };

function ancestors(path: string): string[] {
  const parts = trimSlash(path)
    .split('/')
    .filter((p) => p.length > 0);
  const out = ['/'];
  for (let i = 1; i < parts.length; i++) out.push('/' + parts.slice(0, i).join('/'));
  return out;
}

function tmpfsMode(options: string): number {
  const m = /(?:^|,)mode=([0-7]{3,4})(?:,|$)/.exec(options);
  return m ? parseInt(m[1]!, 8) : 0o755;
}

export function planReadable(input: ReadableInput): ReadablePlan {
  const stat = input.stat ?? realStat;
  const binds: string[] = [];
  const problems: ReadableProblem[] = [];
  let protectHome: 'tmpfs' | undefined;
  const homeHidden = input.protectHome === 'yes' || input.protectHome === 'tmpfs';
  const visible: ReadablePath[] = [];

  // Pass 1: what hides the paths, and the binds that bring them back.
  for (const { path: raw, what } of input.paths) {
    const path = trimSlash(raw);
    const alreadyBound = input.bindDestinations.some((d) => isUnder(path, d));
    const hiddenBy = input.inaccessible.find((i) => isUnder(path, i));
    if (hiddenBy !== undefined && !alreadyBound) {
      problems.push({
        property: 'InaccessiblePaths',
        problem: `${hiddenBy} hides ${path} (${what}), which the workers must read`,
        expected: `InaccessiblePaths that leave ${path} visible, or BindReadOnlyPaths: ['${path}'] to bind it back`,
      });
      continue;
    }
    const underHome = HOME_DIRS.some((h) => isUnder(path, h));
    const underTmpfs =
      input.tmpfs.some((t) => isUnder(path, t.path)) ||
      (input.privateTmp === true && TMP_DIRS.some((t) => isUnder(path, t)));
    if (!alreadyBound && ((homeHidden && underHome) || underTmpfs)) {
      if (!binds.includes(path)) binds.push(path);
      if (input.protectHome === 'yes' && underHome) protectHome = 'tmpfs';
    }
    visible.push({ path, what });
  }

  // Pass 2: a chroot must contain them; a non-root identity must be able to reach and read them.
  const homeTmpfs = input.protectHome === 'tmpfs' || protectHome === 'tmpfs';
  const hidingTops = [
    ...(homeTmpfs ? HOME_DIRS : []),
    ...(input.privateTmp ? TMP_DIRS : []),
    ...input.tmpfs.map((t) => trimSlash(t.path)),
  ];
  const id = input.identity;
  const nonRoot = id === 'dynamic' || (id !== undefined && id.uid !== 0);
  for (const { path, what } of visible) {
    const bound = binds.includes(path) || input.bindDestinations.some((d) => isUnder(path, d));
    if (input.rootDirectory !== undefined && !bound) {
      if (!stat(trimSlash(input.rootDirectory) === '/' ? path : trimSlash(input.rootDirectory) + path)) {
        problems.push({
          property: 'RootDirectory',
          problem: `${input.rootDirectory} has no ${path} (${what}) inside, and the workers need it there`,
          expected: `a RootDirectory that contains ${path} (and node's libraries), or BindReadOnlyPaths: ['${path}'] to bind it in`,
        });
      }
      continue;
    }
    if (!nonRoot) continue;
    const who = id === 'dynamic' ? 'a dynamic user' : `${id!.name} (uid ${id!.uid})`;
    const canAccess = (info: FileInfo, bits: number): boolean => {
      if (id !== 'dynamic' && id !== undefined) {
        if (info.uid === id.uid) return ((info.mode >> 6) & bits) === bits;
        if (info.gid === id.gid) return ((info.mode >> 3) & bits) === bits;
      }
      return (info.mode & bits) === bits;
    };
    const effective = (dir: string): FileInfo | undefined => {
      if (homeTmpfs && HOME_TMPFS_MODE[dir] !== undefined)
        return { mode: HOME_TMPFS_MODE[dir]!, uid: 0, gid: 0, isDirectory: true };
      if (input.privateTmp && TMP_DIRS.includes(dir)) return { mode: 0o1777, uid: 0, gid: 0, isDirectory: true };
      const t = input.tmpfs.find((x) => trimSlash(x.path) === dir);
      if (t) return { mode: tmpfsMode(t.options), uid: 0, gid: 0, isDirectory: true };
      // Between a hiding tmpfs and a bind mount point, systemd creates the directories with mode 0755.
      if (bound && hidingTops.some((top) => isUnder(dir, top) && dir !== top))
        return { mode: 0o755, uid: 0, gid: 0, isDirectory: true };
      return stat(dir);
    };
    let blocked: string | undefined;
    for (const dir of ancestors(path)) {
      const info = effective(dir);
      if (info === undefined) break; // missing: not ours to judge
      if (!canAccess(info, 0o1)) {
        blocked = `${dir} is mode ${info.mode.toString(8).padStart(4, '0')} (owner uid ${info.uid})${homeTmpfs && HOME_TMPFS_MODE[dir] !== undefined ? ' under ProtectHome' : ''}, so ${who} cannot pass through it`;
        break;
      }
    }
    if (blocked === undefined) {
      const info = stat(path);
      if (info !== undefined && !canAccess(info, info.isDirectory ? 0o5 : 0o4)) {
        blocked = `${path} is mode ${info.mode.toString(8).padStart(4, '0')} (owner uid ${info.uid}), so ${who} cannot read it`;
      }
    }
    if (blocked !== undefined) {
      problems.push({
        property: id === 'dynamic' ? 'DynamicUser' : 'User',
        problem: `the workers run as ${who} and must read ${path} (${what}), but ${blocked}`,
        expected: `${path} installed where every user can read it (e.g. under /opt or /srv), made readable (chmod o+rx), or workers running as root`,
      });
    }
  }
  return { binds, protectHome, problems };
}
