// Which test proves each property of the table, and what it showed on the two tiers: the v1 sandbox (`unitpool
// sandbox`, systemd 252 on these hybrid cgroup v1 machines) and the v2 VM (`npm run test:vm`: Debian 12, systemd as
// PID 1, pure cgroup v2). docs/properties.md and the tier table of the README are rendered from this and the table;
// test/unit/properties-doc.test.ts keeps both in step, and checks that every property has a test, every named test
// exists, and every test claimed for the v2 VM is in a file the VM tier runs (scripts/vm/tests.mjs).
import { VM_TESTS } from '../../scripts/vm/tests.mjs';
import {
  CATEGORY_TITLES,
  type Category,
  describeNeeds,
  PROPERTY_NAMES,
  type PropertyName,
  TABLE,
} from '../../src/properties/index.js';

export type SandboxStatus = 'tested' | 'refused' | 'refused at construction' | 'tested; raising refused';

/** A test on the v2 VM tier: its file (from the project root, without .test.ts) and title (or its start). */
export interface V2Test {
  readonly file: string;
  readonly test: string;
  /** 'tested' (the default): the effect is observed; 'refused': the VM cannot enforce it, and the refusal is tested. */
  readonly status?: 'tested' | 'refused';
  /** What it showed, or why it is refused there (a few words: the README shows it). */
  readonly detail?: string;
}

/** Why the v2 VM tier does not test a property (a few words: the README shows it). */
export interface V2NotApplicable {
  readonly na: string;
}

export interface Coverage {
  /** The test file under test/properties-enforced. */
  readonly file: string;
  /** The test's title (its start, for titles with a value in them). */
  readonly test: string;
  /** On the v1 sandbox. */
  readonly v1: SandboxStatus;
  /** Why it is refused, or what else was seen. */
  readonly detail?: string;
  /** Why it is refused on v1, in a few words for the README (for the cgroup-v2-only properties: 'cgroup v2 only'). */
  readonly why?: string;
  /**
   * On the v2 VM tier. Required for every property that needs a cgroup controller or the cgroup BPF firewall; the
   * others default to NOT_CGROUP (the VM tier does not run their tests: they take too long under emulation).
   */
  readonly v2?: V2Test | V2NotApplicable;
}

export const NOT_CGROUP: V2NotApplicable = { na: 'does not depend on the cgroup version' };

/** Whether the cgroup version can matter to a property: it needs a controller, or the BPF firewall on cgroup2. */
export const cgroupDependent = (name: PropertyName): boolean => {
  const n = TABLE[name].needs;
  return Boolean(n.cgroup || n.cgroupV2Only || n.bpf);
};

const V2 = 'test/vm/v2';
const V2_POOL = 'test/properties-enforced/cgroup-v2';
const LIMIT_TEST = (name: string) => `${name}: /proc/self/limits of the worker shows`;

