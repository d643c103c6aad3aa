// The kernel-interface kinds, most of them seccomp or BPF filters: RestrictAddressFamilies, SystemCallFilter,
// SystemCallErrorNumber, SystemCallArchitectures, RestrictNamespaces and IPAddressAllow/IPAddressDeny. Names are
// checked against systemd 252's own lists (a misspelt syscall would be skipped silently), and a filter must leave
// Node what it needs to run and to talk to its workers (AF_UNIX, NODE_SYSCALLS). Also here: the cross-checks that
// SystemCallErrorNumber has a filter to change and that MemoryDenyWriteExecute comes with a JIT-less Node.

import { constants as osConstants } from 'node:os';
import { OptionError } from '../../errors.js';
import { formatExample, suggest } from '../names.js';
import { AF_INET, AF_INET6, parseIpPrefix } from '../parse.js';
import { groupMembers, KNOWN_SYSCALLS, SYSCALL_GROUPS } from '../syscalls.js';
import {
  ADDRESS_FAMILIES,
  NAMESPACE_FLAGS,
  type PropertyName,
  type PropertySpec,
  SYSCALL_ARCHITECTURES,
  TABLE,
} from '../table.js';
import { asList, attempt, type Compiled, type Ctx, fail, isPlainObject, single } from './kind.js';

/** Syscalls a Node 20 worker makes to start, fork its workers and talk to them (strace on x86-64). */
export const NODE_SYSCALLS: readonly string[] = [
  'access',
  'arch_prctl',
  'brk',
  'capget',
  'clone',
  'clone3',
  'close',
  'dup2',
  'epoll_create1',
  'epoll_ctl',
  'epoll_pwait',
  'eventfd2',
  'execve',
  'exit',
  'exit_group',
  'fcntl',
  'fstat',
  'futex',
  'getcwd',
  'getegid',
  'geteuid',
  'getgid',
  'getpid',
  'getrandom',
  'getsockname',
  'getsockopt',
  'gettid',
  'getuid',
  'ioctl',
  'kill',
  'madvise',
  'mmap',
  'mprotect',
  'munmap',
  'newfstatat',
  'openat',
  'pipe2',
  'pkey_alloc',
  'pread64',
  'prlimit64',
  'read',
  'readlink',
  'recvmsg',
  'rseq',
  'rt_sigaction',
  'rt_sigprocmask',
  'rt_sigreturn',
  'sched_getaffinity',
  'sendmsg',
  'set_robust_list',
  'set_tid_address',
  'shutdown',
  'socketpair',
  'statx',
  'sysinfo',
  'uname',
  'wait4',
  'write',
];

const ERRNO_NAMES = Object.keys(osConstants.errno);

/** An allow-list (true) or a deny-list (false), and its names. */
export type AllowDeny = readonly [allow: boolean, names: string[]];

/**
 * The allow/deny forms shared by RestrictAddressFamilies, SystemCallFilter and RestrictNamespaces:
 * a string ('A B', '~A B'), an array (['A'], ['~A', 'B']), { allow: [...] } or { deny: [...] }.
 */
function parseAllowDeny(ctx: Ctx, name: PropertyName, value: unknown, strings = true): AllowDeny {
  if (typeof value === 'string' && strings) {
    if (value === 'none') return [true, []];
    const t = value.trim();
    const deny = t.startsWith('~');
    const words = (deny ? t.slice(1) : t).split(/\s+/).filter((w) => w);
    if (words.length === 0) fail(ctx, name, value, 'empty');
    return [!deny, words];
  }
  if (Array.isArray(value)) {
    const items = value as unknown[];
    if (items.length === 0) fail(ctx, name, value, 'an empty list; leave the property out instead');
    const words = items.map((w, i) => {
      if (typeof w !== 'string') fail(ctx, name, value, 'not a name', `[${i}]`);
      if (i > 0 && w.startsWith('~'))
        fail(ctx, name, value, `'~' may only start the list (it turns the whole list into a deny-list)`, `[${i}]`);
      return w;
    });
    const deny = strings && words[0]!.startsWith('~');
    if (deny) words[0] = words[0]!.slice(1);
    return [!deny, words];
  }
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'allow' || keys[0] === 'deny') && Array.isArray(value[keys[0]])) {
      const list = value[keys[0]] as unknown[];
      if (list.length === 0) fail(ctx, name, value, `an empty ${keys[0]} list`, `.${keys[0]}`);
      list.forEach((w, i) => {
        if (typeof w !== 'string') fail(ctx, name, value, 'not a name', `.${keys[0]}[${i}]`);
      });
      return [keys[0] === 'allow', list as string[]];
    }
  }
  return fail(ctx, name, value, 'not an allow-list or a deny-list');
}

