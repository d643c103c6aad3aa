// Snapshots of the state of the host that a carelessly booted systemd damages (all of these were
// seen on these machines): files in /etc, sysctls, the mount table, cgroup directories, processes.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const SYSCTL_DIRS = [
  '/proc/sys/kernel',
  '/proc/sys/fs',
  '/proc/sys/net/core',
  '/proc/sys/net/unix',
  '/proc/sys/vm',
];
/** Counters and random values that change by themselves. */
const VOLATILE_SYSCTL = [
  /^\/proc\/sys\/kernel\/random\//,
  /^\/proc\/sys\/kernel\/ns_last_pid$/,
  /^\/proc\/sys\/kernel\/pty\/nr$/,
  /^\/proc\/sys\/fs\/(dentry-state|file-nr|inode-nr|inode-state|aio-nr)$/,
  /^\/proc\/sys\/fs\/quota\//,
];
export const WATCHED_FILES = [
  '/etc/passwd',
  '/etc/group',
  '/etc/shadow',
  '/etc/gshadow',
  '/etc/hostname',
  '/etc/machine-id',
  '/etc/hosts',
];

export interface ProcInfo {
  pid: number;
  ppid: number;
  start: string;
  comm: string;
  cmdline: string;
  cgroup: string;
}

export interface HostState {
  files: Record<string, string>;
  sysctl: Record<string, string>;
  mounts: string[];
  cgroups: string[];
  processes: Map<string, ProcInfo>;
  /** Kernel's count of memory cgroups (including dying ones), for information. */
  memoryCgroups: number | undefined;
}

function sha256(path: string): string {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch (e) {
    return `(${(e as NodeJS.ErrnoException).code})`;
  }
}

function walkFiles(dir: string, out: string[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walkFiles(p, out);
    else if (e.isFile()) out.push(p);
  }
}

export function readSysctls(): Record<string, string> {
  const files: string[] = [];
  for (const d of SYSCTL_DIRS) walkFiles(d, files);
  const out: Record<string, string> = {};
  for (const f of files.sort()) {
    if (VOLATILE_SYSCTL.some((re) => re.test(f))) continue;
    try {
      if ((statSync(f).mode & 0o444) === 0) continue; // write-only (drop_caches, compact_memory...)
      out[f] = readFileSync(f, 'utf8').trim();
    } catch {
      /* unreadable: skip */
    }
  }
  return out;
}

/** Every cgroup directory of every hierarchy mounted under /sys/fs/cgroup. */
export function readCgroupDirs(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    out.push(d);
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
  };
  for (const e of readdirSync('/sys/fs/cgroup', { withFileTypes: true })) {
    if (e.isDirectory()) walk(join('/sys/fs/cgroup', e.name));
  }
  if (out.length === 0) walk('/sys/fs/cgroup'); // pure cgroup v2
  return out.sort();
}

export function readProcesses(): Map<string, ProcInfo> {
  const out = new Map<string, ProcInfo>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const info: ProcInfo = {
        pid: Number(name),
        ppid: Number(rest[1]),
        start: rest[19]!,
        comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(),
        cgroup: readFileSync(`/proc/${name}/cgroup`, 'utf8'),
      };
      if (rest[0] === 'Z') info.comm += ' <zombie>';
      out.set(`${name}@${info.start}`, info);
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/**
 * The mount table of the host's mount namespace (PID 1's) and, if it differs, of our own, without
 * mount ids.
 */
export function readMounts(): string[] {
  const table = (who: string) =>
    readFileSync(`/proc/${who}/mountinfo`, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => `${who}: ${l.split(' ').slice(3).join(' ')}`);
  return [...table('1'), ...(inHostMountNamespace() ? [] : table('self'))].sort();
}

export function snapshot(): HostState {
  let memoryCgroups: number | undefined;
  try {
    const line = readFileSync('/proc/cgroups', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('memory\t'));
    memoryCgroups = line ? Number(line.split('\t')[2]) : undefined;
  } catch {
    /* none */
  }
  return {
    files: Object.fromEntries(WATCHED_FILES.map((f) => [f, sha256(f)])),
    sysctl: readSysctls(),
    mounts: readMounts(),
    cgroups: readCgroupDirs(),
    processes: readProcesses(),
    memoryCgroups,
  };
}

/** Whether this process shares PID 1's mount namespace (i.e. /proc/1/mountinfo is "our" table). */
export function inHostMountNamespace(): boolean {
  try {
    return readlinkSync('/proc/1/ns/mnt') === readlinkSync('/proc/self/ns/mnt');
  } catch {
    return false;
  }
}

export function diffLists(before: string[], after: string[]): { added: string[]; removed: string[] } {
  const b = new Set(before);
  const a = new Set(after);
  return { added: after.filter((x) => !b.has(x)), removed: before.filter((x) => !a.has(x)) };
}

export function diffRecords(before: Record<string, string>, after: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const out: string[] = [];
  for (const k of [...keys].sort()) if (before[k] !== after[k]) out.push(`${k}: ${before[k]} -> ${after[k]}`);
  return out;
}