export const COVERAGE: Readonly<Record<PropertyName, Coverage>> = {
  // Resources
  CPUQuota: {
    file: 'resources',
    test: 'CPUQuota: two busy workers together get 50% of one CPU (within 25%)',
    v1: 'tested',
    detail: 'cpu.cfs_quota_us; 42-51% measured for 50% over 3.5 s',
    v2: {
      file: V2,
      test: 'the pool under CPUQuota=20%: one worker, and a busy task gets 15-25% of a CPU',
      detail: 'and systemd reports CPUUsageNSec',
    },
  },
  CPUWeight: {
    file: 'resources',
    test: 'CPUWeight: the unit cgroup weight',
    v1: 'tested',
    detail: 'cpu.shares 102400 for 10000',
    v2: { file: V2_POOL, test: 'CPUWeight and TasksMax: cpu.weight 10000 and pids.max 64', detail: 'cpu.weight 10000' },
  },
  AllowedCPUs: {
    file: 'resources',
    test: 'AllowedCPUs is refused with a CapabilityError that says why',
    v1: 'refused',
    detail: 'systemd 252 has no v1 cpuset support: passed raw, the workers still run on every CPU',
    v2: { file: V2_POOL, test: 'AllowedCPUs=0: the workers may run on CPU 0 only' },
  },
  MemoryMax: {
    file: 'resources',
    test: 'MemoryMax=120M: a 200 MB allocation is OOM-killed',
    v1: 'tested',
    detail:
      "also the issue's 50M: Node starts (a supervisor and a worker are charged 10-20 MB), 200 MB is OOM-killed; at the 16M floor, a clear error",
    v2: {
      file: V2,
      test: 'the pool: a task allocating 300 MB under MemoryMax=120M rejects with reason oom-kill',
      detail: "and systemd's own Result=oom-kill at 50M",
    },
  },
  MemoryHigh: {
    file: 'resources',
    test: 'MemoryHigh is refused with a CapabilityError that says why',
    v1: 'refused',
    detail: 'no memory.high on v1',
    v2: {
      file: V2_POOL,
      test: 'MemoryHigh and MemorySwapMax: memory.high and memory.swap.max of the unit',
      detail: 'memory.high set; throttling not measured',
    },
  },
  MemorySwapMax: {
    file: 'resources',
    test: 'MemorySwapMax is refused with a CapabilityError that says why',
    v1: 'refused',
    detail: 'systemd 252 sets no v1 swap limit',
    v2: {
      file: V2_POOL,
      test: 'MemoryHigh and MemorySwapMax: memory.high and memory.swap.max of the unit',
      detail: 'memory.swap.max 0',
    },
  },
  TasksMax: {
    file: 'resources',
    test: 'TasksMax: pids.max is 64, and forking past it fails',
    v1: 'tested',
    v2: {
      file: V2_POOL,
      test: 'CPUWeight and TasksMax: cpu.weight 10000 and pids.max 64, and forking past 64 tasks fails',
    },
  },
  IOReadBandwidthMax: {
    file: 'resources',
    test: 'IOReadBandwidthMax: reading 6 MiB from the disk goes at most at 3 MB/s',
    v1: 'tested',
    detail: 'blkio.throttle.read_bps_device',
    v2: {
      file: V2,
      test: 'IOReadBandwidthMax=2M: 8 MiB of direct reads take about 4 s',
      detail: 'by systemd-run and dd on a virtio disk, not through the pool',
    },
  },
  IOWriteBandwidthMax: {
    file: 'resources',
    test: 'IOWriteBandwidthMax is refused with a CapabilityError that says why',
    v1: 'refused',
    detail:
      "passed raw: fsync'd writes are throttled, buffered writes are not (v1 does not charge writeback to the unit)",
    v2: {
      file: V2_POOL,
      test: 'IOWriteBandwidthMax=3M: 6 MiB of ordinary buffered writes and an fsync take about 2 s',
      detail: 'buffered writes too',
    },
  },
  IOWeight: {
    file: 'resources',
    test: 'IOWeight is refused',
    v1: 'refused',
    detail: 'no disk uses BFQ here; passed raw, IOWeight=50 becomes blkio.bfq.weight 113 (converted twice)',
    why: 'no disk uses BFQ',
    v2: {
      file: V2_POOL,
      test: 'IOWeight is refused where no disk uses BFQ or io.cost',
      status: 'refused',
      detail: 'no BFQ or io.cost in the VM',
    },
  },
  Nice: { file: 'resources', test: 'Nice: os.getPriority() of the worker', v1: 'tested', detail: 'also Nice=-5' },
  LimitCPU: { file: 'resources', test: LIMIT_TEST('LimitCPU'), v1: 'tested', detail: 'and hit: SIGXCPU' },
  LimitFSIZE: {
    file: 'resources',
    test: LIMIT_TEST('LimitFSIZE'),
    v1: 'tested',
    detail: 'and hit: EFBIG (Node ignores SIGXFSZ)',
  },
  LimitDATA: { file: 'resources', test: LIMIT_TEST('LimitDATA'), v1: 'tested' },
  LimitSTACK: { file: 'resources', test: LIMIT_TEST('LimitSTACK'), v1: 'tested' },
  LimitCORE: { file: 'resources', test: LIMIT_TEST('LimitCORE'), v1: 'tested' },
  LimitNOFILE: {
    file: 'resources',
    test: LIMIT_TEST('LimitNOFILE'),
    v1: 'tested',
    detail: 'and hit: EMFILE at the hard limit (Node raises the soft one to it)',
  },
  LimitAS: { file: 'resources', test: LIMIT_TEST('LimitAS'), v1: 'tested' },
  LimitNPROC: { file: 'resources', test: LIMIT_TEST('LimitNPROC'), v1: 'tested' },
  LimitMEMLOCK: {
    file: 'resources',
    test: LIMIT_TEST('LimitMEMLOCK'),
    v1: 'tested; raising refused',
    detail: "only up to the manager's 8M",
  },
  LimitLOCKS: { file: 'resources', test: LIMIT_TEST('LimitLOCKS'), v1: 'tested' },
  LimitSIGPENDING: { file: 'resources', test: LIMIT_TEST('LimitSIGPENDING'), v1: 'tested' },
  LimitMSGQUEUE: {
    file: 'resources',
    test: LIMIT_TEST('LimitMSGQUEUE'),
    v1: 'tested; raising refused',
    detail: "1M:2M is above the manager's 800K: refused; passed raw, systemd clamps it silently",
  },
  LimitNICE: {
    file: 'resources',
    test: "above the manager's own hard limit is refused",
    v1: 'refused',
    detail:
      'the manager has no CAP_SYS_RESOURCE and a LimitNICE of 0, so any value would raise it; passed raw, systemd clamps it to 0',
    why: "the manager's own limit is 0",
  },
  LimitRTPRIO: {
    file: 'resources',
    test: "above the manager's own hard limit is refused",
    v1: 'refused',
    detail: "as LimitNICE: the manager's own is 0",
    why: "the manager's own limit is 0",
  },
  LimitRTTIME: { file: 'resources', test: LIMIT_TEST('LimitRTTIME'), v1: 'tested' },
  RuntimeMaxSec: {
    file: 'resources',
    test: 'RuntimeMaxSec: after 2 s systemd stops the unit, and the pool breaks with a message',
    v1: 'tested',
  },
  OOMScoreAdjust: {
    file: 'resources',
    test: 'OOMScoreAdjust: the supervisor has it, and the worker 500 more',
    v1: 'tested; raising refused',
    detail: 'negative values are refused here (no CAP_SYS_RESOURCE); passed raw, systemd ignores them silently',
  },
  OOMPolicy: {
    file: 'resources',
    test: 'OOMPolicy is refused with a CapabilityError that says why',
    v1: 'refused',
    detail: "systemd sees OOM kills only in v2's memory.events; passed raw, 'kill' changes nothing",
    v2: { file: V2_POOL, test: 'OOMPolicy=stop: an OOM kill stops the whole unit, and the pool breaks' },
  },
  // Identity
  User: { file: 'identity', test: 'User, Group, SupplementaryGroups: uid, gid and groups of the worker', v1: 'tested' },
  Group: {
    file: 'identity',
    test: 'User, Group, SupplementaryGroups: uid, gid and groups of the worker',
    v1: 'tested',
  },
  SupplementaryGroups: {
    file: 'identity',
    test: 'User, Group, SupplementaryGroups: uid, gid and groups of the worker',
    v1: 'tested',
  },
  DynamicUser: {
    file: 'identity',
    test: "DynamicUser: a uid and gid from systemd's dynamic range (61184-65519)",
    v1: 'tested',
  },
  UMask: { file: 'identity', test: 'UMask: process.umask() and the mode of a new file', v1: 'tested' },
  // Filesystem
  ProtectSystem: {
    file: 'filesystem',
    test: 'ProtectSystem=strict: /usr, /etc and the rest of the disk are read-only (EROFS)',
    v1: 'tested',
  },
  ProtectHome: { file: 'filesystem', test: 'ProtectHome=true: /home, /root and /run/user show nothing', v1: 'tested' },
  PrivateTmp: { file: 'filesystem', test: 'PrivateTmp: an empty /tmp and /var/tmp of its own', v1: 'tested' },
  PrivateDevices: { file: 'filesystem', test: 'PrivateDevices: a /dev of pseudo-devices only', v1: 'tested' },
  ReadOnlyPaths: {
    file: 'filesystem',
    test: 'ReadOnlyPaths: readable, not writable, inside a writable directory',
    v1: 'tested',
  },
  ReadWritePaths: {
    file: 'filesystem',
    test: 'ProtectSystem=strict: /usr, /etc and the rest of the disk are read-only (EROFS); ReadWritePaths stays writable',
    v1: 'tested',
  },
  InaccessiblePaths: {
    file: 'filesystem',
    test: 'InaccessiblePaths: the directory shows nothing and its file cannot be read',
    v1: 'tested',
  },
  BindPaths: {
    file: 'filesystem',
    test: 'BindPaths: the source is visible and writable at the destination',
    v1: 'tested',
  },
  BindReadOnlyPaths: {
    file: 'filesystem',
    test: 'BindReadOnlyPaths: the source is visible at the destination, read-only',
    v1: 'tested',
  },
  TemporaryFileSystem: {
    file: 'filesystem',
    test: 'TemporaryFileSystem: an empty tmpfs hides what is there',
    v1: 'tested',
  },
  RootDirectory: { file: 'filesystem', test: 'the worker sees the chroot as /', v1: 'tested' },
  WorkingDirectory: { file: 'identity', test: 'WorkingDirectory: process.cwd()', v1: 'tested' },
  RuntimeDirectory: {
    file: 'identity',
    test: 'RuntimeDirectory: /run/NAME exists, owned by the worker user',
    v1: 'tested',
  },
  // Network and kernel
  PrivateNetwork: {
    file: 'kernel',
    test: 'PrivateNetwork: only lo in /proc/net/dev, and connect() to the outside fails with ENETUNREACH',
    v1: 'tested',
  },
  RestrictAddressFamilies: {
    file: 'filesystem',
    test: 'RestrictAddressFamilies=AF_UNIX: an AF_INET or AF_INET6 socket fails with EAFNOSUPPORT',
    v1: 'tested',
  },
  IPAddressAllow: {
    file: 'kernel',
    test: 'IPAddressDeny=any with IPAddressAllow=127.0.0.1',
    v1: 'tested',
    detail: 'the BPF firewall works on the hybrid layout (cgroup2 on /sys/fs/cgroup/unified)',
    v2: { na: "the same cgroup2 BPF firewall as v1's hybrid layout" },
  },
  IPAddressDeny: {
    file: 'kernel',
    test: 'IPAddressDeny=any with IPAddressAllow=127.0.0.1',
    v1: 'tested',
    detail: 'refused on legacy v1 (no cgroup2) and under a user manager',
    v2: { na: "the same cgroup2 BPF firewall as v1's hybrid layout" },
  },
  PrivateIPC: { file: 'kernel', test: 'PrivateIPC: its own IPC namespace', v1: 'tested' },
  ProtectKernelTunables: {
    file: 'kernel',
    test: 'ProtectKernelTunables: /proc/sys is read-only (EROFS)',
    v1: 'tested',
  },
  ProtectKernelModules: {
    file: 'kernel',
    test: 'ProtectKernelModules: CAP_SYS_MODULE is out of the bounding set',
    v1: 'tested',
  },
  ProtectKernelLogs: {
    file: 'kernel',
    test: 'ProtectKernelLogs: /proc/kmsg and /dev/kmsg are covered by inaccessible nodes',
    v1: 'tested',
  },
  ProtectControlGroups: { file: 'kernel', test: 'ProtectControlGroups: /sys/fs/cgroup is read-only', v1: 'tested' },
  ProtectClock: { file: 'kernel', test: 'ProtectClock: setting the clock is refused', v1: 'tested' },
  ProtectHostname: {
    file: 'kernel',
    test: 'ProtectHostname: its own UTS namespace, and sethostname() is refused',
    v1: 'tested',
  },
  ProtectProc: {
    file: 'identity',
    test: "ProtectProc=invisible: other users' processes are not in /proc",
    v1: 'tested',
  },
  ProcSubset: { file: 'identity', test: 'ProcSubset=pid: /proc has only the process directories', v1: 'tested' },
  RestrictNamespaces: { file: 'kernel', test: 'RestrictNamespaces: unshare(2) of any namespace fails', v1: 'tested' },
  LockPersonality: {
    file: 'kernel',
    test: 'LockPersonality: personality(2) cannot change (setarch fails)',
    v1: 'tested',
  },
  MemoryDenyWriteExecute: {
    file: 'kernel',
    test: "is refused at construction: V8's JIT needs memory it can make executable",
    v1: 'refused at construction',
    detail: 'passed raw, Node dies at start (V8 fatal error) and the pool breaks',
    why: 'Node cannot run under it',
    v2: { na: 'refused at construction on every host' },
  },
  NoNewPrivileges: { file: 'kernel', test: 'NoNewPrivileges: NoNewPrivs is 1', v1: 'tested' },
  RestrictSUIDSGID: { file: 'kernel', test: 'RestrictSUIDSGID: chmod u+s / g+s fails with EPERM', v1: 'tested' },
  RestrictRealtime: {
    file: 'kernel',
    test: 'RestrictRealtime: a realtime scheduling policy is refused (chrt -f)',
    v1: 'tested',
  },
  CapabilityBoundingSet: {
    file: 'identity',
    test: 'CapabilityBoundingSet and AmbientCapabilities: CapBnd and CapAmb',
    v1: 'tested',
  },
  AmbientCapabilities: {
    file: 'identity',
    test: 'CapabilityBoundingSet and AmbientCapabilities: CapBnd and CapAmb, and nobody can bind port 80',
    v1: 'tested',
  },
  SystemCallFilter: {
    file: 'kernel',
    test: 'SystemCallFilter=~@mount: mount(2) kills the process that calls it (SIGSYS)',
    v1: 'tested',
  },
  SystemCallErrorNumber: {
    file: 'kernel',
    test: 'SystemCallErrorNumber=EPERM: a call the filter blocks fails with EPERM instead of killing the caller',
    v1: 'tested',
  },
  SystemCallArchitectures: {
    file: 'kernel',
    test: 'SystemCallArchitectures=native: a 32-bit (int 0x80) system call kills the process (SIGSYS)',
    v1: 'tested',
  },
  SELinuxContext: {
    file: 'kernel',
    test: 'SELinuxContext is refused here',
    v1: 'refused',
    detail: 'no SELinux on these machines; observed only where UNITPOOL_TEST_SELINUX_CONTEXT is set',
    why: 'no SELinux here',
  },
  AppArmorProfile: {
    file: 'kernel',
    test: 'AppArmorProfile is refused here',
    v1: 'refused',
    detail: 'no AppArmor on these machines; observed only where UNITPOOL_TEST_APPARMOR_PROFILE names a loaded profile',
    why: 'no AppArmor here',
  },
  // Environment
  Environment: {
    file: 'identity',
    test: 'Environment and the default env policy: process.env is exactly',
    v1: 'tested',
    detail: "also env: 'none' and 'inherit'",
  },
};

