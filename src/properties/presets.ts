// Named bundles of properties to start from. A preset is plain data; the user's own properties are merged
// over it and win, property by property (null removes one a preset set):
//
//   new UnitPool({ preset: 'untrusted', properties: { MemoryMax: '2G', PrivateNetwork: false } })
//   mergeProperties(preset('untrusted'), { MemoryMax: '2G' })
//
// How the presets keep Node working:
//  - untrusted runs as a DynamicUser rather than User=nobody. Both read files as "other", so the node
//    binary and unitpool's package must be world-readable either way; but nobody is shared with NFS and
//    other daemons (systemd warns about services running as nobody), while a dynamic uid exists only
//    for the life of the unit, and systemd also implies RemoveIPC. It needs the system manager (as any
//    User= does).
//  - ProtectHome would hide a project under /home: unitpool binds its own package directory and the node
//    binary back read-only (readable.ts), turning ProtectHome=yes into the equivalent ProtectHome=tmpfs.
//    A project under /root cannot be read by a non-root user at all (/root is 0700): that is an error at
//    construction that says so.
//  - MemoryDenyWriteExecute is left out: it stops V8's JIT (Node aborts at start).
//  - The syscall filter is @system-service plus @pkey: Node 20 calls pkey_alloc() at start, which systemd
//    252's @system-service does not include, and an allow-list kills on anything else (SIGSYS). kinds/kernel.ts
//    checks that any filter keeps NODE_SYSCALLS.
//  - RestrictAddressFamilies keeps AF_UNIX: the supervisor talks to its workers over AF_UNIX socketpairs.
//    untrusted denies socket(2) itself (socketpair(2) stays): the supervisor cannot listen for direct links then
//    and relays every worker over its control socket.
//  - The scratch space (scratch.ts) replaces PrivateTmp's directories: DynamicUser forces PrivateTmp, whose /tmp
//    is an uncapped directory of the host's /tmp.
//  - /proc stays (Node reads /proc/self); ProtectProc=invisible only hides other users' processes.
//  docs/untrusted.md says what untrusted guarantees, each guarantee with the test that proves it.

import { availableParallelism } from 'node:os';
import { OptionError } from '../errors.js';
import { isAbsolute } from './parse.js';
import { DEFAULT_SCRATCH_SIZE, scratchMounts, scratchSizeValue } from './scratch.js';
import { PROPERTY_NAMES, type PropertyName, type UnitProperties } from './table.js';

export type PresetName = 'untrusted' | 'currentDirOnly' | 'batch';
export const PRESET_NAMES: readonly PresetName[] = ['untrusted', 'currentDirOnly', 'batch'];

export interface PresetContext {
  /** The directory currentDirOnly opens (default process.cwd()). */
  cwd?: string;
  /** CPUs batch takes half of (default os.availableParallelism()). */
  cpus?: number;
  /** The size of untrusted's scratch space (/tmp, /var/tmp and /dev/shm; default DEFAULT_SCRATCH_SIZE). */
  scratchSize?: number | string;
}

export interface PresetDoc {
  readonly summary: string;
  /** What the preset blocks, one item per line in docs. */
  readonly blocks: readonly string[];
  /** What stays possible. */
  readonly keeps: readonly string[];
}