export function compileFamilies(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<AllowDeny> {
  if (ctx.node && value === 'none')
    fail(
      ctx,
      name,
      value,
      `'none' would deny AF_UNIX too: Node and the unitpool supervisor talk to the workers over AF_UNIX socketpairs; write ['AF_UNIX'] to allow nothing else`,
    );
  const [allow, names] = parseAllowDeny(ctx, name, value);
  const canonical = names.map((n, i) => {
    if ((ADDRESS_FAMILIES as readonly string[]).includes(n)) return n;
    const s = suggest(n, ADDRESS_FAMILIES);
    fail(
      ctx,
      name,
      value,
      `unknown address family '${n}'${s ? `; did you mean '${s}'?` : ''}`,
      Array.isArray(value) ? `[${i}]` : '',
    );
  });
  const unix = canonical.some((n) => n === 'AF_UNIX' || n === 'AF_LOCAL' || n === 'AF_FILE');
  if (ctx.node && allow && !unix) {
    fail(
      ctx,
      name,
      value,
      'AF_UNIX must be allowed: Node and the unitpool supervisor talk to the workers over AF_UNIX socketpairs; add it to the list',
    );
  }
  if (ctx.node && !allow && unix)
    fail(
      ctx,
      name,
      value,
      'AF_UNIX cannot be denied: Node and the unitpool supervisor talk to the workers over AF_UNIX socketpairs',
    );
  return single(spec, [allow, canonical] as const);
}

function expandGroup(item: string, seen = new Set<string>()): string[] {
  if (!item.startsWith('@')) return [item];
  if (seen.has(item)) return [];
  seen.add(item);
  return (groupMembers(item) ?? []).flatMap((m) => expandGroup(m, seen));
}

/** One SystemCallFilter list: systemd takes an allow-list before a deny-list. */
export interface SyscallList {
  allow: boolean;
  names: string[];
}

export function compileSyscalls(
  ctx: Ctx,
  name: PropertyName,
  _spec: PropertySpec,
  value: unknown,
): Compiled<SyscallList[]> {
  const lists: { allow: boolean; names: string[]; sub: string }[] = [];
  if (
    isPlainObject(value) &&
    ('allow' in value || 'deny' in value) &&
    Object.keys(value).every((k) => k === 'allow' || k === 'deny')
  ) {
    for (const key of ['allow', 'deny'] as const) {
      const v = value[key];
      if (v === undefined) continue;
      if (!Array.isArray(v) || v.length === 0) fail(ctx, name, value, `${key} must be a non-empty array`, `.${key}`);
      (v as unknown[]).forEach((w, i) => {
        if (typeof w !== 'string') fail(ctx, name, value, 'not a syscall or @group', `.${key}[${i}]`);
        if (w.startsWith('~'))
          fail(ctx, name, value, `no '~' inside { ${key} } (the key says which list it is)`, `.${key}[${i}]`);
      });
      lists.push({ allow: key === 'allow', names: v as string[], sub: `.${key}` });
    }
  } else {
    const [allow, names] = parseAllowDeny(ctx, name, value);
    lists.push({ allow, names, sub: '' });
  }
  const groups = Object.keys(SYSCALL_GROUPS);
  for (const { allow, names, sub } of lists) {
    names.forEach((item, i) => {
      const where = Array.isArray(value) || sub ? `${sub}[${i}]` : '';
      const colon = item.indexOf(':');
      const call = colon < 0 ? item : item.slice(0, colon);
      if (colon >= 0) {
        if (allow) fail(ctx, name, value, `'${item}': an errno can only be given in a deny-list`, where);
        const e = item.slice(colon + 1);
        const okNumber = /^\d+$/.test(e) && Number(e) >= 1 && Number(e) <= 4095;
        if (!okNumber && e !== 'kill' && !ERRNO_NAMES.includes(e)) {
          const s = suggest(e, ERRNO_NAMES);
          fail(ctx, name, value, `unknown errno '${e}'${s ? `; did you mean '${s}'?` : ''}`, where);
        }
      }
      if (call.startsWith('@')) {
        if (!groups.includes(call)) {
          const s = suggest(call, groups);
          fail(ctx, name, value, `unknown syscall group '${call}'${s ? `; did you mean '${s}'?` : ''}`, where);
        }
      } else if (!KNOWN_SYSCALLS.has(call)) {
        const s = suggest(call, [...KNOWN_SYSCALLS]);
        fail(
          ctx,
          name,
          value,
          `unknown syscall '${call}' (systemd would silently skip it)${s ? `; did you mean '${s}'?` : ''}`,
          where,
        );
      }
    });
  }
  // What Node needs must survive the filter, as systemd will build it: an allow-list starts from @default.
  const allowLists = lists.filter((l) => l.allow);
  const allowed: Set<string> | undefined = allowLists.length > 0 ? new Set(expandGroup('@default')) : undefined;
  for (const l of allowLists) for (const n of l.names) for (const s of expandGroup(n)) allowed!.add(s);
  const denied = new Set<string>();
  for (const l of lists.filter((x) => !x.allow))
    for (const n of l.names) for (const s of expandGroup(n.split(':')[0]!)) denied.add(s);
  const missing = NODE_SYSCALLS.filter((s) => (allowed !== undefined && !allowed.has(s)) || denied.has(s));
  if (ctx.node && missing.length > 0) {
    fail(
      ctx,
      name,
      value,
      `it would block ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` and ${missing.length - 8} more` : ''}, which Node needs to start and to talk to its workers; start from ['@system-service', '@pkey'] and deny what you do not want (block networking with PrivateNetwork or RestrictAddressFamilies instead)`,
    );
  }
  return {
    value: lists.map(({ allow, names }) => ({ allow, names })),
    dbus: lists.map((l) => ['SystemCallFilter', '(bas)', [l.allow, l.names]] as const),
  };
}

/** systemd's SECCOMP_ERROR_NUMBER_KILL: SystemCallErrorNumber=kill over D-Bus. */
const ERRNO_KILL = 2147483646;

/** SystemCallErrorNumber: an errno name, 1 to 4095, or 'kill', as systemd's D-Bus int. */
export function compileErrno(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<number> {
  if (value === 'kill') return single(spec, ERRNO_KILL);
  // The unit-file form ('38', as `unitpool run -p` passes it) is a number too.
  const v = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 1 || v > 4095) fail(ctx, name, v, 'an errno number is from 1 to 4095');
    return single(spec, v);
  }
  if (typeof v !== 'string') fail(ctx, name, v, 'not an errno name or number');
  const n = (osConstants.errno as Record<string, number>)[v];
  if (n === undefined) {
    const s = suggest(v, ERRNO_NAMES);
    fail(ctx, name, v, `unknown errno '${v}'${s ? `; did you mean '${s}'?` : ''}`);
  }
  return single(spec, n);
}

