// The sandbox's cgroups: one child cgroup per hierarchy, made under the launcher's own cgroup in
// that hierarchy, named `unitpool-sandbox-<launcher pid>-<random>`. systemd inside the sandbox sees
// these as the roots of its hierarchies (a cgroup namespace rooted there), so everything it creates
// stays below them, and removing them removes everything.

import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CgroupLayout } from '../unit/cgroup.js';
import { SandboxError } from './errors.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';
export const SANDBOX_CGROUP_PREFIX = 'unitpool-sandbox-';
const SANDBOX_CGROUP_RE = /^unitpool-sandbox-(\d+)-[0-9a-f]+$/;

export interface MountInfo {
  mountId: number;
  parentId: number;
  /** The mount's root within its file system (for cgroup mounts: relative to the mounter's cgroup namespace). */
  root: string;
  mountPoint: string;
  mountOptions: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

/** Parses /proc/<pid>/mountinfo text. */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6) continue;
    out.push({
      mountId: Number(fields[0]),
      parentId: Number(fields[1]),
      root: unescapeMountPath(fields[3]!),
      mountPoint: unescapeMountPath(fields[4]!),
      mountOptions: fields[5]!.split(','),
      fsType: fields[dash + 1]!,
      source: unescapeMountPath(fields[dash + 2] ?? ''),
      superOptions: (fields[dash + 3] ?? '').split(',').filter(Boolean),
    });
  }
  return out;
}

function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export interface ProcCgroup {
  hierarchyId: number;
  /** Controllers of a v1 hierarchy, e.g. ['cpu', 'cpuacct'] or ['name=systemd']; [] for cgroup2. */
  controllers: string[];
  /** The cgroup path, relative to the reader's cgroup namespace root. */
  path: string;
}

/** Parses /proc/<pid>/cgroup text. */
export function parseProcCgroup(text: string): ProcCgroup[] {
  const out: ProcCgroup[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    out.push({ hierarchyId: Number(m[1]), controllers: m[2] ? m[2].split(',') : [], path: m[3]! });
  }
  return out;
}

/** One cgroup hierarchy the launcher is in, and where it is mounted. */
export interface Hierarchy {
  version: 1 | 2;
  /** v1: controllers (and name=...) of the hierarchy; v2: []. */
  controllers: string[];
  /** Where the host mounts it, e.g. /sys/fs/cgroup/memory. */
  mountPoint: string;
  /** Its name below /sys/fs/cgroup ('memory', 'systemd', 'unified'), or '.' for a pure cgroup v2 mount on /sys/fs/cgroup. */
  name: string;
  /** Mount options to mount it again ('-' for none), e.g. 'memory', 'name=systemd', 'nsdelegate'. */
  mountOptions: string;
  /** The launcher's own cgroup directory in this hierarchy, e.g. /sys/fs/cgroup/memory/process_api/0f15.... */
  ownDir: string;
}

/** The cgroup hierarchies this process is in, where the host mounts them, and the links between them. */
export interface CgroupMounts {
  /** In unitpool's one vocabulary (src/unit/cgroup.ts): 'v2' (pure cgroup2), 'hybrid' (v1 controllers + cgroup2 on unified), 'v1' (v1 only). */
  layout: Exclude<CgroupLayout, 'none'>;
  hierarchies: Hierarchy[];
  /** Symbolic links directly in /sys/fs/cgroup, e.g. cpu -> cpu,cpuacct: [name, target]. */
  links: Array<[string, string]>;
}

const NON_CONTROLLER_OPTS = new Set([
  'rw',
  'ro',
  'none',
  'xattr',
  'noprefix',
  'clone_children',
  'cpuset_v2_mode',
  'favordynmods',
]);

function v1Controllers(superOptions: string[]): string[] {
  return superOptions.filter((o) => !NON_CONTROLLER_OPTS.has(o) && !o.startsWith('release_agent=')).sort();
}

function layoutError(detail: string): SandboxError {
  return new SandboxError(
    'cgroup-layout',
    `cannot handle this host's cgroup layout: ${detail}. The sandbox needs the cgroup file systems mounted ` +
      `under ${CGROUP_ROOT} as systemd or Docker mount them (cgroup2 on ${CGROUP_ROOT}, or a tmpfs there with the ` +
      `v1 hierarchies and name=systemd below it), and the launcher's own cgroups visible in them.`,
  );
}

