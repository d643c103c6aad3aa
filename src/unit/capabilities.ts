// What the host's systemd can enforce, property by property, and the check at pool start that refuses what it
// cannot: a restriction is never dropped silently. A property the host cannot enforce is a CapabilityError at
// start, naming the property and why, unless the user lists it in `bestEffort` (then the pool runs without it and
// says so once, with process.emitWarning).
//
//   pool start ── bus connects ──> readHostFacts(bus)            the manager (Version, Features, ControlGroup over
//                                     │                          D-Bus) and this machine (/sys/fs/cgroup, /proc):
//                                     │                          host-facts.ts
//                                     ▼
//              judgeRequested(requested, facts)                  hostRequirements() of the table, resolved by value,
//                                     │                          against the facts: the properties it cannot enforce
//                                     ▼
//              CapabilityError, or the unit's properties without the best-effort ones (CompiledUnitOptions.without:
//                                                                 the one compile, assembled again without them)
//
// What was checked against the real systemd 252 of the sandbox (a hybrid cgroup v1 host; test/properties-enforced):
//  - The system manager enforces MemoryMax (memory.limit_in_bytes), CPUQuota (cpu.cfs_quota_us), CPUWeight
//    (cpu.shares), TasksMax (pids.max) and IOReadBandwidthMax (blkio.throttle) through the v1 controllers.
//  - It ignores AllowedCPUs, MemoryHigh and MemorySwapMax on v1 (no v1 cpuset / memory.high / swap support), and
//    OOMPolicy (it sees OOM kills only in cgroup v2's memory.events): refused there.
//  - IOWriteBandwidthMax on v1 throttles O_DIRECT and fsync'd writes only; buffered writes go out through the
//    kernel's writeback, which v1 does not charge to the unit: refused there.
//  - IOWeight acts only through BFQ (or io.cost on v2); on v1 systemd 252 also converts it twice (IOWeight=50
//    becomes blkio.bfq.weight 113, above the default 100): refused where no block device uses BFQ.
//  - IPAddressDeny/Allow work on the hybrid layout too: systemd attaches its BPF firewall to the unified (cgroup2)
//    hierarchy, which hybrid hosts also have. Only a legacy v1 host (no cgroup2 at all) cannot.
//  - The manager can only give what it has: without CAP_SYS_RESOURCE (out of every bounding set on these machines,
//    so the sandbox's systemd lacks it too) systemd silently clamps a Limit* above its own hard limit to that limit
//    (setrlimit_closest) and silently ignores an OOMScoreAdjust below its own; such values are refused.
// The user manager: on cgroup v1 it can enforce no cgroup limit (systemd delegates no v1 controller to
// user@.service); on v2 it enforces those of the controllers listed in its cgroup's cgroup.controllers. It cannot
// change users or capabilities, cannot attach BPF programs, and has no capability to raise its own limits (Limit*
// above its hard limits, OOMScoreAdjust below its own, a negative Nice). It sets up no namespace either: systemd
// 252 builds mount, network, IPC and UTS namespaces for a user unit only inside a user namespace of its own
// (PrivateUsers=yes), which unitpool does not ask for; without it, systemd only logs a line and runs the unit in
// the manager's namespaces. Checked in the v1 sandbox with systemd-run --user: PrivateTmp, ProtectHome and
// PrivateNetwork left the unit in the manager's mount and network namespaces; with PrivateUsers=yes added,
// PrivateNetwork worked but PrivateTmp, ProtectSystem, ProtectHome and PrivateIPC failed the unit (226/NAMESPACE).
// test/pool/rootless.test.ts shows what it does enforce there, from inside the workers: NoNewPrivileges, UMask,
// Environment, a Limit* below its own, and a seccomp filter (RestrictAddressFamilies).

import { CapabilityError } from '../errors.js';
import {
  type CgroupController,
  type CompiledUnitOptions,
  type DBusProperty,
  type HostNeeds,
  hostRequirements,
  PROPERTY_NAMES,
  type PropertyName,
  TABLE,
  type UnitProperties,
} from '../properties/index.js';
import { type BusChoice, SystemdBus } from './bus.js';
import type { CgroupLayout } from './cgroup.js';
import { CGROUP_ROOT, type HostFacts, readHostFacts, RLIMIT_ROWS, UINT64_MAX } from './host-facts.js';