export const PRESET_DOCS: Readonly<Record<PresetName, PresetDoc>> = {
  untrusted: {
    summary:
      "For code you do not trust: no network and no sockets, no writes outside its own capped scratch space, no privileges, a fresh uid, a syscall filter at least as tight as Docker's, and caps on tasks and memory (docs/untrusted.md).",
    blocks: [
      'the network (PrivateNetwork; only AF_UNIX, RestrictAddressFamilies) and sockets: socket(2) fails with EPERM, so no host socket can be connected to; socketpair(2) stays, and the host sockets under /run are hidden from its datagram sendto(2)',
      'writes anywhere but its scratch space: one private tmpfs at /tmp, /var/tmp and /dev/shm, capped at the pool option scratchSize (default 256M) (ProtectSystem=strict, TemporaryFileSystem, BindPaths)',
      "the host's /run, with its sockets and /run/lock, which systemd 252 leaves writable under ProtectSystem=strict (an empty read-only TemporaryFileSystem); writes to /proc/pressure (ReadOnlyPaths); /dev/mqueue and the host's /dev/pts (InaccessiblePaths)",
      "reading /home, /root and /run/user (ProtectHome), devices (PrivateDevices), other users' processes (ProtectProc=invisible)",
      'privileges: a dynamic uid with no capabilities, no setuid gains, no setuid files, no realtime (DynamicUser, CapabilityBoundingSet=, NoNewPrivileges, RestrictSUIDSGID, RestrictRealtime)',
      'kernel tunables, modules, logs, cgroups, the clock and the hostname (Protect*)',
      'new namespaces, personality changes, System V IPC shared with the host (RestrictNamespaces, LockPersonality, PrivateIPC)',
      'syscalls outside @system-service (plus @pkey, which Node needs: SIGSYS) and foreign ABIs (SystemCallFilter, SystemCallArchitectures=native)',
      "with EPERM, what @system-service allows and Docker's default profile blocks: keyrings, io_uring, userfaultfd, kcmp, memory policies, unshare and setns; and process_vm_readv/writev, process_madvise, name_to_handle_at, personality, socket (SystemCallFilter deny-list)",
      'fork bombs (TasksMax=1024) and memory hogs (MemoryMax=50% of RAM), for the whole pool',
      "tasks reaching each other: the pool defaults to isolation: 'worker' with it (a slice for the pool's budget, a unit and a dynamic uid per worker), so no task can read, see or signal another worker",
    ],
    keeps: [
      'reading the system (/usr, /etc) and the project if it is world-readable',
      'CPU: add CPUQuota for a cap (for the whole pool)',
      'files the workers create are private to them (UMask=0077)',
      'state from one task to the next in the same worker: add fresh: true for a process per task',
    ],
  },
  currentDirOnly: {
    summary:
      "playpen's --current-dir-only: the working directory is the only place the workers can write; home directories look empty; the system is read-only.",
    blocks: [
      'reading or writing home directories (ProtectHome=tmpfs), except the working directory, which stays visible and writable (BindPaths)',
      'writes anywhere else (ProtectSystem=strict), a shared /tmp (PrivateTmp)',
      'devices (PrivateDevices), kernel tunables and cgroup changes (ProtectKernelTunables, ProtectControlGroups)',
    ],
    keeps: ['the network', 'reading the system', 'the current user (no User= change)'],
  },
  batch: {
    summary: 'For background batch jobs: caps CPU at half the host and memory at half the RAM, and nothing else.',
    blocks: [
      'more than half the CPUs (CPUQuota)',
      'more than half the RAM (MemoryMax: past it the kernel OOM-kills a worker)',
    ],
    keeps: ['everything else'],
  },
};

/**
 * /run hidden under an empty read-only tmpfs (the unit's RuntimeDirectory is bound back in by systemd). It holds the
 * host's sockets (the system bus, systemd's, the journal's and /dev/log's) and world-writable directories such as
 * /run/lock, which systemd 252 leaves writable under ProtectSystem=strict once ProtectKernelTunables or ProtectProc is
 * set. Read-only is not enough: a datagram socket from socketpair(2) can still sendto(2) a socket by its path.
 */
const UNTRUSTED_RUN = '/run:ro';
/** Writable under ProtectSystem=strict, made read-only: the PSI trigger files of /proc/pressure (mode 0666). */
const UNTRUSTED_READ_ONLY = ['-/proc/pressure'];
/**
 * Hidden in the unit's /dev: /dev/pts (PrivateDevices binds the host's pseudo-terminals in) and /dev/mqueue
 * (PrivateIPC already mounts the unit's own there; hidden, the host's cannot show up even with PrivateIPC turned off;
 * mq_open(3) still works, in the unit's IPC namespace).
 */
const UNTRUSTED_HIDDEN = ['-/dev/mqueue', '-/dev/pts'];
/**
 * What @system-service (plus @pkey) allows and Docker's default seccomp profile does not (for a process without
 * capabilities, x86-64), denied with EPERM as Docker does (libuv probes io_uring_setup and falls back on any error);
 * plus socket(2): no process of the unit can make a socket to connect, bind or send anywhere (socketpair(2) stays,
 * for the supervisor's channels and child processes' stdio). docs/untrusted.md lists each with its reason.
 */
export const UNTRUSTED_DENIED_SYSCALLS = [
  '@keyring',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'userfaultfd',
  'kcmp',
  'process_vm_readv',
  'process_vm_writev',
  'process_madvise',
  'mbind',
  'set_mempolicy',
  'get_mempolicy',
  'migrate_pages',
  'move_pages',
  'set_mempolicy_home_node',
  'unshare',
  'setns',
  'name_to_handle_at',
  'personality',
  'socket',
] as const;