/**
 * Finds every cgroup hierarchy this process is in and where the host mounts it.
 * Throws SandboxError('cgroup-layout') for layouts it cannot mirror inside the sandbox.
 */
export function readCgroupMounts(
  procCgroupText = readFileSync('/proc/self/cgroup', 'utf8'),
  mountInfoText = readFileSync('/proc/self/mountinfo', 'utf8'),
  readLinks: () => Array<[string, string]> = readCgroupRootLinks,
): CgroupMounts {
  const mounts = parseMountInfo(mountInfoText);
  const visible = visibleMounts(mounts);
  const under = (m: MountInfo) => m.mountPoint === CGROUP_ROOT || m.mountPoint.startsWith(CGROUP_ROOT + '/');
  const cgMounts = visible.filter((m) => (m.fsType === 'cgroup' || m.fsType === 'cgroup2') && under(m));
  const rootMount = visible.find((m) => m.mountPoint === CGROUP_ROOT);
  if (!rootMount) throw layoutError(`nothing is mounted on ${CGROUP_ROOT}`);

  const procs = parseProcCgroup(procCgroupText);
  const hierarchies: Hierarchy[] = [];
  let layout: CgroupMounts['layout'];

  if (rootMount.fsType === 'cgroup2') {
    layout = 'v2';
    const own = procs.find((p) => p.hierarchyId === 0);
    if (!own) throw layoutError('cgroup2 is mounted but /proc/self/cgroup has no 0:: line');
    hierarchies.push({
      version: 2,
      controllers: [],
      mountPoint: CGROUP_ROOT,
      name: '.',
      mountOptions: mountOpts(rootMount.superOptions),
      ownDir: ownDir(rootMount, own.path),
    });
  } else if (rootMount.fsType === 'tmpfs') {
    for (const p of procs) {
      if (p.hierarchyId === 0) {
        const m = cgMounts.find((x) => x.fsType === 'cgroup2');
        if (!m) continue; // cgroup2 exists in the kernel but is not mounted: nothing to mirror.
        hierarchies.push(hierarchyOf(2, [], m, p.path));
      } else {
        const want = [...p.controllers].sort().join(',');
        const m = cgMounts.find((x) => x.fsType === 'cgroup' && v1Controllers(x.superOptions).join(',') === want);
        if (!m) continue; // a hierarchy nobody mounted (or mounted elsewhere): the sandbox cannot use it.
        hierarchies.push(hierarchyOf(1, p.controllers, m, p.path));
      }
    }
    const hasNamed = hierarchies.some((h) => h.controllers.includes('name=systemd'));
    const hasV2 = hierarchies.some((h) => h.version === 2);
    if (!hasNamed && !hasV2) throw layoutError(`${CGROUP_ROOT} has neither name=systemd nor cgroup2 mounted`);
    if (!hasNamed) throw layoutError(`cgroup v1 controllers without a name=systemd hierarchy`);
    layout = hasV2 ? 'hybrid' : 'v1';
  } else {
    throw layoutError(`${CGROUP_ROOT} is a ${rootMount.fsType} file system`);
  }

  return { layout, hierarchies, links: layout === 'v2' ? [] : readLinks() };
}

/** Only the topmost (last listed) mount on each mount point counts. */
function visibleMounts(mounts: MountInfo[]): MountInfo[] {
  const byPoint = new Map<string, MountInfo>();
  for (const m of mounts) byPoint.set(m.mountPoint, m);
  return [...byPoint.values()];
}

function mountOpts(superOptions: string[]): string {
  const o = superOptions.filter((x) => x !== 'rw' && x !== 'ro' && !x.startsWith('release_agent='));
  return o.length ? o.join(',') : '-';
}

function ownDir(m: MountInfo, path: string): string {
  const rel = posix.relative(m.root, path);
  if (rel.startsWith('..')) {
    throw layoutError(
      `this process's cgroup ${path} lies outside the part of the hierarchy mounted on ${m.mountPoint} (${m.root})`,
    );
  }
  return rel ? join(m.mountPoint, rel) : m.mountPoint;
}

function hierarchyOf(version: 1 | 2, controllers: string[], m: MountInfo, path: string): Hierarchy {
  return {
    version,
    controllers,
    mountPoint: m.mountPoint,
    name: posix.relative(CGROUP_ROOT, m.mountPoint),
    mountOptions: mountOpts(version === 1 ? m.superOptions.filter((o) => o !== 'none') : m.superOptions),
    ownDir: ownDir(m, path),
  };
}