/** Whether the host enforces one property, and if not, why. */
export interface PropertyCapability {
  enforced: boolean;
  /** Why it is not enforced (present when enforced is false). */
  reason?: string;
  /** A limit on how it is enforced here (e.g. a user manager can only lower a limit). */
  note?: string;
}

/** What this host can enforce: per property, and the facts it was judged from. */
export interface Capabilities {
  host: HostFacts;
  properties: Record<PropertyName, PropertyCapability>;
}

/** A requested property the host cannot enforce. */
export interface Refusal {
  property: PropertyName;
  reason: string;
}

// ── judging ──────────────────────────────────────────────────────────────────────────────────────────────

/** Why systemd does nothing with these on cgroup v1 (or a hybrid layout), where the generic sentence is too vague. */
const V1_REASONS: Readonly<Partial<Record<PropertyName, string>>> = {
  AllowedCPUs:
    'systemd 252 drives the cpuset controller only on cgroup v2: on v1 it would leave the workers on every CPU',
  MemoryHigh: 'memory.high exists only in the cgroup v2 memory controller: on v1 systemd ignores MemoryHigh',
  MemorySwapMax: 'systemd 252 sets swap limits only on cgroup v2 (memory.swap.max): on v1 it ignores MemorySwapMax',
  IOWriteBandwidthMax:
    "the v1 blkio controller throttles only the writes a unit submits itself (O_DIRECT, fsync): ordinary buffered writes, which is what Node's fs does, reach the disk through the kernel's writeback, which v1 does not charge to the unit",
  OOMPolicy:
    "systemd 252 notices the kernel's OOM kills only through cgroup v2's memory.events, so on v1 OOMPolicy has no effect; the pool itself still reports an OOM-killed worker, with reason 'oom-kill'",
};

const V1_CONTROLLER_DIR: Readonly<Record<CgroupController, string>> = {
  memory: 'memory',
  cpu: 'cpu',
  pids: 'pids',
  io: 'blkio',
  cpuset: 'cpuset',
};

function layoutWords(layout: CgroupLayout): string {
  return layout === 'hybrid' ? 'the hybrid layout' : layout === 'v1' ? 'the legacy layout' : layout;
}