/** The properties of a preset. */
export function preset(name: PresetName, context: PresetContext = {}): UnitProperties {
  switch (name) {
    case 'untrusted': {
      const scratch = scratchMounts(scratchSizeValue(context.scratchSize ?? DEFAULT_SCRATCH_SIZE));
      return {
        DynamicUser: true,
        PrivateNetwork: true,
        RestrictAddressFamilies: ['AF_UNIX'],
        ProtectSystem: 'strict',
        ProtectHome: true,
        PrivateTmp: true,
        TemporaryFileSystem: [...scratch.TemporaryFileSystem, UNTRUSTED_RUN],
        BindPaths: scratch.BindPaths,
        ReadOnlyPaths: UNTRUSTED_READ_ONLY,
        InaccessiblePaths: UNTRUSTED_HIDDEN,
        PrivateDevices: true,
        PrivateIPC: true,
        ProtectKernelTunables: true,
        ProtectKernelModules: true,
        ProtectKernelLogs: true,
        ProtectControlGroups: true,
        ProtectClock: true,
        ProtectHostname: true,
        ProtectProc: 'invisible',
        RestrictNamespaces: true,
        LockPersonality: true,
        RestrictSUIDSGID: true,
        RestrictRealtime: true,
        NoNewPrivileges: true,
        CapabilityBoundingSet: [],
        SystemCallFilter: {
          allow: ['@system-service', '@pkey'],
          deny: UNTRUSTED_DENIED_SYSCALLS.map((s) => `${s}:EPERM`),
        },
        SystemCallArchitectures: 'native',
        UMask: '0077',
        TasksMax: 1024,
        MemoryMax: '50%',
      };
    }
    case 'currentDirOnly': {
      const cwd = context.cwd ?? process.cwd();
      if (!isAbsolute(cwd) || cwd === '/') {
        throw new OptionError(
          'preset',
          cwd,
          'currentDirOnly opens the working directory, and it must be an absolute path other than /',
          'a project directory as the working directory (run the program from it)',
        );
      }
      return {
        ProtectSystem: 'strict',
        ProtectHome: 'tmpfs',
        BindPaths: [{ source: cwd }],
        WorkingDirectory: cwd,
        PrivateTmp: true,
        PrivateDevices: true,
        ProtectKernelTunables: true,
        ProtectControlGroups: true,
      };
    }
    case 'batch': {
      const cpus = Math.max(1, context.cpus ?? availableParallelism());
      return {
        CPUQuota: `${Math.ceil(cpus / 2) * 100}%`,
        MemoryMax: '50%',
      };
    }
    default:
      throw new OptionError(
        'preset',
        name,
        `unknown preset ${JSON.stringify(name)}`,
        `one of ${PRESET_NAMES.map((n) => `'${n}'`).join(', ')}`,
      );
  }
}

/** Properties that may also say null: "remove what an earlier layer set". */
export type PropertyOverrides = { [K in PropertyName]?: UnitProperties[K] | null };

/** Merges layers left to right; a later layer wins per property, and null removes the property. */
export function mergeProperties(...layers: (PropertyOverrides | UnitProperties | undefined)[]): UnitProperties {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const [k, v] of Object.entries(layer)) {
      if (v === null) delete out[k];
      else if (v !== undefined) out[k] = v;
    }
  }
  return out as UnitProperties;
}

/** Resolves the `preset` option (one name or several, applied in order) into properties. */
export function presetProperties(value: unknown, context: PresetContext = {}, path = 'preset'): UnitProperties {
  if (value === undefined) return {};
  const names = Array.isArray(value) ? (value as unknown[]) : [value];
  return mergeProperties(
    ...names.map((n, i) => {
      if (typeof n !== 'string' || !(PRESET_NAMES as readonly string[]).includes(n)) {
        throw new OptionError(
          Array.isArray(value) ? `${path}[${i}]` : path,
          n,
          `unknown preset ${JSON.stringify(n)}`,
          `one of ${PRESET_NAMES.map((x) => `'${x}'`).join(', ')}`,
        );
      }
      return preset(n as PresetName, context);
    }),
  );
}

/** For docs: the property names a preset sets. */
export function presetPropertyNames(name: PresetName): PropertyName[] {
  const p = preset(name, { cwd: '/srv/project', cpus: 4 });
  return PROPERTY_NAMES.filter((k) => k in p);
}
