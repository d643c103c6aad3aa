// What this host and the systemd manager on the bus have, as facts (readHostFacts): the cgroup layout and the
// controllers the manager can use for a unit, seccomp, namespaces, AppArmor, SELinux, BPF, the block devices' IO
// schedulers, and the manager's own capabilities and limits (from its /proc entry). What the facts let systemd
// enforce is judged in capabilities.ts. It reads /sys and /proc and asks the manager over D-Bus; it writes nothing.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { CAPABILITIES, type CgroupController, type NamespaceNeed, type PropertyName } from '../properties/index.js';
import { type BusChoice, MANAGER_IFACE, MANAGER_PATH, type SystemdBus } from './bus.js';
import { cgroupLayout, type CgroupLayout } from './cgroup.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';
export const UINT64_MAX = 2n ** 64n - 1n;

export type ManagerKind = 'system' | 'user';

/** The raw facts about the host and its systemd that decide what can be enforced. */
export interface HostFacts {
  /** How cgroups are mounted: pure v2, hybrid (v1 controllers + cgroup2 for tracking), legacy v1, or none. */
  cgroup: CgroupLayout;
  /** The systemd manager the bus reaches: the system manager (runs as root) or a user's manager. */
  manager: ManagerKind;
  /** The manager's root control group (its ControlGroup property): '' for the system manager. */
  managerCgroup: string;
  /** systemd's version, e.g. '252.38-1~deb12u1'. */
  systemdVersion: string;
  /** What systemd was built with: '+SECCOMP', '-APPARMOR', ... */
  systemdFeatures: string[];
  /** This process runs as root (euid 0). */
  root: boolean;
  /** The kernel release (uname -r). */
  kernel: string;
  /** Cgroup controllers the manager can use for the pool's unit (v1 'blkio' is named 'io'). */
  controllers: CgroupController[];
  /** The kernel has seccomp filters and systemd was built with them. */
  seccomp: boolean;
  /** Namespaces the manager can set up for the unit. */
  namespaces: NamespaceNeed[];
  /** Unprivileged user namespaces are available (what a user manager's PrivateUsers=yes would need). */
  userNamespaces: boolean;
  /** AppArmor is enabled in the kernel, and systemd was built with it. */
  apparmor: boolean;
  /** SELinux is enabled (selinuxfs mounted), and systemd was built with it. */
  selinux: boolean;
  /** BPF cgroup programs can be attached (the IPAddressDeny firewall): a cgroup2 hierarchy and bpf(). */
  bpf: boolean;
  /** Block devices on which IO weights act: the BFQ scheduler, or io.cost enabled (v2). */
  proportionalIo: string[];
  /** The IO scheduler of each block device, for messages: { vda: 'mq-deadline' }. */
  ioSchedulers: Record<string, string>;
  /** The manager's pid, as the bus daemon tells it (1 for the system manager). */
  managerPid?: number;
  /**
   * The manager's effective capabilities (/proc/PID/status CapEff), when they could be read. Without
   * CAP_SYS_RESOURCE it cannot raise a limit above its own, nor lower oom_score_adj below its own; without
   * CAP_SYS_NICE it cannot give a negative Nice. A user manager has none; a system manager in a container or a
   * VM may lack some (on these machines, CAP_SYS_RESOURCE is out of every bounding set).
   */
  managerCapabilities?: string[];
  /** The manager's own hard limits and oom_score_adj, which bound its units without CAP_SYS_RESOURCE. */
  managerLimits?: { hard: Partial<Record<PropertyName, bigint>>; oomScoreAdjust?: number };
}