export function compileArchs(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<string[]> {
  const list =
    typeof value === 'string'
      ? value.split(/\s+/).filter((w) => w)
      : Array.isArray(value)
        ? (value as unknown[])
        : fail(ctx, name, value, 'not an architecture list');
  if (list.length === 0) fail(ctx, name, value, 'empty');
  list.forEach((a, i) => {
    if (typeof a !== 'string' || !(SYSCALL_ARCHITECTURES as readonly string[]).includes(a)) {
      const s = typeof a === 'string' ? suggest(a, SYSCALL_ARCHITECTURES) : undefined;
      fail(
        ctx,
        name,
        value,
        `unknown architecture ${JSON.stringify(a)}${s ? `; did you mean '${s}'?` : ''}`,
        Array.isArray(value) ? `[${i}]` : '',
      );
    }
  });
  return single(spec, list as string[]);
}

/** RestrictNamespaces: the CLONE_NEW* flags systemd forbids (true: all; false: none). */
export function compileNamespaces(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<number> {
  const all = Object.values(NAMESPACE_FLAGS).reduce((a, b) => a | b, 0);
  let flags: number;
  if (value === true) flags = 0;
  else if (value === false) flags = all;
  else {
    const [allow, names] = parseAllowDeny(ctx, name, value, false);
    let mask = 0;
    names.forEach((n, i) => {
      const bit = (NAMESPACE_FLAGS as Record<string, number>)[n];
      if (bit === undefined) {
        const s = suggest(n, Object.keys(NAMESPACE_FLAGS));
        fail(
          ctx,
          name,
          value,
          `unknown namespace type '${n}'${s ? `; did you mean '${s}'?` : ''}`,
          Array.isArray(value) ? `[${i}]` : '',
        );
      }
      mask |= bit;
    });
    flags = allow ? mask : all & ~mask;
  }
  return single(spec, flags >>> 0);
}

/** IPAddressAllow, IPAddressDeny: (family, address bytes, prefix length) entries. */
export function compileIpAccess(
  ctx: Ctx,
  name: PropertyName,
  spec: PropertySpec,
  value: unknown,
): Compiled<(readonly [number, Buffer, number])[]> {
  const words = asList(value).flatMap((item, i) => {
    if (typeof item !== 'string')
      fail(ctx, name, value, 'not an address or prefix', Array.isArray(value) ? `[${i}]` : '');
    return item.split(/\s+/).filter((w) => w);
  });
  if (words.length === 0) fail(ctx, name, value, 'empty');
  const entries: (readonly [number, Buffer, number])[] = [];
  const add = (family: number, hex: string, len: number) => entries.push([family, Buffer.from(hex, 'hex'), len]);
  for (const w of words) {
    if (w === 'any') {
      add(AF_INET, '00000000', 0);
      add(AF_INET6, '0'.repeat(32), 0);
    } else if (w === 'localhost') {
      add(AF_INET, '7f000000', 8);
      add(AF_INET6, '0'.repeat(31) + '1', 128);
    } else if (w === 'link-local') {
      add(AF_INET, 'a9fe0000', 16);
      add(AF_INET6, 'fe80' + '0'.repeat(28), 64);
    } else if (w === 'multicast') {
      add(AF_INET, 'e0000000', 4);
      add(AF_INET6, 'ff' + '0'.repeat(30), 8);
    } else {
      const p = attempt(ctx, name, value, () => parseIpPrefix(w));
      entries.push([p.family, p.address, p.prefixlen]);
    }
  }
  return single(spec, entries);
}

/** V8's JIT needs memory it can make executable: MemoryDenyWriteExecute only with workers run --jitless. */
export function checkJit(
  ctx: Ctx,
  mdwe: boolean | undefined,
  jitless: boolean | undefined,
  props: Readonly<Record<string, unknown>>,
): void {
  if (!ctx.node || !mdwe || jitless) return;
  throw new OptionError(
    `${ctx.base}.MemoryDenyWriteExecute`,
    props.MemoryDenyWriteExecute,
    "it breaks V8's JIT: Node aborts at start (V8 cannot make its compiled code executable). Run the workers with --jitless (slower, no WebAssembly) to use it",
    'false, or leave it out',
  );
}

/** SystemCallErrorNumber only changes what a SystemCallFilter does. */
export function checkErrnoHasFilter(
  ctx: Ctx,
  errno: number | undefined,
  filters: readonly SyscallList[] | undefined,
  props: Readonly<Record<string, unknown>>,
): void {
  if (errno === undefined || (filters !== undefined && filters.length > 0)) return;
  throw new OptionError(
    `${ctx.base}.SystemCallErrorNumber`,
    props.SystemCallErrorNumber,
    'it only changes what SystemCallFilter does to the calls it blocks, and there is no SystemCallFilter',
    `SystemCallFilter as well, e.g. ${formatExample(TABLE.SystemCallFilter.example)}`,
  );
}