/** Whether `facts` let systemd enforce a property with these needs. */
export function judge(name: PropertyName, needs: HostNeeds, facts: HostFacts): PropertyCapability {
  const reasons: string[] = [];
  const user = facts.manager === 'user';
  if (needs.cgroup || needs.cgroupV2Only) {
    if (facts.cgroup === 'none') reasons.push('no cgroup hierarchy is mounted on this host');
    else if (user && facts.cgroup !== 'v2') {
      reasons.push(
        `the user manager can enforce no cgroup limit on cgroup v1 (this host has ${layoutWords(facts.cgroup)}): systemd delegates no v1 controller to user@.service; use the system manager (bus: 'system', as root) or a cgroup v2 host`,
      );
    } else if (needs.cgroupV2Only && facts.cgroup !== 'v2') {
      reasons.push(
        `this host runs its cgroup controllers on v1 (${layoutWords(facts.cgroup)}), and ` +
          (V1_REASONS[name] ??
            `systemd enforces ${name} only on the unified cgroup v2 hierarchy: it would accept it and do nothing`),
      );
    } else if (needs.cgroup && !facts.controllers.includes(needs.cgroup)) {
      if (facts.cgroup !== 'v2')
        reasons.push(`no cgroup v1 ${V1_CONTROLLER_DIR[needs.cgroup]} hierarchy is mounted on this host`);
      else if (user) {
        reasons.push(
          `the ${needs.cgroup} controller is not delegated to the user manager (${CGROUP_ROOT}${facts.managerCgroup}/cgroup.controllers lists ${facts.controllers.join(' ') || 'none'}); delegate it with a drop-in for user@.service (Delegate=${[...facts.controllers, needs.cgroup].join(' ')}) or use the system manager`,
        );
      } else
        reasons.push(
          `the ${needs.cgroup} controller is not available on this host (${CGROUP_ROOT}/cgroup.controllers lists ${facts.controllers.join(' ') || 'none'})`,
        );
    }
  }
  if (needs.root === 'always' && user) {
    reasons.push(
      `only the system manager can do this (a user manager runs unprivileged); this pool talks to a user manager: use bus: 'system' as root`,
    );
  }
  const namespaces = needs.namespaces ?? [];
  const missingNs = namespaces.filter((ns) => !facts.namespaces.includes(ns));
  if (user && namespaces.length > 0) {
    reasons.push(
      `it needs a ${namespaces.join(' and ')} namespace, and systemd's user manager sets up none for a unit without PrivateUsers=yes (which unitpool does not set): it would run the workers in its own namespaces without a word; use the system manager (bus: 'system', as root)`,
    );
  } else if (missingNs.length > 0) {
    reasons.push(`this kernel has no ${missingNs.join(' or ')} namespaces`);
  }
  if (needs.seccomp && !facts.seccomp) {
    reasons.push(
      facts.systemdFeatures.includes('-SECCOMP')
        ? 'systemd was built without seccomp (-SECCOMP), and skips seccomp-based settings silently'
        : 'the kernel has no seccomp filters, and systemd skips seccomp-based settings silently',
    );
  }
  if (needs.bpf && !facts.bpf) {
    reasons.push(
      facts.cgroup === 'v1' || facts.cgroup === 'none'
        ? 'it needs BPF programs attached to a cgroup2 hierarchy, and this host has none (legacy cgroup v1); systemd would only log that the BPF firewall is not supported'
        : 'it needs BPF cgroup programs, and this kernel has no bpf() syscall',
    );
  }
  if (needs.proportionalIo && facts.proportionalIo.length === 0) {
    const scheds = Object.entries(facts.ioSchedulers)
      .map(([d, s]) => `${d}: ${s}`)
      .join(', ');
    reasons.push(
      `IO weights act only through a proportional IO scheduler, and no block device here uses BFQ${facts.cgroup === 'v2' ? ' or has io.cost enabled' : ''} (${scheds || 'no block devices'})` +
        (facts.cgroup !== 'v2'
          ? '; on cgroup v1 systemd 252 also converts the weight twice (IOWeight=50 becomes blkio.bfq.weight 113, above the default 100)'
          : ''),
    );
  }
  if (needs.apparmor && !facts.apparmor) {
    reasons.push(
      facts.systemdFeatures.includes('-APPARMOR')
        ? 'systemd was built without AppArmor'
        : 'AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled)',
    );
  }
  if (needs.selinux && !facts.selinux) {
    reasons.push(
      facts.systemdFeatures.includes('-SELINUX')
        ? 'systemd was built without SELinux'
        : 'SELinux is not enabled on this host (no /sys/fs/selinux)',
    );
  }
  if (reasons.length > 0) return { enforced: false, reason: reasons.join('; ') };
  if (needs.root === 'to-raise' && (user || !hasCap(facts, 'CAP_SYS_RESOURCE'))) {
    return {
      enforced: true,
      note: `the ${facts.manager} manager runs without CAP_SYS_RESOURCE, so it can only lower limits below its own and raise oom_score_adj above its own; the values are checked at start`,
    };
  }
  if (needs.proportionalIo && facts.cgroup !== 'v2') {
    return {
      enforced: true,
      note: `only on ${facts.proportionalIo.join(', ')} (BFQ); systemd 252 on cgroup v1 converts the weight twice (IOWeight=50 becomes blkio.bfq.weight 113)`,
    };
  }
  return { enforced: true };
}

/** Every property of the table, judged against `facts`. */
export function capabilitiesFromFacts(facts: HostFacts): Capabilities {
  const properties = {} as Record<PropertyName, PropertyCapability>;
  for (const name of PROPERTY_NAMES) properties[name] = judge(name, TABLE[name].needs, facts);
  return { host: facts, properties };
}

/** Whether the manager holds a capability (unknown capabilities: a user manager has none, a system manager all). */
function hasCap(facts: HostFacts, cap: string): boolean {
  return facts.managerCapabilities ? facts.managerCapabilities.includes(cap) : facts.manager === 'system';
}

function formatLimit(name: PropertyName, v: bigint): string {
  if (v === UINT64_MAX) return 'infinity';
  if (name === 'LimitNICE') return v === 0n ? '0' : `${v} (nice ${20n - v})`;
  return String(v);
}

/**
 * The requested properties this host cannot enforce, judged by value (hostRequirements), plus the values the
 * manager's own privileges cannot give (a Limit* above its hard limit or an OOMScoreAdjust below its own without
 * CAP_SYS_RESOURCE, a negative Nice without CAP_SYS_NICE). `compiled` is the unit's D-Bus properties (the Limit*
 * values in their raw rlimit units).
 */
