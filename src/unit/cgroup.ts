// Reading a unit's control group directly, for what systemd does not tell (or tells wrongly) on every host:
// OOM kills (on cgroup v1 systemd reports them as Result=signal), CPU time (systemd 252 never sets CPUUsageNSec
// when cpu and cpuacct are mounted apart), peak memory (no MemoryPeak before systemd 255).
//
// Layouts: pure cgroup v2 (/sys/fs/cgroup is cgroup2) and hybrid/legacy v1 (a hierarchy per controller under
// /sys/fs/cgroup, and cgroup2 at /sys/fs/cgroup/unified). Every reader returns undefined when a file is not there.

import { existsSync, readFileSync } from 'node:fs';

const ROOT = '/sys/fs/cgroup';

/**
 * How the host mounts cgroups, in the one vocabulary unitpool uses everywhere (capabilities, the sandbox):
 * 'v2' cgroup2 on /sys/fs/cgroup; 'hybrid' v1 controllers with cgroup2 on /sys/fs/cgroup/unified; 'v1' v1 only
 * (the legacy layout); 'none' no cgroups found.
 */
export type CgroupLayout = 'v2' | 'hybrid' | 'v1' | 'none';

let layoutCache: CgroupLayout | undefined;
export function cgroupLayout(): CgroupLayout {
  if (layoutCache) return layoutCache;
  if (existsSync(`${ROOT}/cgroup.controllers`)) layoutCache = 'v2';
  else if (existsSync(`${ROOT}/unified/cgroup.controllers`)) layoutCache = 'hybrid';
  else if (existsSync(`${ROOT}/memory`)) layoutCache = 'v1';
  else layoutCache = 'none';
  return layoutCache;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** `key value` lines (cpu.stat, memory.events, memory.oom_control) -> number for `key`. */
function field(text: string | undefined, key: string): number | undefined {
  if (text === undefined) return undefined;
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

function number(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = text.trim();
  return /^\d+$/.test(v) ? Number(v) : undefined;
}

/** Paths of a unit's cgroup in each hierarchy that matters. */
function paths(cg: string) {
  const layout = cgroupLayout();
  if (layout === 'v2')
    return { unified: `${ROOT}${cg}`, memory: undefined, pids: undefined, blkio: undefined, cpuacct: undefined };
  return {
    unified: layout === 'hybrid' ? `${ROOT}/unified${cg}` : undefined,
    memory: `${ROOT}/memory${cg}`,
    pids: `${ROOT}/pids${cg}`,
    blkio: `${ROOT}/blkio${cg}`,
    cpuacct: existsSync(`${ROOT}/cpuacct`) ? `${ROOT}/cpuacct${cg}` : `${ROOT}/cpu,cpuacct${cg}`,
  };
}

/** How many processes of this cgroup the kernel's OOM killer has killed, or undefined if it cannot tell. */
export function oomKillCount(controlGroup: string): number | undefined {
  const p = paths(controlGroup);
  if (p.memory) {
    const v1 = field(read(`${p.memory}/memory.oom_control`), 'oom_kill');
    if (v1 !== undefined) return v1;
  }
  return p.unified ? field(read(`${p.unified}/memory.events`), 'oom_kill') : undefined;
}

/** How often this cgroup's memory use hit its limit (v1 memory.failcnt, v2 memory.events max), if it can tell. */
export function memoryLimitHits(controlGroup: string): number | undefined {
  const p = paths(controlGroup);
  if (p.memory) return number(read(`${p.memory}/memory.failcnt`));
  return p.unified ? field(read(`${p.unified}/memory.events`), 'max') : undefined;
}

export interface CgroupUsage {
  cpuUsec?: number;
  memoryCurrent?: number;
  memoryPeak?: number;
  /** Peak swap use: cgroup v2's memory.swap.peak, or 0 on a host with no swap at all. */
  swapPeak?: number;
  tasks?: number;
  ioReadBytes?: number;
  ioWriteBytes?: number;
}

/** What the unit's cgroup files say; fields the host does not provide are left out. */
export function cgroupUsage(controlGroup: string): CgroupUsage {
  const p = paths(controlGroup);
  const out: CgroupUsage = {};
  const cpuStat = p.unified ? read(`${p.unified}/cpu.stat`) : undefined;
  const cpu =
    field(cpuStat, 'usage_usec') ?? (p.cpuacct ? divide(number(read(`${p.cpuacct}/cpuacct.usage`)), 1000) : undefined);
  if (cpu !== undefined) out.cpuUsec = cpu;
  const memCurrent = p.memory
    ? number(read(`${p.memory}/memory.usage_in_bytes`))
    : number(read(`${p.unified}/memory.current`));
  if (memCurrent !== undefined) out.memoryCurrent = memCurrent;
  const memPeak = p.memory
    ? number(read(`${p.memory}/memory.max_usage_in_bytes`))
    : number(read(`${p.unified}/memory.peak`));
  if (memPeak !== undefined) out.memoryPeak = memPeak;
  const swapPeak = p.unified && !p.memory ? number(read(`${p.unified}/memory.swap.peak`)) : undefined;
  if (swapPeak !== undefined) out.swapPeak = swapPeak;
  else if (read('/proc/swaps')?.trim().split('\n').length === 1) out.swapPeak = 0;
  const tasks = number(read(`${p.pids ?? p.unified}/pids.current`));
  if (tasks !== undefined) out.tasks = tasks;
  const io = p.blkio ? ioV1(read(`${p.blkio}/blkio.throttle.io_service_bytes`)) : ioV2(read(`${p.unified}/io.stat`));
  if (io) Object.assign(out, io);
  return out;
}

function divide(v: number | undefined, by: number): number | undefined {
  return v === undefined ? undefined : Math.round(v / by);
}

function ioV1(text: string | undefined): Pick<CgroupUsage, 'ioReadBytes' | 'ioWriteBytes'> | undefined {
  if (text === undefined) return undefined;
  let r = 0;
  let w = 0;
  for (const line of text.split('\n')) {
    const [, op, v] = line.split(' ');
    if (op === 'Read') r += Number(v);
    else if (op === 'Write') w += Number(v);
  }
  return { ioReadBytes: r, ioWriteBytes: w };
}

function ioV2(text: string | undefined): Pick<CgroupUsage, 'ioReadBytes' | 'ioWriteBytes'> | undefined {
  if (text === undefined) return undefined;
  const sum = (key: string) =>
    [...text.matchAll(new RegExp(`\\b${key}=(\\d+)`, 'g'))].reduce((n, m) => n + Number(m[1]), 0);
  return { ioReadBytes: sum('rbytes'), ioWriteBytes: sum('wbytes') };
}