/** A property's entry for the v2 VM tier (NOT_CGROUP unless coverage names one). */
export function v2Of(name: PropertyName): V2Test | V2NotApplicable {
  return COVERAGE[name].v2 ?? NOT_CGROUP;
}

/** Why a property is refused on the v1 sandbox, in a few words. */
export function v1Why(name: PropertyName): string | undefined {
  return COVERAGE[name].why ?? (TABLE[name].needs.cgroupV2Only ? 'cgroup v2 only' : undefined);
}

/** The README's cell for each tier: tested, or not applicable and why in a few words. */
export function tierCells(name: PropertyName): { v1: string; v2: string } {
  const c = COVERAGE[name];
  const v1 =
    c.v1 === 'tested'
      ? 'tested'
      : c.v1 === 'tested; raising refused'
        ? 'tested (lowering only)'
        : `n/a: ${v1Why(name)}`;
  const v2 = v2Of(name);
  return { v1, v2: 'na' in v2 ? `n/a: ${v2.na}` : v2.status === 'refused' ? `n/a: ${v2.detail}` : 'tested' };
}

/** The README's option table: every property, by group, with a column per test tier. */
export function tiersTable(): string {
  const out = ['| group | property | v1 sandbox | v2 VM |', '|---|---|---|---|'];
  for (const cat of Object.keys(CATEGORY_TITLES) as Category[]) {
    PROPERTY_NAMES.filter((n) => TABLE[n].category === cat).forEach((n, i) => {
      const t = tierCells(n);
      out.push(`| ${i === 0 ? CATEGORY_TITLES[cat].toLowerCase() : ''} | \`${n}\` | ${cell(t.v1)} | ${cell(t.v2)} |`);
    });
  }
  return out.join('\n');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** docs/properties.md. */
export function propertiesDoc(): string {
  const out: string[] = [
    '# systemd properties: what each does, and how it is proven',
    '',
    '<!-- Generated from src/properties/table.ts and test/properties-enforced/coverage.ts; `npx vitest run test/unit/properties-doc.test.ts -u` rewrites it. -->',
    '',
    'Every property a pool accepts, with the test that observes its effect from inside a forked worker',
    '(`test/properties-enforced`, run against real systemd: `npm run build && node dist/src/cli/main.js sandbox -- npx vitest run test/properties-enforced`).',
    '',
    'The **v1 sandbox** column is what that run shows on these machines: systemd 252 booted by `unitpool sandbox` on a',
    'hybrid cgroup v1 host, as root, with a system manager that lacks `CAP_SYS_RESOURCE`. *tested*: the effect is',
    'observed; *refused*: the host cannot enforce it, and a pool asking for it fails at start with a `CapabilityError`',
    '(unless it is listed in `bestEffort`), which is what is tested, together with what systemd would really do with it',
    '(the same value passed unchecked through `raw`).',
    '',
    'The **v2 VM** column is what the VM tier shows (`npm run test:vm`: Debian 12 with systemd 252 as PID 1 on pure cgroup',
    'v2, under qemu; see [vm.md](vm.md)): the test there that observes the effect, for every property whose enforcement',
    'depends on the cgroup version (it needs a cgroup controller, or the BPF firewall on cgroup2). The VM tier runs',
    `${VM_TESTS.map((t) => `\`${t}\``).join(', ')}; the rest of \`test/properties-enforced\` would take far too long`,
    'under emulation, and tests nothing that depends on the cgroup version.',
    '',
    "Both columns are checked against the runs themselves: given a tier's vitest JSON report, `test/unit/tier-claims.test.ts`",
    'fails unless every test named for that tier ran there and passed (`scripts/vm/ci.sh` does this after the VM tier).',
    '',
    '## What a host can enforce',
    '',
    '`await UnitPool.capabilities({ bus })` says, per property, whether this host enforces it and if not why, with the',
    'facts it judged from (cgroup layout, system or user manager, controllers, seccomp, namespaces, BPF, AppArmor,',
    "SELinux, the manager's own capabilities and limits). On the v1 sandbox:",
    '',
    '- enforced by the v1 controllers: `MemoryMax`, `CPUQuota`, `CPUWeight`, `TasksMax`, `IOReadBandwidthMax`;',
    "  `IPAddressDeny`/`IPAddressAllow` too (systemd attaches its BPF firewall to the hybrid layout's cgroup2 hierarchy);",
    '- refused, v2 only: `AllowedCPUs`, `MemoryHigh`, `MemorySwapMax`, `OOMPolicy` (systemd ignores them on v1),',
    "  `IOWriteBandwidthMax` (v1 does not charge buffered writeback to the unit: only O_DIRECT and fsync'd writes are throttled);",
    '- refused: `IOWeight` (no disk uses BFQ, and systemd 252 converts the weight twice on v1), `SELinuxContext`,',
    '  `AppArmorProfile` (neither module is enabled);',
    "- refused by value: a `Limit*` above the manager's own hard limit, and a negative `OOMScoreAdjust` (the manager has",
    '  no `CAP_SYS_RESOURCE`: systemd would silently clamp or ignore them); so `LimitNICE` and `LimitRTPRIO` (the',
    "  manager's own are 0) cannot be set at all here;",
    '- refused at construction on every host: `MemoryDenyWriteExecute` (V8 cannot start under it).',
    '',
    'On the v2 VM the cgroup-v2-only properties are enforced, and `IOWeight` is refused (its virtio disks use neither',
    'BFQ nor io.cost); `test/pool/capabilities.test.ts` checks the v2-only ones against the layout the kernel shows, on',
    'both tiers.',
    '',
    "A user manager (`bus: 'user'`) enforces no cgroup limit on cgroup v1, and on v2 only those of its delegated",
    'controllers; it cannot change users or capabilities, attach the BPF firewall, or raise its own limits, and it sets',
    'up no namespace (systemd does so for a user unit only with `PrivateUsers=yes`, which unitpool does not set), so',
    'every property needing one (`PrivateTmp`, `PrivateNetwork`, `ProtectSystem`, ...) is refused there.',
    'test/pool/rootless.test.ts checks this in the v1 sandbox, and what it does enforce from inside the workers.',
    '',
  ];
  const head = [
    'Property',
    'What it does',
    'Unit',
    'Host needs',
    'Test (test/properties-enforced)',
    'v1 sandbox',
    'v2 VM',
  ];
  for (const cat of Object.keys(CATEGORY_TITLES) as Category[]) {
    const names = PROPERTY_NAMES.filter((n) => TABLE[n].category === cat);
    out.push(`## ${CATEGORY_TITLES[cat]}`, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const n of names) {
      const s = TABLE[n];
      const c = COVERAGE[n];
      const doc = 'note' in s && s.note ? `${s.doc} ${s.note}` : s.doc;
      const status = c.detail ? `${c.v1}: ${c.detail}` : c.v1;
      const v2 = v2Of(n);
      const onV2 =
        'na' in v2
          ? `not applicable: ${v2.na}`
          : `${v2.status ?? 'tested'}${v2.detail ? `: ${v2.detail}` : ''} (${v2.file}: ${v2.test})`;
      out.push(
        `| \`${n}\` | ${cell(doc)} | ${cell(s.unit)} | ${cell(describeNeeds(s.needs))} | ${c.file}: ${cell(c.test)} | ${cell(status)} | ${cell(onV2)} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}