// ── reading them ────────────────────────────────────────────────────────────────────────────────────────────────

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Rows of /proc/<pid>/limits per Limit* property, and the rlimit each sets. */
export const RLIMIT_ROWS: Readonly<Partial<Record<PropertyName, string>>> = {
  LimitCPU: 'Max cpu time',
  LimitFSIZE: 'Max file size',
  LimitDATA: 'Max data size',
  LimitSTACK: 'Max stack size',
  LimitCORE: 'Max core file size',
  LimitNPROC: 'Max processes',
  LimitNOFILE: 'Max open files',
  LimitMEMLOCK: 'Max locked memory',
  LimitAS: 'Max address space',
  LimitLOCKS: 'Max file locks',
  LimitSIGPENDING: 'Max pending signals',
  LimitMSGQUEUE: 'Max msgqueue size',
  LimitNICE: 'Max nice priority',
  LimitRTPRIO: 'Max realtime priority',
  LimitRTTIME: 'Max realtime timeout',
};

/** /proc/<pid>/limits as { LimitNOFILE: { soft, hard } } in raw rlimit units ('unlimited' = 2^64-1). */
export function parseLimits(text: string): Partial<Record<PropertyName, { soft: bigint; hard: bigint }>> {
  const out: Partial<Record<PropertyName, { soft: bigint; hard: bigint }>> = {};
  const value = (v: string) => (v === 'unlimited' ? UINT64_MAX : BigInt(v));
  for (const [name, row] of Object.entries(RLIMIT_ROWS) as [PropertyName, string][]) {
    const m = new RegExp(`^${row}\\s+(\\S+)\\s+(\\S+)`, 'm').exec(text);
    if (m) out[name] = { soft: value(m[1]!), hard: value(m[2]!) };
  }
  return out;
}

/** Capability names in a hex mask (CapEff: 000001fffeffffff). */
export function capabilityNames(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

function v1Controllers(): CgroupController[] {
  const dirs: [CgroupController, string][] = [
    ['memory', 'memory'],
    ['cpu', 'cpu'],
    ['pids', 'pids'],
    ['io', 'blkio'],
    ['cpuset', 'cpuset'],
  ];
  return dirs.filter(([, dir]) => existsSync(`${CGROUP_ROOT}/${dir}/cgroup.procs`)).map(([c]) => c);
}

function v2Controllers(cgroup: string): CgroupController[] {
  const dir = cgroup === '' || cgroup === '/' ? CGROUP_ROOT : `${CGROUP_ROOT}${cgroup}`;
  const known: readonly string[] = ['memory', 'cpu', 'pids', 'io', 'cpuset'];
  return (read(`${dir}/cgroup.controllers`) ?? '').split(/\s+/).filter((c): c is CgroupController => known.includes(c));
}

function userNamespacesAvailable(): boolean {
  if (!existsSync('/proc/self/ns/user')) return false;
  if (Number(read('/proc/sys/user/max_user_namespaces') ?? '1') <= 0) return false;
  const clone = read('/proc/sys/kernel/unprivileged_userns_clone'); // Debian's switch, where the kernel has it
  return clone === undefined || clone.trim() !== '0';
}

function blockDevices(layout: CgroupLayout): { schedulers: Record<string, string>; proportional: string[] } {
  const schedulers: Record<string, string> = {};
  const proportional = new Set<string>();
  const byDev = new Map<string, string>();
  let names: string[] = [];
  try {
    names = readdirSync('/sys/block');
  } catch {
    /* no sysfs */
  }
  for (const name of names) {
    const dev = read(`/sys/block/${name}/dev`)?.trim();
    if (dev) byDev.set(dev, name);
    const sched = read(`/sys/block/${name}/queue/scheduler`);
    if (sched === undefined || name.startsWith('loop') || name.startsWith('ram')) continue;
    const chosen = /\[([^\]]+)\]/.exec(sched)?.[1] ?? sched.trim();
    schedulers[name] = chosen;
    if (chosen === 'bfq') proportional.add(name);
  }
  if (layout === 'v2') {
    for (const line of (read(`${CGROUP_ROOT}/io.cost.qos`) ?? '').split('\n')) {
      const m = /^(\d+:\d+)\s.*\benable=1\b/.exec(line);
      const name = m ? byDev.get(m[1]!) : undefined;
      if (name) proportional.add(name);
    }
  }
  return { schedulers, proportional: [...proportional] };
}