export function judgeRequested(
  requested: UnitProperties,
  compiled: readonly DBusProperty[],
  facts: HostFacts,
): Refusal[] {
  const out: Refusal[] = [];
  const values = requested as Record<string, unknown>;
  const who = `the ${facts.manager} manager`;
  for (const { property, needs } of hostRequirements(requested)) {
    const verdict = judge(property, needs, facts);
    if (!verdict.enforced) {
      out.push({ property, reason: verdict.reason! });
      continue;
    }
    // What the manager's own privileges allow, by value.
    if (property === 'Nice') {
      const value = values.Nice;
      if (typeof value === 'number' && value < 0 && !hasCap(facts, 'CAP_SYS_NICE')) {
        out.push({
          property,
          reason: `a negative nice level needs CAP_SYS_NICE, which ${who} does not have; systemd would fail to start the unit (201/NICE)`,
        });
      }
    } else if (property === 'OOMScoreAdjust') {
      const own = facts.managerLimits?.oomScoreAdjust;
      const value = values.OOMScoreAdjust;
      if (own !== undefined && typeof value === 'number' && value < own && !hasCap(facts, 'CAP_SYS_RESOURCE')) {
        out.push({
          property,
          reason: `${who} runs with oom_score_adj ${own} and without CAP_SYS_RESOURCE, so it cannot give its units less; systemd would silently leave the workers at ${own}`,
        });
      }
    } else if (property in RLIMIT_ROWS && !hasCap(facts, 'CAP_SYS_RESOURCE')) {
      const own = facts.managerLimits?.hard[property];
      const entry = compiled.find(([n]) => n === property);
      if (own === undefined || !entry) continue;
      const hard = BigInt(entry[2] as number | bigint);
      if (hard > own) {
        out.push({
          property,
          reason: `its hard limit ${formatLimit(property, hard)} is above ${who}'s own (${formatLimit(property, own)}), and without CAP_SYS_RESOURCE the manager cannot raise it: systemd would silently apply ${formatLimit(property, own)} instead`,
        });
      }
    }
  }
  return out;
}

// ── the API and the check at start ──────────────────────────────────────────────────────────────────────

/** What the manager on `bus` and this host can enforce, per property (UnitPool.capabilities()). */
export async function hostCapabilities(choice: BusChoice = 'system'): Promise<Capabilities> {
  const bus = await SystemdBus.connect(choice);
  try {
    return capabilitiesFromFacts(await readHostFacts(bus, choice));
  } finally {
    bus.close();
  }
}

const warned = new Set<string>();

function warnOnce(r: Refusal): void {
  const key = `${r.property}\0${r.reason}`;
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(
    `${r.property} is not enforced on this host, and the pool runs without it (bestEffort): ${r.reason}`,
    {
      type: 'UnitPoolWarning',
      code: 'UNITPOOL_BEST_EFFORT',
    },
  );
}

/**
 * The check at pool start: throws CapabilityError for the first requested property the host cannot enforce that
 * is not in bestEffort (closing `bus`, since the pool will not start); returns the unit's properties without the
 * best-effort ones that cannot be enforced (each warned about once per process), from the same compile.
 */
export async function enforceCapabilities(
  bus: SystemdBus,
  choice: BusChoice,
  compiled: CompiledUnitOptions,
): Promise<readonly DBusProperty[]> {
  // Most pools ask for nothing the host could lack: no need to ask the manager anything.
  if (hostRequirements(compiled.requested).every((r) => Object.keys(r.needs).length === 0)) return compiled.properties;
  const facts = await readHostFacts(bus, choice);
  const refusals = judgeRequested(compiled.requested, compiled.properties, facts);
  const fatal = refusals.find((r) => !compiled.bestEffort.includes(r.property));
  if (fatal) {
    // The pool will not start: let go of the bus now, or the open connection would keep the process alive until
    // someone calls shutdown() on a pool that never ran.
    bus.close();
    throw new CapabilityError(fatal.property, fatal.reason);
  }
  if (refusals.length === 0) return compiled.properties;
  for (const r of refusals) warnOnce(r);
  return compiled.without(refusals.map((r) => r.property));
}
