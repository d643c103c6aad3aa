// The ONE table of the systemd properties a user can set on a pool's unit.
//
// Each entry says: the name users write (the unit-file name), the D-Bus properties and signatures it
// becomes in StartTransientUnit (systemd 252, src/core/dbus-{execute,cgroup,service}.c), the unit of its
// value, the human forms accepted, a one-line doc, an example (used in error messages and docs), its
// category, and what the host must provide to enforce it (so a capability check can refuse what the host
// cannot enforce). The TypeScript type of `UnitProperties` is derived from this table (see the bottom),
// and compile.ts dispatches on `kind` to the compilers of src/properties/kinds/. Add a property here and
// it is typed, validated, compiled and documented.

import type { SyscallGroupName } from './syscalls.js';

export type Category = 'resources' | 'identity' | 'filesystem' | 'network-kernel' | 'environment';

export const CATEGORY_TITLES: Readonly<Record<Category, string>> = {
  resources: 'Resources',
  identity: 'Identity',
  filesystem: 'Filesystem',
  'network-kernel': 'Network and kernel',
  environment: 'Environment',
};

/** A cgroup controller, named as on cgroup v2 (on v1, 'io' is enforced through blkio). */
export type CgroupController = 'memory' | 'cpu' | 'pids' | 'io' | 'cpuset';
/** A namespace systemd must be able to create for the unit. */
export type NamespaceNeed = 'mnt' | 'net' | 'ipc' | 'uts';

/** What the host must provide for systemd to enforce a property. */
export interface HostNeeds {
  /** This cgroup controller must be available to the unit (delegated to a user manager, if one is used). */
  readonly cgroup?: CgroupController;
  /** Enforced only on the unified (v2) cgroup hierarchy (systemd ignores it on v1/hybrid). */
  readonly cgroupV2Only?: true;
  /**
   * 'always': only a privileged (system) manager can do it, never a user manager.
   * 'to-raise': a manager without the capability (CAP_SYS_RESOURCE, or CAP_SYS_NICE for Nice) can lower it
   * but not raise it above its own (OOMScoreAdjust below its own, a Limit* above its hard limit, a negative
   * Nice): every user manager, and a system manager in a container or VM that drops it. systemd would
   * silently clamp or ignore the value, so the capability check compares values (src/unit/capabilities.ts).
   */
  readonly root?: 'always' | 'to-raise';
  /** Namespaces systemd sets up for it (a user manager sets up none: src/unit/capabilities.ts). */
  readonly namespaces?: readonly NamespaceNeed[];
  /** Implemented (at least partly) with a seccomp filter; silently skipped by systemd without seccomp. */
  readonly seccomp?: true;
  /**
   * Needs BPF cgroup programs (BPF_CGROUP_INET_*), attached on a cgroup2 hierarchy: pure v2, or the unified
   * hierarchy of a hybrid layout (systemd 252 attaches its BPF firewall there too; verified in the sandbox).
   */
  readonly bpf?: true;
  /**
   * A weight that acts only through a proportional IO scheduler: a block device using BFQ, or io.cost on
   * cgroup v2. With mq-deadline, kyber or none and no io.cost, IO weights change nothing.
   */
  readonly proportionalIo?: true;
  readonly apparmor?: true;
  readonly selinux?: true;
}

export type Kind =
  | 'bool'
  | 'enum'
  | 'cpuQuota'
  | 'memory'
  | 'tasks'
  | 'weight'
  | 'cpuSet'
  | 'ioBandwidth'
  | 'int'
  | 'rlimit'
  | 'duration'
  | 'user'
  | 'group'
  | 'groups'
  | 'mode'
  | 'paths'
  | 'binds'
  | 'tmpfs'
  | 'path'
  | 'workdir'
  | 'dirNames'
  | 'families'
  | 'syscalls'
  | 'errno'
  | 'archs'
  | 'caps'
  | 'namespaces'
  | 'ipAccess'
  | 'selinux'
  | 'apparmor'
  | 'environment';

export type RlimitKind = 'size' | 'count' | 'seconds' | 'usec' | 'nice';