/** Reads the facts: the manager over `bus`, the rest from this machine. */
export async function readHostFacts(bus: SystemdBus, choice: BusChoice = 'system'): Promise<HostFacts> {
  const get = (name: string) => bus.getProperty(MANAGER_PATH, MANAGER_IFACE, name).catch(() => undefined);
  // One round trip: the manager's pid (asked of the bus daemon) with its properties.
  const [version, features, controlGroup, pid] = await Promise.all([
    get('Version'),
    get('Features'),
    get('ControlGroup'),
    bus.managerPid(),
  ]);
  const managerCgroup = typeof controlGroup === 'string' ? controlGroup : '';
  const manager: ManagerKind =
    choice === 'user'
      ? 'user'
      : choice === 'system'
        ? 'system'
        : /\/user@\d+\.service$/.test(managerCgroup)
          ? 'user'
          : 'system';
  const systemdFeatures = typeof features === 'string' ? features.split(/\s+/).filter((f) => /^[+-]/.test(f)) : [];
  // An old systemd without the Features property: assume it has what the kernel has.
  const built = (f: string) => systemdFeatures.length === 0 || systemdFeatures.includes(`+${f}`);
  const layout = cgroupLayout();
  const controllers =
    layout === 'v2' ? v2Controllers(managerCgroup) : layout === 'none' || manager === 'user' ? [] : v1Controllers();
  const userNamespaces = userNamespacesAvailable();
  const kernelNamespaces = (['mnt', 'net', 'ipc', 'uts'] as const).filter((ns) => existsSync(`/proc/self/ns/${ns}`));
  const status = read('/proc/self/status') ?? '';
  const io = blockDevices(layout);
  const facts: HostFacts = {
    cgroup: layout,
    manager,
    managerCgroup,
    systemdVersion: typeof version === 'string' ? version : 'unknown',
    systemdFeatures,
    root: process.geteuid?.() === 0,
    kernel: release(),
    controllers,
    seccomp: /^Seccomp:/m.test(status) && built('SECCOMP'),
    // A user manager sets up no namespace for a unit without PrivateUsers=yes (see the top of capabilities.ts).
    namespaces: manager === 'system' ? [...kernelNamespaces] : [],
    userNamespaces,
    apparmor: read('/sys/module/apparmor/parameters/enabled')?.trim() === 'Y' && built('APPARMOR'),
    selinux: existsSync('/sys/fs/selinux/enforce') && built('SELINUX'),
    bpf: (layout === 'v2' || layout === 'hybrid') && existsSync('/proc/sys/kernel/unprivileged_bpf_disabled'),
    proportionalIo: io.proportional,
    ioSchedulers: io.schedulers,
  };
  // The manager's own capabilities and limits bound what it can give its units (read where this process can see
  // the manager's /proc entry: the same machine, or the same pid namespace in the sandbox).
  // A bus in another pid namespace names a pid of its own: only trust it if it is a systemd here.
  if (pid !== undefined && read(`/proc/${pid}/comm`)?.trim() === 'systemd') {
    facts.managerPid = pid;
    const capEff = /^CapEff:\s+([0-9a-f]+)$/m.exec(read(`/proc/${pid}/status`) ?? '')?.[1];
    if (capEff !== undefined) facts.managerCapabilities = capabilityNames(capEff);
    const limits = read(`/proc/${pid}/limits`);
    const oom = read(`/proc/${pid}/oom_score_adj`)?.trim();
    if (limits !== undefined || oom !== undefined) {
      const hard: Partial<Record<PropertyName, bigint>> = {};
      for (const [name, l] of Object.entries(parseLimits(limits ?? '')) as [PropertyName, { hard: bigint }][])
        hard[name] = l.hard;
      facts.managerLimits = {
        hard,
        ...(oom !== undefined && /^-?\d+$/.test(oom) ? { oomScoreAdjust: Number(oom) } : {}),
      };
    }
  }
  return facts;
}