function readCgroupRootLinks(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const name of readdirSync(CGROUP_ROOT)) {
    const p = join(CGROUP_ROOT, name);
    if (lstatSync(p).isSymbolicLink()) out.push([name, readlinkSync(p)]);
  }
  return out;
}

/** The sandbox's cgroup directories, one per hierarchy. */
export interface SandboxCgroups {
  name: string;
  mounts: CgroupMounts;
  /** Host paths of the sandbox cgroups, in the order of mounts.hierarchies. */
  dirs: string[];
}

export function newSandboxCgroupName(pid = process.pid): string {
  return `${SANDBOX_CGROUP_PREFIX}${pid}-${randomBytes(4).toString('hex')}`;
}

/** Creates the sandbox cgroups. On failure removes what it made and throws. */
export function createSandboxCgroups(mounts: CgroupMounts, name = newSandboxCgroupName()): SandboxCgroups {
  const made: string[] = [];
  try {
    for (const h of mounts.hierarchies) {
      const dir = join(h.ownDir, name);
      mkdirCgroup(dir);
      made.push(dir);
      if (h.version === 1 && h.controllers.includes('cpuset')) {
        // A new v1 cpuset cgroup has no CPUs and no memory nodes (unless the parent has
        // cgroup.clone_children, which we do not change): copy the parent's.
        for (const f of ['cpuset.cpus', 'cpuset.mems']) {
          const v = readFileSync(join(h.ownDir, f), 'utf8').trim();
          if (v) writeFileSync(join(dir, f), v);
        }
      }
    }
  } catch (e) {
    for (const d of made.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        /* best effort */
      }
    }
    if (e instanceof SandboxError) throw e;
    throw new SandboxError('cgroup-layout', `cannot create the sandbox cgroups: ${(e as Error).message}`, '', {
      cause: e,
    });
  }
  return { name, mounts, dirs: made };
}

function mkdirCgroup(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new SandboxError('cgroup-layout', `cgroup ${dir} exists already`);
    throw e;
  }
}

/** All cgroup directories at and below `dir`, deepest first. */
export function cgroupTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: string[];
    try {
      entries = readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const name of entries) walk(join(d, name));
    out.push(d);
  };
  walk(dir);
  return out;
}

/** Pids (as this process sees them) in the cgroup `dir` itself. */
export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Removes the cgroup trees `dirs` bottom-up. Processes still in them (they can only be the
 * sandbox's own) are killed first. On v1 memory cgroups, memory.force_empty is written before rmdir
 * so the kernel does not keep dying memory cgroups around. Returns the directories it could not remove.
 */
export async function removeCgroupTrees(dirs: string[], timeoutMs = 3000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const left: string[] = [];
  for (const top of dirs) {
    for (const d of cgroupTree(top)) {
      if (!(await removeOne(d, deadline))) left.push(d);
    }
  }
  return left;
}

async function removeOne(dir: string, deadline: number): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const pids = cgroupPids(dir);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
    if (pids.length === 0) {
      try {
        writeFileSync(join(dir, 'memory.force_empty'), '0');
      } catch {
        /* not a v1 memory cgroup, or nothing to do */
      }
      try {
        rmdirSync(dir);
        return true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return true;
        if (code !== 'EBUSY') throw e;
      }
    }
    if (Date.now() > deadline) return false;
    await sleep(attempt < 10 ? 5 : 25);
  }
}

/**
 * Removes `unitpool-sandbox-<pid>-*` cgroups under this process's own cgroups whose launcher
 * `<pid>` is dead and which hold no process any more (left by a launcher that was killed before its
 * watchdog could clean up). Returns what it removed.
 */
export async function sweepStaleSandboxCgroups(mounts: CgroupMounts): Promise<string[]> {
  const removed: string[] = [];
  for (const h of mounts.hierarchies) {
    let names: string[];
    try {
      names = readdirSync(h.ownDir);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = SANDBOX_CGROUP_RE.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      if (pid === process.pid || pidAlive(pid)) continue;
      const dir = join(h.ownDir, name);
      const tree = cgroupTree(dir);
      if (tree.some((d) => cgroupPids(d).length > 0)) continue; // someone's processes: not ours to touch
      const left = await removeCgroupTrees([dir], 500);
      if (left.length === 0) removed.push(dir);
    }
  }
  return removed;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