/** One row of the table. Kind-specific fields are optional here and read by the kind compilers (src/properties/kinds/). */
export interface PropertySpec {
  readonly kind: Kind;
  readonly category: Category;
  /** The D-Bus properties (name, signature) this may become; more than one when the form decides. */
  readonly dbus: readonly (readonly [name: string, signature: string])[];
  /** The unit of the value, for docs: 'bytes', 'percent of one CPU', ... */
  readonly unit: string;
  /** The forms accepted, in words, for error messages and docs. */
  readonly forms: string;
  /** One line: what it does. */
  readonly doc: string;
  /** A good value (type-checked against the property's input type by a test). */
  readonly example: unknown;
  readonly needs: HostNeeds;
  /** A caveat, chiefly how it interacts with Node. */
  readonly note?: string;
  /** Other properties the example needs to mean anything (SystemCallErrorNumber needs a SystemCallFilter). */
  readonly exampleWith?: Readonly<Record<string, unknown>>;
  // kind-specific
  readonly values?: readonly string[];
  readonly booleans?: boolean;
  readonly min?: number;
  readonly max?: number;
  readonly idle?: boolean;
  readonly rlimit?: RlimitKind;
  /** For 'memory' and 'rlimit': the smallest value Node can live with, in bytes or count. */
  readonly floor?: number;
  /** For 'memory': whether 0 is allowed (MemorySwapMax) or the minimum is 1 byte. */
  readonly zeroOk?: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Names for typed lists.

/** Capabilities by the kernel's numbers (include/uapi/linux/capability.h), index = bit. */
export const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;
export type CapabilityName = (typeof CAPABILITIES)[number];
type ShortCap<C> = C extends `CAP_${infer R}` ? Lowercase<R> : never;
/** 'CAP_NET_ADMIN', 'cap_net_admin' or 'net_admin'. */
export type Capability = CapabilityName | Lowercase<CapabilityName> | ShortCap<CapabilityName>;

/** Socket address families systemd 252 knows (glibc's AF_* minus AF_UNSPEC and AF_MAX). */
export const ADDRESS_FAMILIES = [
  'AF_UNIX',
  'AF_LOCAL',
  'AF_FILE',
  'AF_INET',
  'AF_INET6',
  'AF_NETLINK',
  'AF_ROUTE',
  'AF_PACKET',
  'AF_AX25',
  'AF_IPX',
  'AF_APPLETALK',
  'AF_NETROM',
  'AF_BRIDGE',
  'AF_ATMPVC',
  'AF_X25',
  'AF_ROSE',
  'AF_DECnet',
  'AF_NETBEUI',
  'AF_SECURITY',
  'AF_KEY',
  'AF_ASH',
  'AF_ECONET',
  'AF_ATMSVC',
  'AF_RDS',
  'AF_SNA',
  'AF_IRDA',
  'AF_PPPOX',
  'AF_WANPIPE',
  'AF_LLC',
  'AF_IB',
  'AF_MPLS',
  'AF_CAN',
  'AF_TIPC',
  'AF_BLUETOOTH',
  'AF_IUCV',
  'AF_RXRPC',
  'AF_ISDN',
  'AF_PHONET',
  'AF_IEEE802154',
  'AF_CAIF',
  'AF_ALG',
  'AF_NFC',
  'AF_VSOCK',
  'AF_KCM',
  'AF_QIPCRTR',
  'AF_SMC',
  'AF_XDP',
  'AF_MCTP',
] as const;
export type AddressFamily = (typeof ADDRESS_FAMILIES)[number];

/** seccomp_arch_from_string() in systemd 252. */
export const SYSCALL_ARCHITECTURES = [
  'native',
  'x86',
  'x86-64',
  'x32',
  'arm',
  'arm64',
  'mips',
  'mips64',
  'mips64-n32',
  'mips-le',
  'mips64-le',
  'mips64-le-n32',
  'parisc',
  'parisc64',
  'ppc',
  'ppc64',
  'ppc64-le',
  'riscv64',
  's390',
  's390x',
] as const;
export type SyscallArchitecture = (typeof SYSCALL_ARCHITECTURES)[number];

/** Namespace types for RestrictNamespaces, with their CLONE_NEW* flags (systemd's namespace_info[]). */
export const NAMESPACE_FLAGS = {
  cgroup: 0x02000000,
  ipc: 0x08000000,
  net: 0x40000000,
  mnt: 0x00020000,
  pid: 0x20000000,
  user: 0x10000000,
  uts: 0x04000000,
} as const;
export type NamespaceName = keyof typeof NAMESPACE_FLAGS;

export type SyscallGroup = SyscallGroupName;

// ---------------------------------------------------------------------------------------------------
// Input types, per kind.

export type SizeSuffix = 'K' | 'M' | 'G' | 'T' | 'P' | 'E' | 'B';
/** Bytes: a number (or BigInt) of bytes, or '512M', '1.5G', '1G 512M' (base 1024; base 1000 for IO rates). */
export type Size = number | bigint | `${number}` | `${number}${SizeSuffix}` | `${number}${SizeSuffix} ${string}`;
export type Percent = `${number}%`;
export type TimeUnit =
  | 'us'
  | 'usec'
  | 'µs'
  | 'ms'
  | 'msec'
  | 's'
  | 'sec'
  | 'second'
  | 'seconds'
  | 'm'
  | 'min'
  | 'minute'
  | 'minutes'
  | 'h'
  | 'hr'
  | 'hour'
  | 'hours'
  | 'd'
  | 'day'
  | 'days'
  | 'w'
  | 'week'
  | 'weeks'
  | 'month'
  | 'months'
  | 'y'
  | 'year'
  | 'years';
/** A number of seconds, or systemd.time(7): '30s', '5min', '1h 30s', '250ms'. */
export type Duration = number | `${number}` | `${number}${TimeUnit}` | `${number}${TimeUnit} ${string}`;

type RlimitValue<R> = R extends 'size'
  ? Size | 'infinity'
  : R extends 'count'
    ? number | 'infinity'
    : R extends 'seconds' | 'usec'
      ? Duration | 'infinity'
      : number;
/** One value for soft and hard, { soft, hard }, or 'soft:hard' as in unit files. */
export type RlimitInput<R> =
  RlimitValue<R> | { readonly soft: RlimitValue<R>; readonly hard: RlimitValue<R> } | `${string}:${string}`;

export interface BindPath {
  /** Absolute path on the host. */
  readonly source: string;
  /** Absolute path in the unit's view; defaults to source. */
  readonly destination?: string;
  /** Only in BindPaths: true makes this entry read-only (it goes to BindReadOnlyPaths). */
  readonly readOnly?: boolean;
  /** rbind (default true) or a plain bind of just this mount. */
  readonly recursive?: boolean;
  /** Skip the entry when the source does not exist (unit-file '-' prefix). */
  readonly ignoreMissing?: boolean;
}
/** 'src', 'src:dst' or 'src:dst:rbind|norbind', optionally prefixed with '-' (ignore a missing source). */
export type BindInput = string | BindPath | readonly (string | BindPath)[];

export interface TemporaryFileSystemEntry {
  readonly path: string;
  /** tmpfs mount options: 'ro', 'mode=0755', 'size=10M', ... */
  readonly options?: string | readonly string[];
}
export type TmpfsInput = string | TemporaryFileSystemEntry | readonly (string | TemporaryFileSystemEntry)[];

type Loose<T extends string> = T | (string & {});
export type SyscallName = Loose<SyscallGroup | `~${SyscallGroup}`>;
export type SyscallFilterInput =
  | SyscallName
  | readonly SyscallName[]
  | { readonly allow?: readonly SyscallName[]; readonly deny?: readonly SyscallName[] };
/** An errno name ('EPERM'), a number from 1 to 4095, or 'kill'. */
export type ErrnoInput = Loose<'EPERM' | 'EACCES' | 'ENOSYS' | 'kill'> | number;
export type AddressFamiliesInput =
  | `AF_${string}`
  | `~AF_${string}`
  | readonly AddressFamily[]
  | { readonly allow: readonly AddressFamily[] }
  | { readonly deny: readonly AddressFamily[] };
export type CapabilitiesInput = readonly Capability[] | { readonly drop: readonly Capability[] } | Loose<Capability>;
export type NamespacesInput =
  | boolean
  | readonly NamespaceName[]
  | { readonly allow: readonly NamespaceName[] }
  | { readonly deny: readonly NamespaceName[] };
export type IpAccessInput =
  | Loose<'any' | 'localhost' | 'link-local' | 'multicast'>
  | readonly Loose<'any' | 'localhost' | 'link-local' | 'multicast'>[];
export type IoBandwidthInput =
  Readonly<Record<string, Size | 'infinity'>> | `/${string} ${string}` | readonly `/${string} ${string}`[];
export type EnvironmentInput = Readonly<Record<string, string>> | readonly `${string}=${string}`[];

/** The input type of one table entry. */
export type InputOf<S> = S extends { kind: 'bool' }
  ? boolean
  : S extends { kind: 'enum'; values: readonly (infer V)[]; booleans: true }
    ? V | boolean
    : S extends { kind: 'enum'; values: readonly (infer V)[] }
      ? V
      : S extends { kind: 'cpuQuota' }
        ? number | Percent
        : S extends { kind: 'memory' }
          ? Size | Percent | 'infinity'
          : S extends { kind: 'tasks' }
            ? number | Percent | 'infinity'
            : S extends { kind: 'weight'; idle: true }
              ? number | 'idle'
              : S extends { kind: 'weight' | 'int' }
                ? number
                : S extends { kind: 'cpuSet' }
                  ? string | readonly number[]
                  : S extends { kind: 'ioBandwidth' }
                    ? IoBandwidthInput
                    : S extends { kind: 'rlimit'; rlimit: infer R }
                      ? RlimitInput<R>
                      : S extends { kind: 'duration' }
                        ? Duration | 'infinity'
                        : S extends { kind: 'user' | 'group' }
                          ? string | number
                          : S extends { kind: 'groups' }
                            ? readonly (string | number)[]
                            : S extends { kind: 'mode' }
                              ? number | string
                              : S extends { kind: 'paths' | 'dirNames' }
                                ? string | readonly string[]
                                : S extends { kind: 'binds' }
                                  ? BindInput
                                  : S extends { kind: 'tmpfs' }
                                    ? TmpfsInput
                                    : S extends { kind: 'path' | 'workdir' | 'selinux' }
                                      ? string
                                      : S extends { kind: 'families' }
                                        ? AddressFamiliesInput
                                        : S extends { kind: 'syscalls' }
                                          ? SyscallFilterInput
                                          : S extends { kind: 'errno' }
                                            ? ErrnoInput
                                            : S extends { kind: 'archs' }
                                              ? SyscallArchitecture | readonly SyscallArchitecture[]
                                              : S extends { kind: 'caps' }
                                                ? CapabilitiesInput
                                                : S extends { kind: 'namespaces' }
                                                  ? NamespacesInput
                                                  : S extends { kind: 'ipAccess' }
                                                    ? IpAccessInput
                                                    : S extends { kind: 'apparmor' }
                                                      ? | string
                                                        | { readonly profile: string; readonly ignoreErrors?: boolean }
                                                      : S extends { kind: 'environment' }
                                                        ? EnvironmentInput
                                                        : never;

// ---------------------------------------------------------------------------------------------------
// Shared bits of the rows.

const MNT = { namespaces: ['mnt'] } as const;
const SIZE_FORMS = `a size: '512M', '1.5G' (K, M, G, T, P, E: base 1024), whole bytes as a number, 'infinity', or a share of RAM like '50%'`;
const NODE_MEMORY_FLOOR = 16 * 1024 * 1024;

function limit<R extends RlimitKind>(
  name: string,
  rlimit: R,
  doc: string,
  example: RlimitInput<R>,
  extra: { note?: string; floor?: number } = {},
) {
  const units: Record<RlimitKind, string> = {
    size: 'bytes',
    count: 'count',
    seconds: 'seconds of CPU time',
    usec: 'microseconds',
    nice: 'nice level',
  };
  const forms: Record<RlimitKind, string> = {
    size: `a size ('64M', '1G', base 1024), a number of bytes, or 'infinity'`,
    count: `a whole number or 'infinity'`,
    seconds: `a duration ('30s', '5min'; a number is seconds, rounded up to whole seconds) or 'infinity'`,
    usec: `a duration ('50ms'; a number or a bare numeric string is microseconds) or 'infinity'`,
    nice: `the highest priority the workers may raise themselves to, as a nice level from -20 to 19`,
  };
  return {
    kind: 'rlimit',
    category: 'resources',
    rlimit,
    dbus: [
      [name, 't'],
      [`${name}Soft`, 't'],
    ],
    unit: units[rlimit],
    forms: `${forms[rlimit]}; one value sets soft and hard, or { soft, hard }, or 'soft:hard'`,
    doc,
    example,
    needs: { root: 'to-raise' },
    ...extra,
  } as const;
}

// ---------------------------------------------------------------------------------------------------
// THE TABLE.

export const TABLE = {
  // ---- Resources ----------------------------------------------------------------------------------
  CPUQuota: {
    kind: 'cpuQuota',
    category: 'resources',
    dbus: [['CPUQuotaPerSecUSec', 't']],
    unit: 'percent of one CPU',
    forms: `a percentage of one CPU ('20%', '150%' for one and a half CPUs), or a number of CPUs (0.2, 1.5)`,
    doc: 'Caps the CPU time of all workers together: 100% is one full CPU.',
    example: '50%',
    needs: { cgroup: 'cpu' },
    note: 'The pool sizes maxWorkers to the CPUs this allows.',
  },
  CPUWeight: {
    kind: 'weight',
    category: 'resources',
    idle: true,
    dbus: [['CPUWeight', 't']],
    unit: 'weight',
    forms: `a whole number from 1 to 10000 (default 100), or 'idle'`,
    doc: 'Relative share of CPU when CPUs are contended; idle runs only when nothing else wants the CPU.',
    example: 20,
    needs: { cgroup: 'cpu' },
  },
  AllowedCPUs: {
    kind: 'cpuSet',
    category: 'resources',
    dbus: [['AllowedCPUs', 'ay']],
    unit: 'CPU numbers',
    forms: `CPU numbers and ranges ('0-1,3') or an array of CPU numbers ([0, 1, 3])`,
    doc: 'Pins the workers to these CPUs (cpuset controller).',
    example: '0-1',
    needs: { cgroup: 'cpuset', cgroupV2Only: true },
  },
  MemoryMax: {
    kind: 'memory',
    category: 'resources',
    dbus: [
      ['MemoryMax', 't'],
      ['MemoryMaxScale', 'u'],
    ],
    unit: 'bytes',
    forms: SIZE_FORMS,
    doc: 'Hard memory cap of the unit; past it the kernel OOM-kills a worker.',
    example: '512M',
    needs: { cgroup: 'memory' },
    floor: NODE_MEMORY_FLOOR,
    note: 'Each Node process needs about 40 MB; the supervisor counts too.',
  },
  MemoryHigh: {
    kind: 'memory',
    category: 'resources',
    dbus: [
      ['MemoryHigh', 't'],
      ['MemoryHighScale', 'u'],
    ],
    unit: 'bytes',
    forms: SIZE_FORMS,
    doc: 'Soft memory limit: above it the kernel throttles the unit and reclaims hard, without killing.',
    example: '384M',
    needs: { cgroup: 'memory', cgroupV2Only: true },
    floor: NODE_MEMORY_FLOOR,
  },
  MemorySwapMax: {
    kind: 'memory',
    category: 'resources',
    zeroOk: true,
    dbus: [
      ['MemorySwapMax', 't'],
      ['MemorySwapMaxScale', 'u'],
    ],
    unit: 'bytes',
    forms: SIZE_FORMS,
    doc: 'Cap on the swap the unit may use; 0 keeps it out of swap.',
    example: 0,
    needs: { cgroup: 'memory', cgroupV2Only: true },
  },
  TasksMax: {
    kind: 'tasks',
    category: 'resources',
    dbus: [
      ['TasksMax', 't'],
      ['TasksMaxScale', 'u'],
    ],
    unit: 'tasks (processes and threads)',
    forms: `a whole number, 'infinity', or a share of the kernel's limit below 100% ('10%')`,
    doc: 'Caps the number of processes and threads in the unit (a fork bomb stops here).',
    example: 512,
    needs: { cgroup: 'pids' },
    note: 'A Node process runs 7 to 11 threads; allow 12 per worker plus 12 for the supervisor.',
  },
  IOReadBandwidthMax: {
    kind: 'ioBandwidth',
    category: 'resources',
    dbus: [['IOReadBandwidthMax', 'a(st)']],
    unit: 'bytes per second',
    forms: `{ '/dev/sda': '20M' } (a block device or a path on it; K, M, G, T: base 1000; or 'infinity'), or '/dev/sda 20M'`,
    doc: 'Caps read bandwidth from a block device (or the device a path lives on).',
    example: { '/dev/sda': '20M' },
    needs: { cgroup: 'io' },
  },
  IOWriteBandwidthMax: {
    kind: 'ioBandwidth',
    category: 'resources',
    dbus: [['IOWriteBandwidthMax', 'a(st)']],
    unit: 'bytes per second',
    forms: `{ '/dev/sda': '20M' } (a block device or a path on it; K, M, G, T: base 1000; or 'infinity'), or '/dev/sda 20M'`,
    doc: 'Caps write bandwidth to a block device (or the device a path lives on).',
    example: { '/dev/sda': '10M' },
    needs: { cgroup: 'io', cgroupV2Only: true },
    note: "On cgroup v1 only writes the unit submits itself (O_DIRECT, fsync) are throttled: ordinary buffered writes reach the disk through the kernel's writeback, which v1 does not charge to the unit.",
  },
  IOWeight: {
    kind: 'weight',
    category: 'resources',
    dbus: [['IOWeight', 't']],
    unit: 'weight',
    forms: 'a whole number from 1 to 10000 (default 100)',
    doc: 'Relative share of block IO when devices are contended.',
    example: 50,
    needs: { cgroup: 'io', proportionalIo: true },
    note: 'Acts only on devices using the BFQ IO scheduler (or with io.cost enabled, on cgroup v2).',
  },
  Nice: {
    kind: 'int',
    category: 'resources',
    min: -20,
    max: 19,
    dbus: [['Nice', 'i']],
    unit: 'nice level',
    forms: 'a whole number from -20 (most favoured) to 19 (least favoured)',
    doc: 'Scheduling priority (niceness) of the workers.',
    example: 10,
    needs: { root: 'to-raise' },
  },
  LimitCPU: limit('LimitCPU', 'seconds', 'Per-process CPU time; a worker past it gets SIGXCPU and dies.', '5min'),
  LimitFSIZE: limit('LimitFSIZE', 'size', 'Largest file a worker may write (SIGXFSZ past it).', '1G'),
  LimitDATA: limit('LimitDATA', 'size', 'Per-process data segment and private writable mappings.', '2G', {
    floor: 64 * 1024 * 1024,
    note: 'V8 cannot start below about 48 MB; use MemoryMax to cap memory.',
  }),
  LimitSTACK: limit('LimitSTACK', 'size', 'Per-thread stack size of the main thread.', '8M', {
    floor: 1024 * 1024,
    note: 'V8 assumes about 1 MB of stack; less turns deep recursion into a crash instead of a RangeError.',
  }),
  LimitCORE: limit('LimitCORE', 'size', 'Largest core dump a crashing worker may write; 0 disables core dumps.', 0),
  LimitNOFILE: limit(
    'LimitNOFILE',
    'count',
    'Open file descriptors per process (Node raises its soft limit to the hard one at start, so the hard limit is what the workers get).',
    4096,
    {
      floor: 64,
      note: 'The supervisor holds a few descriptors per worker.',
    },
  ),
  LimitAS: limit('LimitAS', 'size', 'Per-process address space (virtual memory), not memory use.', '16G', {
    floor: 1024 * 1024 * 1024,
    note: 'V8 reserves about 800 MB of address space at start and WebAssembly about 10 GB per memory; use MemoryMax to cap memory.',
  }),
  LimitNPROC: limit(
    'LimitNPROC',
    'count',
    'Processes and threads of the same user, system-wide (not enforced for root).',
    1024,
    {
      floor: 16,
    },
  ),
  LimitMEMLOCK: limit('LimitMEMLOCK', 'size', 'Memory a process may lock into RAM.', '8M'),
  LimitLOCKS: limit('LimitLOCKS', 'count', 'File locks a process may hold.', 1024),
  LimitSIGPENDING: limit('LimitSIGPENDING', 'count', 'Signals that may be queued for a process.', 1024),
  LimitMSGQUEUE: limit('LimitMSGQUEUE', 'size', 'Bytes in POSIX message queues per user.', '1M'),
  LimitNICE: limit('LimitNICE', 'nice', 'Highest priority a worker may give itself with nice(2)/setpriority(2).', 0),
  LimitRTPRIO: limit('LimitRTPRIO', 'count', 'Highest realtime priority a worker may take.', 0),
  LimitRTTIME: limit('LimitRTTIME', 'usec', 'CPU time a realtime-scheduled worker may use without blocking.', '50ms'),
  RuntimeMaxSec: {
    kind: 'duration',
    category: 'resources',
    dbus: [['RuntimeMaxUSec', 't']],
    unit: 'duration',
    forms: `a duration ('30s', '5min', '1h 30s', '250ms'; a number is seconds) or 'infinity'`,
    doc: 'Stops the whole unit, with every worker, once it has run this long.',
    example: '1h',
    needs: {},
  },
  OOMScoreAdjust: {
    kind: 'int',
    category: 'resources',
    min: -1000,
    max: 1000,
    dbus: [['OOMScoreAdjust', 'i']],
    unit: 'score adjustment',
    forms: 'a whole number from -1000 (never kill) to 1000 (kill first)',
    doc: "Makes the kernel's system-wide OOM killer prefer or spare the workers.",
    example: 500,
    needs: { root: 'to-raise' },
  },
  OOMPolicy: {
    kind: 'enum',
    category: 'resources',
    values: ['continue', 'stop', 'kill'],
    dbus: [['OOMPolicy', 's']],
    unit: 'policy',
    forms: `'continue', 'stop' or 'kill'`,
    doc: 'What systemd does when the kernel OOM-kills a worker: carry on, stop the unit, or kill all its processes.',
    example: 'continue',
    needs: { cgroup: 'memory', cgroupV2Only: true },
    note: "systemd notices OOM kills through cgroup v2's memory.events only; 'continue' is the pool's own default.",
  },

  // ---- Identity -----------------------------------------------------------------------------------
  User: {
    kind: 'user',
    category: 'identity',
    dbus: [['User', 's']],
    unit: 'user',
    forms: `a user name ('nobody') or a numeric uid; it must exist unless DynamicUser is true`,
    doc: 'Runs the workers as this user.',
    example: 'nobody',
    needs: { root: 'always' },
  },
  Group: {
    kind: 'group',
    category: 'identity',
    dbus: [['Group', 's']],
    unit: 'group',
    forms: `a group name ('nogroup') or a numeric gid; it must exist unless DynamicUser is true`,
    doc: "Runs the workers with this primary group (default: the user's).",
    example: 'nogroup',
    needs: { root: 'always' },
  },
  SupplementaryGroups: {
    kind: 'groups',
    category: 'identity',
    dbus: [['SupplementaryGroups', 'as']],
    unit: 'groups',
    forms: `an array of group names or gids (['video', 1001]); each must exist`,
    doc: "Extra groups for the workers, added to the user's own.",
    example: ['nogroup'],
    needs: { root: 'always' },
  },
  DynamicUser: {
    kind: 'bool',
    category: 'identity',
    dbus: [['DynamicUser', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Runs as a uid/gid allocated for the life of the unit; implies ProtectSystem=strict, ProtectHome=read-only, PrivateTmp, NoNewPrivileges, RestrictSUIDSGID and RemoveIPC.',
    example: true,
    needs: { root: 'always', ...MNT },
  },
  UMask: {
    kind: 'mode',
    category: 'identity',
    dbus: [['UMask', 'u']],
    unit: 'octal mode',
    forms: `an octal string ('0077', '027') or a number written in octal (0o077)`,
    doc: 'File-mode creation mask of the workers.',
    example: '0077',
    needs: {},
  },

  // ---- Filesystem ---------------------------------------------------------------------------------
  ProtectSystem: {
    kind: 'enum',
    category: 'filesystem',
    booleans: true,
    values: ['full', 'strict'],
    dbus: [['ProtectSystem', 's']],
    unit: 'mode',
    forms: `true, false, 'full' or 'strict'`,
    doc: "Makes the system read-only: true for /usr and /boot, 'full' adds /etc, 'strict' everything but /dev, /proc, /sys and ReadWritePaths.",
    example: 'strict',
    needs: MNT,
  },
  ProtectHome: {
    kind: 'enum',
    category: 'filesystem',
    booleans: true,
    values: ['read-only', 'tmpfs'],
    dbus: [['ProtectHome', 's']],
    unit: 'mode',
    forms: `true, false, 'read-only' or 'tmpfs'`,
    doc: "Hides home directories: true makes /home, /root and /run/user inaccessible, 'read-only' read-only, 'tmpfs' empty (so BindPaths can expose parts).",
    example: true,
    needs: MNT,
    note: 'unitpool keeps its own package directory and the node binary readable (see readablePaths).',
  },
  PrivateTmp: {
    kind: 'bool',
    category: 'filesystem',
    dbus: [['PrivateTmp', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Gives the unit its own /tmp and /var/tmp, removed when it stops.',
    example: true,
    needs: MNT,
  },
  PrivateDevices: {
    kind: 'bool',
    category: 'filesystem',
    dbus: [['PrivateDevices', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'A private /dev with only pseudo-devices (null, zero, random, tty...); no raw device IO.',
    example: true,
    needs: { ...MNT, seccomp: true },
  },
  ReadOnlyPaths: {
    kind: 'paths',
    category: 'filesystem',
    dbus: [['ReadOnlyPaths', 'as']],
    unit: 'paths',
    forms: `absolute paths; prefix '-' to skip one that is missing, '+' to resolve it inside RootDirectory`,
    doc: 'Makes these paths read-only for the workers.',
    example: ['/srv/data'],
    needs: MNT,
  },
  ReadWritePaths: {
    kind: 'paths',
    category: 'filesystem',
    dbus: [['ReadWritePaths', 'as']],
    unit: 'paths',
    forms: `absolute paths; prefix '-' to skip one that is missing, '+' to resolve it inside RootDirectory`,
    doc: 'Keeps these paths writable under ProtectSystem=strict or ReadOnlyPaths.',
    example: ['/srv/out'],
    needs: MNT,
  },
  InaccessiblePaths: {
    kind: 'paths',
    category: 'filesystem',
    dbus: [['InaccessiblePaths', 'as']],
    unit: 'paths',
    forms: `absolute paths; prefix '-' to skip one that is missing, '+' to resolve it inside RootDirectory`,
    doc: 'Makes these paths inaccessible to the workers.',
    example: ['/etc/ssh'],
    needs: MNT,
  },
  BindPaths: {
    kind: 'binds',
    category: 'filesystem',
    dbus: [
      ['BindPaths', 'a(ssbt)'],
      ['BindReadOnlyPaths', 'a(ssbt)'],
    ],
    unit: 'bind mounts',
    forms: `'src', 'src:dst', 'src:dst:norbind' (absolute paths; '-src' skips a missing source), or { source, destination?, readOnly?, recursive?, ignoreMissing? }, or an array of them`,
    doc: 'Bind-mounts host paths into the unit, writable.',
    example: ['/srv/in:/data'],
    needs: MNT,
  },
  BindReadOnlyPaths: {
    kind: 'binds',
    category: 'filesystem',
    dbus: [['BindReadOnlyPaths', 'a(ssbt)']],
    unit: 'bind mounts',
    forms: `'src', 'src:dst', 'src:dst:norbind' (absolute paths; '-src' skips a missing source), or { source, destination?, recursive?, ignoreMissing? }, or an array of them`,
    doc: 'Bind-mounts host paths into the unit, read-only.',
    example: ['/etc/ssl/certs'],
    needs: MNT,
  },
  TemporaryFileSystem: {
    kind: 'tmpfs',
    category: 'filesystem',
    dbus: [['TemporaryFileSystem', 'a(ss)']],
    unit: 'mount points',
    forms: `'/path' or '/path:ro,mode=0755' or { path, options? }, or an array of them`,
    doc: 'Mounts an empty tmpfs over a path, hiding what is there; BindReadOnlyPaths can expose parts.',
    example: '/var:ro',
    needs: MNT,
  },
  RootDirectory: {
    kind: 'path',
    category: 'filesystem',
    dbus: [['RootDirectory', 's']],
    unit: 'path',
    forms: 'an absolute path to an existing directory',
    doc: 'Runs the workers chroot()ed into this directory.',
    example: '/srv/chroot',
    needs: { root: 'always', ...MNT },
    note: 'node, its libraries and unitpool must exist inside it (or be bound in with BindReadOnlyPaths).',
  },
  WorkingDirectory: {
    kind: 'workdir',
    category: 'filesystem',
    dbus: [['WorkingDirectory', 's']],
    unit: 'path',
    forms: `an absolute path to an existing directory, or '~' for the user's home; prefix '-' to tolerate a missing one`,
    doc: 'Current directory of the workers.',
    example: '/srv/job',
    needs: {},
  },
  RuntimeDirectory: {
    kind: 'dirNames',
    category: 'filesystem',
    dbus: [['RuntimeDirectory', 'as']],
    unit: 'directory names',
    forms: `relative names ('myjob' or 'myjob/cache'), one or an array`,
    doc: 'Creates /run/NAME (user manager: $XDG_RUNTIME_DIR/NAME) owned by the workers, removed when the unit stops; $RUNTIME_DIRECTORY names it.',
    example: 'myjob',
    needs: {},
  },

  // ---- Network and kernel -------------------------------------------------------------------------
  PrivateNetwork: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['PrivateNetwork', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Own network namespace with only a loopback device: no network.',
    example: true,
    needs: { namespaces: ['net'] },
  },
  RestrictAddressFamilies: {
    kind: 'families',
    category: 'network-kernel',
    dbus: [['RestrictAddressFamilies', '(bas)']],
    unit: 'address families',
    forms: `an allow-list (['AF_UNIX', 'AF_INET']), { deny: [...] } or '~AF_INET6 AF_PACKET' (deny); AF_UNIX must stay allowed`,
    doc: 'Which socket address families socket(2) may use.',
    example: ['AF_UNIX'],
    needs: { seccomp: true },
    note: 'Node and unitpool need AF_UNIX (socketpairs between supervisor and workers).',
  },
  IPAddressAllow: {
    kind: 'ipAccess',
    category: 'network-kernel',
    dbus: [['IPAddressAllow', 'a(iayu)']],
    unit: 'address prefixes',
    forms: `IPv4/IPv6 addresses or prefixes ('10.0.0.0/8', '::1'), or 'any', 'localhost', 'link-local', 'multicast'; one or an array`,
    doc: 'Firewall for the unit: allows these prefixes even if IPAddressDeny matches.',
    example: ['localhost'],
    needs: { bpf: true, root: 'always' },
  },
  IPAddressDeny: {
    kind: 'ipAccess',
    category: 'network-kernel',
    dbus: [['IPAddressDeny', 'a(iayu)']],
    unit: 'address prefixes',
    forms: `IPv4/IPv6 addresses or prefixes ('10.0.0.0/8', '::1'), or 'any', 'localhost', 'link-local', 'multicast'; one or an array`,
    doc: 'Firewall for the unit: drops packets to and from these prefixes.',
    example: 'any',
    needs: { bpf: true, root: 'always' },
  },
  PrivateIPC: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['PrivateIPC', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Own System V IPC and POSIX message-queue namespace.',
    example: true,
    needs: { namespaces: ['ipc'] },
  },
  ProtectKernelTunables: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['ProtectKernelTunables', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Makes /proc/sys, /sys and similar kernel tunables read-only.',
    example: true,
    needs: MNT,
  },
  ProtectKernelModules: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['ProtectKernelModules', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Forbids loading kernel modules and hides /usr/lib/modules.',
    example: true,
    needs: { ...MNT, seccomp: true },
  },
  ProtectKernelLogs: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['ProtectKernelLogs', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: "Denies access to the kernel's log ring buffer (/dev/kmsg, syslog(2)).",
    example: true,
    needs: { ...MNT, seccomp: true },
  },
  ProtectControlGroups: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['ProtectControlGroups', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Makes /sys/fs/cgroup read-only.',
    example: true,
    needs: MNT,
  },
  ProtectClock: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['ProtectClock', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Forbids setting the system and hardware clocks.',
    example: true,
    needs: { seccomp: true },
  },
  ProtectHostname: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['ProtectHostname', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Forbids changing the hostname (own UTS namespace).',
    example: true,
    needs: { namespaces: ['uts'], seccomp: true },
  },
  ProtectProc: {
    kind: 'enum',
    category: 'network-kernel',
    values: ['noaccess', 'invisible', 'ptraceable', 'default'],
    dbus: [['ProtectProc', 's']],
    unit: 'mode',
    forms: `'noaccess', 'invisible', 'ptraceable' or 'default'`,
    doc: "Hides other users' processes in /proc ('invisible') or their details ('noaccess'); no effect for root.",
    example: 'invisible',
    needs: { root: 'always', ...MNT },
  },
  ProcSubset: {
    kind: 'enum',
    category: 'network-kernel',
    values: ['all', 'pid'],
    dbus: [['ProcSubset', 's']],
    unit: 'mode',
    forms: `'all' or 'pid'`,
    doc: "'pid' hides everything in /proc but the process directories.",
    example: 'pid',
    needs: { root: 'always', ...MNT },
    note: "With 'pid', os.cpus() and os.loadavg() see nothing in the workers.",
  },
  RestrictNamespaces: {
    kind: 'namespaces',
    category: 'network-kernel',
    dbus: [['RestrictNamespaces', 't']],
    unit: 'namespace types',
    forms: `true (no new namespaces), false, an allow-list (['net']), or { deny: ['user'] } of cgroup, ipc, net, mnt, pid, user, uts`,
    doc: 'Which kinds of namespaces the workers may create (unshare(2), clone(2)).',
    example: true,
    needs: { seccomp: true },
  },
  LockPersonality: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['LockPersonality', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Locks the execution domain (personality(2)).',
    example: true,
    needs: { seccomp: true },
  },
  MemoryDenyWriteExecute: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['MemoryDenyWriteExecute', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Forbids memory that is writable and executable, and making memory executable.',
    example: false,
    needs: { seccomp: true },
    note: "Breaks V8's JIT: Node aborts at start. Refused unless the workers run with --jitless.",
  },
  NoNewPrivileges: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['NoNewPrivileges', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Stops setuid programs and file capabilities from raising privileges.',
    example: true,
    needs: {},
  },
  RestrictSUIDSGID: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['RestrictSUIDSGID', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Forbids creating setuid and setgid files.',
    example: true,
    needs: { seccomp: true },
  },
  RestrictRealtime: {
    kind: 'bool',
    category: 'network-kernel',
    dbus: [['RestrictRealtime', 'b']],
    unit: 'boolean',
    forms: 'true or false',
    doc: 'Forbids realtime scheduling.',
    example: true,
    needs: { seccomp: true },
  },
  CapabilityBoundingSet: {
    kind: 'caps',
    category: 'network-kernel',
    dbus: [['CapabilityBoundingSet', 't']],
    unit: 'capabilities',
    forms: `capabilities to keep (['CAP_NET_BIND_SERVICE'] or ['net_bind_service']), [] for none, { drop: [...] } or '~CAP_SYS_ADMIN' to remove some`,
    doc: 'The capabilities the workers can ever hold.',
    example: { drop: ['CAP_SYS_ADMIN'] },
    needs: { root: 'always' },
  },
  AmbientCapabilities: {
    kind: 'caps',
    category: 'network-kernel',
    dbus: [['AmbientCapabilities', 't']],
    unit: 'capabilities',
    forms: `capabilities to grant (['CAP_NET_BIND_SERVICE'] or ['net_bind_service'])`,
    doc: 'Capabilities given to the workers even as a non-root User.',
    example: ['CAP_NET_BIND_SERVICE'],
    needs: { root: 'always' },
  },
  SystemCallFilter: {
    kind: 'syscalls',
    category: 'network-kernel',
    dbus: [['SystemCallFilter', '(bas)']],
    unit: 'syscalls and @groups',
    forms: `an allow-list (['@system-service', '@pkey']), a deny-list ('~@mount @swap', ['~@mount'] or { deny: ['@mount', 'ptrace:EPERM'] }), or { allow, deny } (deny applied after allow)`,
    doc: 'Seccomp filter: a call outside the allow-list or in the deny-list kills the worker (or fails with name:ERRNO).',
    example: ['@system-service', '@pkey'],
    needs: { seccomp: true },
    note: "Refused if it would block a syscall Node needs to start or to talk to its workers. systemd 252's @system-service lacks @pkey, and Node 20 dies of SIGSYS without pkey_alloc: add '@pkey'.",
  },
  SystemCallErrorNumber: {
    kind: 'errno',
    category: 'network-kernel',
    dbus: [['SystemCallErrorNumber', 'i']],
    unit: 'errno',
    forms: `an errno name ('EPERM'), a number from 1 to 4095, or 'kill' (systemd's default: the caller dies of SIGSYS)`,
    doc: "What a call SystemCallFilter blocks returns instead of killing the caller; a name:ERRNO in the filter's deny-list wins for that name.",
    example: 'EPERM',
    needs: { seccomp: true },
    note: 'Refused without SystemCallFilter, which it would not change.',
    exampleWith: { SystemCallFilter: '~@mount' },
  },
  SystemCallArchitectures: {
    kind: 'archs',
    category: 'network-kernel',
    dbus: [['SystemCallArchitectures', 'as']],
    unit: 'architectures',
    forms: `'native' or an array of architectures (['native', 'x86'])`,
    doc: "Syscall ABIs allowed; 'native' blocks e.g. 32-bit x86 syscalls on x86-64.",
    example: 'native',
    needs: { seccomp: true },
  },
  SELinuxContext: {
    kind: 'selinux',
    category: 'network-kernel',
    dbus: [['SELinuxContext', 's']],
    unit: 'SELinux context',
    forms: `an SELinux context ('system_u:system_r:myjob_t:s0')`,
    doc: 'Runs the workers in this SELinux context.',
    example: 'system_u:system_r:unconfined_t:s0',
    needs: { selinux: true, root: 'always' },
  },
  AppArmorProfile: {
    kind: 'apparmor',
    category: 'network-kernel',
    dbus: [['AppArmorProfile', '(bs)']],
    unit: 'AppArmor profile',
    forms: `a loaded profile name ('myjob'), '-myjob' or { profile, ignoreErrors: true } to go on without it`,
    doc: 'Runs the workers under this AppArmor profile.',
    example: 'unitpool-worker',
    needs: { apparmor: true, root: 'always' },
  },

  // ---- Environment --------------------------------------------------------------------------------
  Environment: {
    kind: 'environment',
    category: 'environment',
    dbus: [['Environment', 'as']],
    unit: 'variables',
    forms: `{ NAME: 'value' } or ['NAME=value']`,
    doc: 'Environment variables for the workers, set over what the env policy copies from the parent.',
    example: { NODE_ENV: 'production' },
    needs: {},
  },
} as const satisfies Record<string, PropertySpec>;

export type PropertyName = keyof typeof TABLE;

/** The `properties` option: every settable systemd property, typed from the table. */
export type UnitProperties = { [K in PropertyName]?: InputOf<(typeof TABLE)[K]> };

export const PROPERTY_NAMES = Object.keys(TABLE) as PropertyName[];

export function specOf(name: PropertyName): PropertySpec {
  return TABLE[name];
}

// ---------------------------------------------------------------------------------------------------
// Names users may reach for that are not in the table.

/** Set by unitpool itself on every pool's unit; a user value would break the pool. */
export const RESERVED: ReadonlySet<string> = new Set([
  'Type',
  'ExitType',
  'ExecStart',
  'ExecStartEx',
  'ExecStartPre',
  'ExecStartPost',
  'ExecCondition',
  'ExecReload',
  'ExecStop',
  'ExecStopPost',
  'StandardInput',
  'StandardOutput',
  'StandardError',
  'StandardInputFile',
  'StandardOutputFile',
  'StandardErrorFile',
  'StandardInputText',
  'StandardInputData',
  'StandardInputFileDescriptor',
  'StandardOutputFileDescriptor',
  'StandardErrorFileDescriptor',
  'TTYPath',
  'KillMode',
  'KillSignal',
  'FinalKillSignal',
  'RestartKillSignal',
  'SendSIGKILL',
  'SendSIGHUP',
  'TimeoutSec',
  'TimeoutStartSec',
  'TimeoutStopSec',
  'TimeoutAbortSec',
  'Restart',
  'RestartSec',
  'RemainAfterExit',
  'CollectMode',
  'AddRef',
  'Delegate',
  'DelegateControllers',
  'Description',
  'PIDFile',
  'NotifyAccess',
  'BusName',
  'GuessMainPID',
]);

/** Names with a better spelling, or that cannot be honoured, and what to write instead. */
export const HINTS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(
    Object.keys(TABLE)
      .filter((k) => k.startsWith('Limit'))
      .map((k) => [`${k}Soft`, `write ${k}: { soft, hard } (or 'soft:hard')`]),
  ),
  MemoryLimit: 'MemoryLimit is the old cgroup-v1 name; write MemoryMax',
  CPUShares: 'CPUShares is the old cgroup-v1 name; write CPUWeight (1-10000, default 100)',
  StartupCPUShares: 'not supported; write CPUWeight',
  BlockIOWeight: 'BlockIOWeight is the old cgroup-v1 name; write IOWeight',
  BlockIOReadBandwidth: 'BlockIOReadBandwidth is the old cgroup-v1 name; write IOReadBandwidthMax',
  BlockIOWriteBandwidth: 'BlockIOWriteBandwidth is the old cgroup-v1 name; write IOWriteBandwidthMax',
  ReadOnlyDirectories: 'write ReadOnlyPaths',
  ReadWriteDirectories: 'write ReadWritePaths',
  InaccessibleDirectories: 'write InaccessiblePaths',
  LimitRSS: 'LimitRSS has no effect on Linux; write MemoryMax to cap memory',
  CPUQuotaPerSecUSec: "write CPUQuota ('20%'); CPUQuotaPerSecUSec is its D-Bus form",
  RuntimeMaxUSec: "write RuntimeMaxSec ('1h'); RuntimeMaxUSec is its D-Bus form",
  MemoryMaxScale: "write MemoryMax: '50%'; MemoryMaxScale is its D-Bus form",
  MemoryHighScale: "write MemoryHigh: '50%'; MemoryHighScale is its D-Bus form",
  MemorySwapMaxScale: "write MemorySwapMax: '50%'; MemorySwapMaxScale is its D-Bus form",
  TasksMaxScale: "write TasksMax: '10%'; TasksMaxScale is its D-Bus form",
  PassEnvironment: "use the pool's env option: env: ['NAME']",
  EnvironmentFile: 'read the file yourself and pass its variables in Environment',
  UnsetEnvironment: "use the pool's env option to choose what the workers get",
  MemoryDenyWriteExecution: 'write MemoryDenyWriteExecute',
};
