// compileProperties(): the user's `properties` (unit-file names, human values) -> the (name, signature,
// value) triples StartTransientUnit takes, in the JS forms dbus-next 0.10 marshals for Variant(signature,
// value): t/u/i as numbers (BigInt above 2^53; infinity = 2^64-1n), b as booleans, as as string[],
// structs as arrays, ay as Buffer.
//
// Three passes: (1) parse each property alone, by the `kind` of its table row, into D-Bus triples and
// facts; (2) cross-check the facts: identities that must exist, contradictions systemd would refuse
// cryptically, settings that would stop Node itself (a syscall filter without mmap, AF_UNIX denied,
// MemoryDenyWriteExecute, too few tasks for the workers), and what the workers must still be able to read;
// (3) append the environment and the unchecked `raw` triples. Every refusal is an OptionError naming the
// option (`properties.MemoryMax`), the value, and what would be accepted with an example.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { constants as osConstants, cpus, totalmem } from 'node:os';
import { OptionError } from '../errors.js';
import { suggest } from '../options/suggest.js';
import { type EnvOption, environmentFromPolicy, environmentFromProperty, environmentList } from './env.js';
import {
  AF_INET,
  AF_INET6,
  cpuSetToBuffer,
  Invalid,
  isAbsolute,
  isNormalized,
  isPercentString,
  isUnder,
  parseCpuSet,
  parseDuration,
  parseIpPrefix,
  parseMode,
  parsePercentString,
  parseSize,
  scaleFromPermyriad,
  trimSlash,
  u64,
  UINT64_MAX,
  USEC,
} from './parse.js';
import { planReadable, type ReadablePath, type StatFn } from './readable.js';
import { UNIT_TREE, unitTreeSource } from './scratch.js';
import { groupMembers, KNOWN_SYSCALLS, SYSCALL_GROUPS } from './syscalls.js';
import {
  ADDRESS_FAMILIES,
  CAPABILITIES,
  HINTS,
  NAMESPACE_FLAGS,
  PROPERTY_NAMES,
  type PropertyName,
  type PropertySpec,
  RESERVED,
  SYSCALL_ARCHITECTURES,
  TABLE,
  type UnitProperties,
} from './table.js';
import { type IdentityLookup, isStrictUserName, nssLookup, relaxedNameProblem, type UserEntry } from './users.js';

/** One property for StartTransientUnit: D-Bus name, signature, and a value dbus-next can marshal. */
export type DBusProperty = readonly [name: string, signature: string, value: unknown];
/** An unchecked property for the `raw` escape hatch. */
export type RawProperty = readonly [name: string, signature: string, value: unknown];

export interface CompileOptions {
  /** The option path for messages (default 'properties'). */
  path?: string;
  /** The env capture policy (see env.ts); its variables go under properties.Environment. */
  env?: EnvOption;
  /** Environment to copy from (default process.env). */
  parentEnv?: Readonly<Record<string, string | undefined>>;
  /**
   * Properties not in the table, passed to systemd as they are: only checked for a non-empty name and
   * signature, a value, and not being one that unitpool sets itself. systemd may still refuse them.
   */
  raw?: readonly RawProperty[];
  /** Paths the workers must be able to read (unitpool's package, the node binary, ...). */
  readablePaths?: readonly (string | ReadablePath)[];
  /** Workers the pool will run: checks TasksMax, LimitNOFILE and LimitNPROC leave room for them. */
  maxWorkers?: number;
  /** The workers run with --jitless: MemoryDenyWriteExecute is then allowed. */
  jitless?: boolean;
  /**
   * Whether what runs in the unit is Node (default true: the pool's workers). With false (`unitpool run date`),
   * Node's own needs are not checked: memory, task and rlimit floors, AF_UNIX, the syscalls Node makes,
   * MemoryDenyWriteExecute, tmpfs over / or /proc, hiding the node binary.
   */
  runsNode?: boolean;
  /** CPUs of the host (default os.cpus().length): CPUQuota and AllowedCPUs are checked against it. */
  hostCpus?: number;
  /** Check that paths exist on this host (default true). */
  checkFiles?: boolean;
  /** How users and groups are looked up (default: NSS through getent). */
  lookup?: IdentityLookup;
  /** File metadata for the readable-path checks (default fs.statSync). */
  stat?: StatFn;
  /** Where warnings go (default process.emitWarning with type 'UnitPoolWarning'). */
  warn?: (message: string) => void;
}

// ---------------------------------------------------------------------------------------------------
// Formatting values for messages.

/** A JS-literal rendering of an example value: '512M', { '/dev/sda': '20M' }, ['@system-service']. */
export function formatExample(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `[${value.map(formatExample).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const parts = Object.entries(value).map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`}: ${formatExample(v)}`);
    return `{ ${parts.join(', ')} }`;
  }
  return String(value);
}

function expectedOf(spec: PropertySpec): string {
  return `${spec.forms} (e.g. ${formatExample(spec.example)})`;
}

// ---------------------------------------------------------------------------------------------------
// Name checks: unknown names get a suggestion; case mistakes are named as such.

function checkName(base: string, name: string, value: unknown): asserts name is PropertyName {
  if (Object.prototype.hasOwnProperty.call(TABLE, name)) return;
  const path = `${base}.${name}`;
  if (RESERVED.has(name)) {
    throw new OptionError(path, value, `${name} is set by unitpool itself (the pool depends on it) and cannot be changed`, 'one of the supported properties (see the README table)');
  }
  const hint = HINTS[name];
  if (hint !== undefined) throw new OptionError(path, value, `${name} is not supported: ${hint}`, 'one of the supported properties (see the README table)');
  const s = suggest(name, PROPERTY_NAMES);
  if (s !== undefined && s.toLowerCase() === name.toLowerCase()) {
    throw new OptionError(path, value, `unknown property ${name}: property names are case-sensitive, as in unit files; did you mean ${s}?`, `${s}: ${formatExample(TABLE[s as PropertyName].example)}`);
  }
  throw new OptionError(
    path,
    value,
    `unknown property ${name}${s ? `; did you mean ${s}?` : ''}`,
    s ? `${s}: ${formatExample(TABLE[s as PropertyName].example)}` : `one of the supported properties (see the README table), or the raw option for others`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Facts gathered in pass 1 for the cross-checks of pass 2.

type Mem = { bytes: bigint } | { permyriad: number } | 'infinity';

interface Bind {
  source: string;
  destination: string;
  readOnly: boolean;
  recursive: boolean;
  ignoreMissing: boolean;
  /** The property it came from. */
  property: 'BindPaths' | 'BindReadOnlyPaths';
}

interface Facts {
  user?: string;
  group?: string;
  supplementary: string[];
  dynamicUser?: boolean;
  privateTmp?: boolean;
  protectHome?: string;
  memory: Partial<Record<'MemoryMax' | 'MemoryHigh', Mem>>;
  tasksMax?: bigint | 'infinity' | { permyriad: number };
  cpuQuotaPermyriad?: number;
  allowedCpus?: number;
  inaccessible: string[];
  tmpfs: { path: string; options: string }[];
  binds: Bind[];
  rootDirectory?: string;
  syscallFilters: { allow: boolean; names: string[] }[];
  boundingSet?: bigint;
  ambient?: bigint;
  mdwe?: boolean;
  limits: Partial<Record<string, { soft: bigint; hard: bigint }>>;
  environment?: Record<string, string>;
}

interface Ctx {
  readonly base: string;
  /** Node runs in the unit: its needs are checked (CompileOptions.runsNode). */
  readonly node: boolean;
  readonly checkFiles: boolean;
  readonly hostCpus: number;
  readonly facts: Facts;
  readonly out: DBusProperty[];
  readonly warn: (message: string) => void;
}

const MS_REC = 0x4000;

function fail(ctx: Ctx, name: PropertyName, value: unknown, problem: string, sub = ''): never {
  throw new OptionError(`${ctx.base}.${name}${sub}`, value, problem, expectedOf(TABLE[name]));
}

/** Runs a primitive parser, turning its Invalid into an OptionError for this property. */
function attempt<T>(ctx: Ctx, name: PropertyName, value: unknown, fn: () => T, sub = ''): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof Invalid) fail(ctx, name, value, err.problem, sub);
    throw err;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [v];
}

function fileExists(path: string): boolean {
  return existsSync(path);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Why systemd could not find a block device for `path` (lookup_block_device()), or undefined. */
function blockDeviceProblem(path: string): string | undefined {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch {
    return `${path} does not exist`;
  }
  if (st.isBlockDevice()) return undefined;
  if (st.isCharacterDevice()) return `${path} is a character device, not a block device`;
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  if (major === 0n) return `${path} is on a file system with no block device behind it (tmpfs, overlay, proc...)`;
  return undefined;
}

const BOOL_WORDS: Readonly<Record<string, boolean>> = { yes: true, no: false, true: true, false: false, on: true, off: false, '1': true, '0': false };

// ---------------------------------------------------------------------------------------------------
// Pass 1: one property at a time, by kind.

function compileOne(ctx: Ctx, name: PropertyName, value: unknown): void {
  const spec: PropertySpec = TABLE[name];
  const [dbusName, sig] = spec.dbus[0]!;
  const emit = (n: string, s: string, v: unknown) => ctx.out.push([n, s, v]);
  const f = ctx.facts;

  switch (spec.kind) {
    case 'bool': {
      if (typeof value !== 'boolean') {
        const word = typeof value === 'string' ? BOOL_WORDS[value.toLowerCase()] : typeof value === 'number' ? BOOL_WORDS[String(value)] : undefined;
        fail(ctx, name, value, word === undefined ? 'not a boolean' : `write ${word} (a boolean), not ${JSON.stringify(value)}`);
      }
      if (name === 'DynamicUser') f.dynamicUser = value;
      if (name === 'PrivateTmp') f.privateTmp = value;
      if (name === 'MemoryDenyWriteExecute') f.mdwe = value;
      emit(dbusName, sig, value);
      return;
    }

    case 'enum': {
      const values = spec.values ?? [];
      let out: string | undefined;
      if (typeof value === 'boolean' && spec.booleans) out = value ? 'yes' : 'no';
      else if (typeof value === 'string' && values.includes(value)) out = value;
      if (out === undefined) {
        if (typeof value === 'string') {
          const lower = value.toLowerCase();
          const word = BOOL_WORDS[lower];
          if (spec.booleans && word !== undefined) fail(ctx, name, value, `write ${word} (a boolean), not ${JSON.stringify(value)}`);
          const s = suggest(value, values);
          if (s !== undefined) fail(ctx, name, value, `unknown value; did you mean '${s}'?`);
        }
        fail(ctx, name, value, typeof value === 'string' ? 'unknown value' : 'not one of the accepted values');
      }
      if (name === 'ProtectHome') f.protectHome = out;
      emit(dbusName, sig, out);
      return;
    }

    case 'cpuQuota': {
      let permyriad: number;
      if (typeof value === 'number') {
        if (!Number.isFinite(value) || value <= 0) fail(ctx, name, value, 'must be a number of CPUs above 0');
        if (value > ctx.hostCpus) {
          fail(
            ctx,
            name,
            value,
            `a number means CPUs: ${value} is ${value * 100}% (${value} CPUs), more than the ${ctx.hostCpus} this host has; for a percentage write '${value}%'`,
          );
        }
        permyriad = Math.round(value * 10000);
      } else if (typeof value === 'string') {
        if (/^\s*\d+(\.\d+)?\s*$/.test(value)) fail(ctx, name, value, `no % sign: write '${value.trim()}%' for a percentage, or ${Number(value) / 100} for CPUs`);
        permyriad = attempt(ctx, name, value, () => parsePercentString(value));
      } else {
        fail(ctx, name, value, 'not a percentage or a number of CPUs');
      }
      if (permyriad === 0) fail(ctx, name, value, 'must be above 0% (for no limit, leave CPUQuota out)');
      if (permyriad > ctx.hostCpus * 10000) ctx.warn(`${ctx.base}.CPUQuota ${formatExample(value)} is more than the ${ctx.hostCpus} CPUs of this host: it will never limit anything here`);
      f.cpuQuotaPermyriad = permyriad;
      emit('CPUQuotaPerSecUSec', 't', permyriad * 100);
      return;
    }

    case 'memory': {
      const [plain, scaled] = [spec.dbus[0]![0], spec.dbus[1]![0]];
      let mem: Mem;
      if (value === 'infinity') {
        mem = 'infinity';
        emit(plain, 't', UINT64_MAX);
      } else if (isPercentString(value)) {
        const permyriad = attempt(ctx, name, value, () => parsePercentString(value, 10000));
        if (permyriad === 0 && !spec.zeroOk) fail(ctx, name, value, '0% would allow no memory at all');
        if (ctx.node && spec.floor !== undefined && (BigInt(totalmem()) * BigInt(permyriad)) / 10000n < BigInt(spec.floor)) {
          throw new OptionError(`${ctx.base}.${name}`, value, `on this host that is below ${spec.floor / 1048576}M, too little for even one Node process (about 40 MB each)`, `at least ${spec.floor / 1048576}M for Node, e.g. '512M'`);
        }
        mem = { permyriad };
        emit(scaled, 'u', scaleFromPermyriad(permyriad));
      } else {
        if (value === 'max') fail(ctx, name, value, `write 'infinity' for no limit`);
        const bytes = attempt(ctx, name, value, () => parseSize(value, 1024));
        if (bytes === 0n && !spec.zeroOk) fail(ctx, name, value, `0 bytes is not a limit systemd accepts; for no limit write 'infinity'`);
        if (ctx.node && spec.floor !== undefined && bytes < BigInt(spec.floor)) {
          throw new OptionError(`${ctx.base}.${name}`, value, `below ${spec.floor / 1048576}M: every Node process needs about 40 MB, so no worker could start`, `at least ${spec.floor / 1048576}M for Node, e.g. '512M'`);
        }
        mem = { bytes };
        emit(plain, 't', u64(bytes));
      }
      if (name === 'MemoryMax' || name === 'MemoryHigh') f.memory[name] = mem;
      return;
    }

    case 'tasks': {
      if (value === 'infinity') {
        f.tasksMax = 'infinity';
        emit('TasksMax', 't', UINT64_MAX);
      } else if (isPercentString(value)) {
        const permyriad = attempt(ctx, name, value, () => parsePercentString(value, 10000));
        if (permyriad === 0) fail(ctx, name, value, '0% would allow no tasks at all');
        if (permyriad >= 10000) fail(ctx, name, value, `systemd accepts shares below 100%; for no limit write 'infinity'`);
        f.tasksMax = { permyriad };
        emit('TasksMaxScale', 'u', scaleFromPermyriad(permyriad));
      } else if (typeof value === 'number') {
        if (!Number.isSafeInteger(value) || value < 1) fail(ctx, name, value, 'must be a whole number of at least 1');
        if (ctx.node && value < 16) throw new OptionError(`${ctx.base}.${name}`, value, 'below 16: a single Node process runs 7 to 11 threads, and each counts as a task', 'at least 16 for Node, e.g. 512');
        f.tasksMax = BigInt(value);
        emit('TasksMax', 't', value);
      } else {
        fail(ctx, name, value, 'not a number of tasks');
      }
      return;
    }

    case 'weight': {
      if (value === 'idle' && spec.idle) {
        emit(dbusName, sig, 0);
        return;
      }
      if (typeof value !== 'number' || !Number.isInteger(value)) fail(ctx, name, value, 'not a whole number');
      if (value < 1 || value > 10000) fail(ctx, name, value, 'out of range 1 to 10000');
      emit(dbusName, sig, value);
      return;
    }

    case 'int': {
      const min = spec.min ?? -Infinity;
      const max = spec.max ?? Infinity;
      if (typeof value !== 'number' || !Number.isInteger(value)) fail(ctx, name, value, 'not a whole number');
      if (value < min || value > max) fail(ctx, name, value, `out of range ${min} to ${max}`);
      emit(dbusName, sig, value);
      return;
    }

    case 'cpuSet': {
      const list = attempt(ctx, name, value, () => parseCpuSet(value));
      const bad = list.find((c) => c >= ctx.hostCpus);
      if (bad !== undefined) {
        fail(ctx, name, value, `this host has CPUs 0-${ctx.hostCpus - 1}, not ${bad}; systemd would only log a warning and not pin anything`);
      }
      f.allowedCpus = list.length;
      emit(dbusName, sig, cpuSetToBuffer(list));
      return;
    }

    case 'ioBandwidth': {
      let pairs: [string, unknown][];
      if (isPlainObject(value)) pairs = Object.entries(value);
      else if (typeof value === 'string' || Array.isArray(value)) {
        pairs = asList(value).map((item, i) => {
          if (typeof item !== 'string') fail(ctx, name, value, `not '/dev/sda 20M'`, `[${i}]`);
          const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(item);
          if (!m) fail(ctx, name, value, `'${item}' is not a device and a rate separated by a space`, Array.isArray(value) ? `[${i}]` : '');
          return [m[1]!, m[2]!];
        });
      } else fail(ctx, name, value, 'not a map of devices to rates');
      if (pairs.length === 0) fail(ctx, name, value, 'empty');
      const entries = pairs.map(([device, rate]) => {
        if (!isAbsolute(device) || !isNormalized(device)) fail(ctx, name, value, `'${device}' is not an absolute, normalized path`, `['${device}']`);
        if (ctx.checkFiles) {
          const problem = blockDeviceProblem(device);
          if (problem) fail(ctx, name, value, `${problem}; systemd would skip the limit with only a log line`, `['${device}']`);
        }
        let bytes: bigint;
        if (rate === 'infinity') bytes = UINT64_MAX;
        else {
          bytes = attempt(ctx, name, value, () => parseSize(rate, 1000), `['${device}']`);
          if (bytes === 0n) fail(ctx, name, value, '0 bytes per second would stop all IO', `['${device}']`);
        }
        return [device, u64(bytes)] as const;
      });
      emit(dbusName, sig, entries);
      return;
    }

    case 'rlimit': {
      compileRlimit(ctx, name, spec, value);
      return;
    }

    case 'duration': {
      const usec = attempt(ctx, name, value, () => parseDuration(value));
      if (usec === 0n) fail(ctx, name, value, `0 would stop the unit as soon as it starts; for no limit write 'infinity'`);
      emit(dbusName, sig, u64(usec));
      return;
    }

    case 'user':
    case 'group': {
      const text = identityText(ctx, name, value);
      if (name === 'User') f.user = text;
      else f.group = text;
      emit(dbusName, sig, text);
      return;
    }

    case 'groups': {
      if (!Array.isArray(value)) fail(ctx, name, value, 'not an array of groups');
      f.supplementary = (value as unknown[]).map((g, i) => identityText(ctx, name, g, `[${i}]`));
      emit(dbusName, sig, f.supplementary);
      return;
    }

    case 'mode': {
      emit(dbusName, sig, attempt(ctx, name, value, () => parseMode(value)));
      return;
    }

    case 'paths': {
      const list = asList(value).map((item, i) => {
        const sub = Array.isArray(value) ? `[${i}]` : '';
        if (typeof item !== 'string') fail(ctx, name, value, 'not a path', sub);
        let offset = item.startsWith('-') ? 1 : 0;
        const ignoreMissing = offset === 1;
        const plus = item[offset] === '+';
        if (plus) offset++;
        const p = item.slice(offset);
        if (!isAbsolute(p)) fail(ctx, name, value, `'${item}' is not an absolute path`, sub);
        if (!isNormalized(p)) fail(ctx, name, value, `'${item}' is not normalized (no '.', '..' or '//')`, sub);
        if (ctx.checkFiles && !ignoreMissing && !plus && !fileExists(p)) {
          fail(ctx, name, value, `${p} does not exist, and systemd would refuse to start the unit; prefix it with '-' to skip it when missing`, sub);
        }
        if (name === 'InaccessiblePaths') f.inaccessible.push(trimSlash(p));
        return item;
      });
      emit(dbusName, sig, list);
      return;
    }

    case 'binds': {
      const binds = asList(value).map((item, i) => parseBind(ctx, name, value, item, Array.isArray(value) ? `[${i}]` : ''));
      f.binds.push(...binds);
      const toTuple = (b: Bind) => [b.source, b.destination, b.ignoreMissing, b.recursive ? MS_REC : 0] as const;
      const rw = binds.filter((b) => !b.readOnly).map(toTuple);
      const ro = binds.filter((b) => b.readOnly).map(toTuple);
      if (rw.length > 0) emit('BindPaths', 'a(ssbt)', rw);
      if (ro.length > 0) emit('BindReadOnlyPaths', 'a(ssbt)', ro);
      return;
    }

    case 'tmpfs': {
      const entries = asList(value).map((item, i) => parseTmpfs(ctx, name, value, item, Array.isArray(value) ? `[${i}]` : ''));
      f.tmpfs.push(...entries);
      emit(dbusName, sig, entries.map((e) => [e.path, e.options] as const));
      return;
    }

    case 'path': {
      if (typeof value !== 'string') fail(ctx, name, value, 'not a path');
      if (!isAbsolute(value) || !isNormalized(value)) fail(ctx, name, value, 'not an absolute, normalized path');
      if (ctx.checkFiles && !isDirectory(value)) fail(ctx, name, value, `${value} is not an existing directory`);
      f.rootDirectory = trimSlash(value);
      emit(dbusName, sig, value);
      return;
    }

    case 'workdir': {
      if (typeof value !== 'string') fail(ctx, name, value, 'not a path');
      const missingOk = value.startsWith('-');
      const p = missingOk ? value.slice(1) : value;
      if (p !== '~') {
        if (!isAbsolute(p)) fail(ctx, name, value, `not an absolute path (or '~')`);
        if (!isNormalized(p)) fail(ctx, name, value, `not normalized (no '.', '..' or '//')`);
      }
      // Checked for existence in pass 2, once RootDirectory is known.
      emit(dbusName, sig, value);
      return;
    }

    case 'dirNames': {
      const list = asList(value).map((item, i) => {
        const sub = Array.isArray(value) ? `[${i}]` : '';
        if (typeof item !== 'string' || item.length === 0) fail(ctx, name, value, 'not a directory name', sub);
        if (isAbsolute(item)) fail(ctx, name, value, `'${item}' must be relative (it is created under /run)`, sub);
        if (!isNormalized(item)) fail(ctx, name, value, `'${item}' is not normalized (no '.', '..' or '//')`, sub);
        if (item === 'private' || item.startsWith('private/')) fail(ctx, name, value, `'private' is reserved by systemd`, sub);
        return trimSlash(item);
      });
      emit(dbusName, sig, list);
      return;
    }

    case 'families': {
      if (ctx.node && value === 'none') fail(ctx, name, value, `'none' would deny AF_UNIX too: Node and the unitpool supervisor talk to the workers over AF_UNIX socketpairs; write ['AF_UNIX'] to allow nothing else`);
      const [allow, names] = parseAllowDeny(ctx, name, value);
      const canonical = names.map((n, i) => {
        if ((ADDRESS_FAMILIES as readonly string[]).includes(n)) return n;
        const s = suggest(n, ADDRESS_FAMILIES);
        fail(ctx, name, value, `unknown address family '${n}'${s ? `; did you mean '${s}'?` : ''}`, Array.isArray(value) ? `[${i}]` : '');
      });
      const unix = canonical.some((n) => n === 'AF_UNIX' || n === 'AF_LOCAL' || n === 'AF_FILE');
      if (ctx.node && allow && !unix) {
        fail(ctx, name, value, 'AF_UNIX must be allowed: Node and the unitpool supervisor talk to the workers over AF_UNIX socketpairs; add it to the list');
      }
      if (ctx.node && !allow && unix) fail(ctx, name, value, 'AF_UNIX cannot be denied: Node and the unitpool supervisor talk to the workers over AF_UNIX socketpairs');
      emit(dbusName, sig, [allow, canonical]);
      return;
    }

    case 'syscalls': {
      compileSyscalls(ctx, name, value);
      return;
    }

    case 'errno': {
      emit(dbusName, sig, errnoValue(ctx, name, value));
      return;
    }

    case 'archs': {
      const list = typeof value === 'string' ? value.split(/\s+/).filter((w) => w) : Array.isArray(value) ? (value as unknown[]) : fail(ctx, name, value, 'not an architecture list');
      if (list.length === 0) fail(ctx, name, value, 'empty');
      list.forEach((a, i) => {
        if (typeof a !== 'string' || !(SYSCALL_ARCHITECTURES as readonly string[]).includes(a)) {
          const s = typeof a === 'string' ? suggest(a, SYSCALL_ARCHITECTURES) : undefined;
          fail(ctx, name, value, `unknown architecture ${JSON.stringify(a)}${s ? `; did you mean '${s}'?` : ''}`, Array.isArray(value) ? `[${i}]` : '');
        }
      });
      emit(dbusName, sig, list as string[]);
      return;
    }

    case 'caps': {
      let keep = true;
      let names: unknown[];
      if (typeof value === 'string') {
        const t = value.trim();
        keep = !t.startsWith('~');
        names = (keep ? t : t.slice(1)).split(/\s+/).filter((w) => w);
      } else if (Array.isArray(value)) names = value as unknown[];
      else if (isPlainObject(value) && Array.isArray(value.drop) && Object.keys(value).length === 1) {
        keep = false;
        names = value.drop as unknown[];
      } else fail(ctx, name, value, 'not a list of capabilities');
      let mask = 0n;
      names.forEach((n, i) => {
        const bit = capabilityBit(n);
        if (bit === undefined) {
          const s = typeof n === 'string' ? suggest(n.toUpperCase().startsWith('CAP_') ? n.toUpperCase() : `CAP_${n.toUpperCase()}`, CAPABILITIES) : undefined;
          fail(ctx, name, value, `unknown capability ${JSON.stringify(n)}${s ? `; did you mean '${s}'?` : ''}`, Array.isArray(value) ? `[${i}]` : '');
        }
        mask |= 1n << BigInt(bit);
      });
      const set = keep ? mask : ~mask & UINT64_MAX;
      if (name === 'CapabilityBoundingSet') f.boundingSet = set;
      else f.ambient = set;
      emit(dbusName, sig, u64(set));
      return;
    }

    case 'namespaces': {
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
            fail(ctx, name, value, `unknown namespace type '${n}'${s ? `; did you mean '${s}'?` : ''}`, Array.isArray(value) ? `[${i}]` : '');
          }
          mask |= bit;
        });
        flags = allow ? mask : all & ~mask;
      }
      emit(dbusName, sig, flags >>> 0);
      return;
    }

    case 'ipAccess': {
      const words = asList(value).flatMap((item, i) => {
        if (typeof item !== 'string') fail(ctx, name, value, 'not an address or prefix', Array.isArray(value) ? `[${i}]` : '');
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
      emit(dbusName, sig, entries);
      return;
    }

    case 'selinux': {
      if (typeof value !== 'string' || value.trim() === '') fail(ctx, name, value, 'not an SELinux context');
      if (value.startsWith('-')) fail(ctx, name, value, `a '-' prefix is not passed through D-Bus; give the context itself`);
      if (!/^[^:\s]+:[^:\s]+:[^:\s]+(:\S+)?$/.test(value)) fail(ctx, name, value, 'not a context of the form user:role:type[:level]');
      emit(dbusName, sig, value);
      return;
    }

    case 'apparmor': {
      let profile: unknown;
      let ignore = false;
      if (typeof value === 'string') {
        ignore = value.startsWith('-');
        profile = ignore ? value.slice(1) : value;
      } else if (isPlainObject(value)) {
        profile = value.profile;
        if (value.ignoreErrors !== undefined && typeof value.ignoreErrors !== 'boolean') fail(ctx, name, value, 'ignoreErrors must be a boolean', '.ignoreErrors');
        ignore = value.ignoreErrors === true;
      }
      if (typeof profile !== 'string' || profile.trim() === '' || /\s/.test(profile)) fail(ctx, name, value, 'not an AppArmor profile name');
      emit(dbusName, sig, [ignore, profile]);
      return;
    }

    case 'environment': {
      f.environment = environmentFromProperty(value, `${ctx.base}.${name}`);
      return; // emitted in pass 3, merged with the env policy
    }
  }
}

function identityText(ctx: Ctx, name: PropertyName, value: unknown, sub = ''): string {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 4294967294 || value === 65535) fail(ctx, name, value, `not a valid ${name === 'User' ? 'uid' : 'gid'}`, sub);
    return String(value);
  }
  if (typeof value !== 'string') fail(ctx, name, value, `not a ${name === 'User' ? 'user' : 'group'} name or id`, sub);
  const problem = relaxedNameProblem(value);
  if (problem) fail(ctx, name, value, problem, sub);
  return value;
}

function capabilityBit(n: unknown): number | undefined {
  if (typeof n !== 'string') return undefined;
  const up = n.trim().toUpperCase();
  const full = up.startsWith('CAP_') ? up : `CAP_${up}`;
  const i = (CAPABILITIES as readonly string[]).indexOf(full);
  return i < 0 ? undefined : i;
}

/**
 * The allow/deny forms shared by RestrictAddressFamilies, SystemCallFilter and RestrictNamespaces:
 * a string ('A B', '~A B'), an array (['A'], ['~A', 'B']), { allow: [...] } or { deny: [...] }.
 */
function parseAllowDeny(ctx: Ctx, name: PropertyName, value: unknown, strings = true): [boolean, string[]] {
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
      if (i > 0 && w.startsWith('~')) fail(ctx, name, value, `'~' may only start the list (it turns the whole list into a deny-list)`, `[${i}]`);
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

// ---- Limits ---------------------------------------------------------------------------------------

function compileRlimit(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): void {
  const kind = spec.rlimit!;
  const one = (v: unknown, sub: string): bigint =>
    attempt(
      ctx,
      name,
      value,
      () => {
        if (v === 'infinity') {
          if (kind === 'nice') throw new Invalid(`LimitNICE has no 'infinity'; give a nice level from -20 to 19`);
          return UINT64_MAX;
        }
        switch (kind) {
          case 'size':
            return parseSize(typeof v === 'string' ? v.trim() : v, 1024);
          case 'count': {
            const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
            if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new Invalid('not a whole number');
            return BigInt(n);
          }
          case 'seconds': {
            const usec = parseDuration(v);
            return (usec + USEC.s - 1n) / USEC.s; // rounded up, as systemd does
          }
          case 'usec':
            if (typeof v !== 'number') return parseDuration(v, 1n);
            if (!Number.isSafeInteger(v) || v < 0) throw new Invalid('not a whole number of microseconds');
            return BigInt(v);
          case 'nice': {
            const n = typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : v;
            if (typeof n !== 'number' || !Number.isInteger(n) || n < -20 || n > 19) throw new Invalid('not a nice level from -20 to 19');
            return BigInt(20 - n);
          }
        }
      },
      sub,
    );
  let soft: bigint;
  let hard: bigint;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort().join(',');
    if (keys !== 'hard,soft') fail(ctx, name, value, 'an object needs exactly soft and hard');
    soft = one(value.soft, '.soft');
    hard = one(value.hard, '.hard');
  } else if (typeof value === 'string' && value.includes(':')) {
    const [s, h, ...rest] = value.split(':');
    if (rest.length > 0) fail(ctx, name, value, `not 'soft:hard'`);
    soft = one(s!.trim(), '');
    hard = one(h!.trim(), '');
  } else {
    soft = hard = one(value, '');
  }
  if (soft > hard) fail(ctx, name, value, 'the soft limit is above the hard limit');
  if (ctx.node && spec.floor !== undefined && soft < BigInt(spec.floor)) {
    const floorText = kind === 'size' ? `${spec.floor / 1048576 >= 1024 ? `${spec.floor / 1073741824}G` : `${spec.floor / 1048576}M`}` : String(spec.floor);
    const why = spec.note ? ` (${spec.note[0]!.toLowerCase()}${spec.note.slice(1).replace(/\.$/, '')})` : '';
    fail(ctx, name, value, `below ${floorText}, Node cannot run${why}`);
  }
  if (name === 'LimitCPU' && soft === 0n) fail(ctx, name, value, '0 seconds would kill every worker at once');
  if (name === 'LimitNOFILE' && hard !== UINT64_MAX) {
    const nrOpen = readNrOpen();
    if (nrOpen !== undefined && hard > BigInt(nrOpen)) {
      fail(ctx, name, value, `above this kernel's fs.nr_open (${nrOpen}); systemd would fail to start the unit`);
    }
  }
  if (name === 'LimitNOFILE' && hard === UINT64_MAX) fail(ctx, name, value, `the kernel has no unlimited number of files; give a number (at most fs.nr_open)`);
  ctx.facts.limits[name] = { soft, hard };
  const [hardName] = spec.dbus[0]!;
  const [softName] = spec.dbus[1]!;
  ctx.out.push([hardName, 't', u64(hard)]);
  ctx.out.push([softName, 't', u64(soft)]);
}

function readNrOpen(): number | undefined {
  try {
    const n = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

// ---- Bind mounts and tmpfs ------------------------------------------------------------------------

function parseBind(ctx: Ctx, name: PropertyName, whole: unknown, item: unknown, sub: string): Bind {
  const readOnlyProperty = name === 'BindReadOnlyPaths';
  let b: Bind;
  if (typeof item === 'string') {
    const ignoreMissing = item.startsWith('-');
    const parts = (ignoreMissing ? item.slice(1) : item).split(':');
    if (parts.length > 3) fail(ctx, name, whole, `'${item}' has more than three ':'-separated parts`, sub);
    const [source = '', destination = source, opt] = parts;
    if (opt !== undefined && opt !== 'rbind' && opt !== 'norbind') fail(ctx, name, whole, `unknown option '${opt}' (rbind or norbind)`, sub);
    b = { source, destination, readOnly: readOnlyProperty, recursive: opt !== 'norbind', ignoreMissing, property: name as Bind['property'] };
  } else if (isPlainObject(item)) {
    const known = ['source', 'destination', 'readOnly', 'recursive', 'ignoreMissing'];
    const extra = Object.keys(item).find((k) => !known.includes(k));
    if (extra !== undefined) fail(ctx, name, whole, `unknown field '${extra}'${suggest(extra, known) ? `; did you mean '${suggest(extra, known)}'?` : ''}`, sub);
    if (typeof item.source !== 'string') fail(ctx, name, whole, 'source must be a path', `${sub}.source`);
    for (const k of ['readOnly', 'recursive', 'ignoreMissing'] as const) {
      if (item[k] !== undefined && typeof item[k] !== 'boolean') fail(ctx, name, whole, `${k} must be a boolean`, `${sub}.${k}`);
    }
    if (item.destination !== undefined && typeof item.destination !== 'string') fail(ctx, name, whole, 'destination must be a path', `${sub}.destination`);
    if (readOnlyProperty && item.readOnly === false) fail(ctx, name, whole, 'BindReadOnlyPaths entries are read-only; put writable ones in BindPaths', `${sub}.readOnly`);
    b = {
      source: item.source,
      destination: (item.destination as string | undefined) ?? item.source,
      readOnly: readOnlyProperty || item.readOnly === true,
      recursive: item.recursive !== false,
      ignoreMissing: item.ignoreMissing === true,
      property: name as Bind['property'],
    };
  } else {
    fail(ctx, name, whole, 'not a bind mount', sub);
  }
  for (const [what, p] of [
    ['source', b.source],
    ['destination', b.destination],
  ] as const) {
    if (!isAbsolute(p)) fail(ctx, name, whole, `${what} '${p}' is not an absolute path`, sub);
    if (!isNormalized(p)) fail(ctx, name, whole, `${what} '${p}' is not normalized (no '.', '..' or '//')`, sub);
  }
  // A source in the unit's own tree (scratch.ts) does not exist on the host; crossCheck() checks it instead.
  if (ctx.checkFiles && !b.ignoreMissing && unitTreeSource(b.source) === undefined && !fileExists(b.source)) {
    fail(ctx, name, whole, `source ${b.source} does not exist, and systemd would refuse to start the unit; mark it ignoreMissing (or prefix '-') to skip it`, sub);
  }
  return b;
}

const TMPFS_FLAGS = ['ro', 'rw', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'sync', 'async', 'noatime', 'atime', 'relatime', 'norelatime', 'strictatime', 'nostrictatime', 'nodiratime', 'diratime', 'lazytime', 'nolazytime'];
const TMPFS_KEYS: Readonly<Record<string, RegExp>> = {
  mode: /^[0-7]{3,4}$/,
  size: /^\d+[kmg%]?$/,
  nr_blocks: /^\d+[kmg]?$/,
  nr_inodes: /^\d+[kmg]?$/,
  uid: /^\d+$/,
  gid: /^\d+$/,
  huge: /^(never|always|within_size|advise|deny|force)$/,
  mpol: /^(default|prefer|bind|interleave|local)(:[\d,-]+)?$/,
};

function parseTmpfs(ctx: Ctx, name: PropertyName, whole: unknown, item: unknown, sub: string): { path: string; options: string } {
  let path: unknown;
  let options: unknown;
  if (typeof item === 'string') {
    const i = item.indexOf(':');
    path = i < 0 ? item : item.slice(0, i);
    options = i < 0 ? '' : item.slice(i + 1);
  } else if (isPlainObject(item)) {
    const extra = Object.keys(item).find((k) => k !== 'path' && k !== 'options');
    if (extra !== undefined) fail(ctx, name, whole, `unknown field '${extra}'`, sub);
    path = item.path;
    options = Array.isArray(item.options) ? (item.options as unknown[]).join(',') : (item.options ?? '');
  } else fail(ctx, name, whole, 'not a mount point', sub);
  if (typeof path !== 'string' || !isAbsolute(path) || !isNormalized(path)) fail(ctx, name, whole, `${JSON.stringify(path)} is not an absolute, normalized path`, sub);
  if (typeof options !== 'string') fail(ctx, name, whole, 'options must be a string or an array of strings', sub);
  for (const o of options.split(',').filter((x) => x)) {
    const eq = o.indexOf('=');
    if (eq < 0) {
      if (!TMPFS_FLAGS.includes(o)) fail(ctx, name, whole, `unknown tmpfs option '${o}'`, sub);
    } else {
      const re = TMPFS_KEYS[o.slice(0, eq)];
      if (re === undefined) fail(ctx, name, whole, `unknown tmpfs option '${o.slice(0, eq)}'`, sub);
      if (!re.test(o.slice(eq + 1))) fail(ctx, name, whole, `bad value in tmpfs option '${o}'`, sub);
    }
  }
  for (const needed of ['/proc', '/dev', '/']) {
    if (trimSlash(path) === needed) fail(ctx, name, whole, `a tmpfs over ${needed} would leave Node without ${needed === '/' ? 'anything' : needed}`, sub);
  }
  return { path: trimSlash(path), options };
}

/**
 * Binds whose source is in the unit's own tree (UNIT_TREE, see scratch.ts) must bind one of the unit's own
 * TemporaryFileSystem mounts, mounted before the bind (systemd applies mounts in path order), with no RootDirectory
 * (systemd then builds the tree elsewhere). Anything else would bind a host path, or nothing.
 */
function checkUnitTreeBinds(ctx: Ctx, props: Record<string, unknown>): void {
  const f = ctx.facts;
  for (const b of f.binds) {
    const inTree = unitTreeSource(b.source);
    if (inTree === undefined) continue;
    const at = `${ctx.base}.${b.property}`;
    const value = props[b.property];
    if (f.rootDirectory !== undefined) {
      throw new OptionError(
        at,
        value,
        `a bind from ${UNIT_TREE} (the unit's own tree, as the untrusted preset's scratch space uses) does not work with RootDirectory: systemd builds the tree in the RootDirectory then`,
        'no RootDirectory; or, with one, BindPaths: null and a TemporaryFileSystem of your own',
      );
    }
    const mount = unitTreeBinds(f).find((x) => x.bind === b)?.tmpfs;
    if (mount === undefined || !sortsBefore(mount.path, b.destination)) {
      throw new OptionError(
        at,
        value,
        `source ${b.source} must lie in one of the unit's own TemporaryFileSystem mounts that systemd mounts before ${b.destination} (mounts are applied in path order)`,
        `TemporaryFileSystem: '${inTree}' with a path that sorts before ${b.destination}`,
      );
    }
  }
}

/** The binds from the unit's own tree, each with the TemporaryFileSystem mount its source lies in (if any). */
function unitTreeBinds(f: Facts): { bind: Bind; tmpfs: { path: string; options: string } | undefined }[] {
  return f.binds.flatMap((bind) => {
    const inTree = unitTreeSource(bind.source);
    return inTree === undefined ? [] : [{ bind, tmpfs: f.tmpfs.find((t) => isUnder(inTree, t.path)) }];
  });
}

/** systemd's mount order: component by component (path_compare). */
function sortsBefore(a: string, b: string): boolean {
  const x = trimSlash(a).split('/');
  const y = trimSlash(b).split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]!;
  return x.length < y.length;
}

// ---- Syscall filters ------------------------------------------------------------------------------

/** Syscalls a Node 20 worker makes to start, fork its workers and talk to them (strace on x86-64). */
export const NODE_SYSCALLS: readonly string[] = [
  'access', 'arch_prctl', 'brk', 'capget', 'clone', 'clone3', 'close', 'dup2', 'epoll_create1', 'epoll_ctl', 'epoll_pwait',
  'eventfd2', 'execve', 'exit', 'exit_group', 'fcntl', 'fstat', 'futex', 'getcwd', 'getegid', 'geteuid', 'getgid', 'getpid',
  'getrandom', 'getsockname', 'getsockopt', 'gettid', 'getuid', 'ioctl', 'kill', 'madvise', 'mmap', 'mprotect', 'munmap',
  'newfstatat', 'openat', 'pipe2', 'pkey_alloc', 'pread64', 'prlimit64', 'read', 'readlink', 'recvmsg', 'rseq', 'rt_sigaction',
  'rt_sigprocmask', 'rt_sigreturn', 'sched_getaffinity', 'sendmsg', 'set_robust_list', 'set_tid_address', 'shutdown',
  'socketpair', 'statx', 'sysinfo', 'uname', 'wait4', 'write',
];

function expandGroup(item: string, seen = new Set<string>()): string[] {
  if (!item.startsWith('@')) return [item];
  if (seen.has(item)) return [];
  seen.add(item);
  return (groupMembers(item) ?? []).flatMap((m) => expandGroup(m, seen));
}

const ERRNO_NAMES = Object.keys(osConstants.errno);

function compileSyscalls(ctx: Ctx, name: PropertyName, value: unknown): void {
  const lists: { allow: boolean; names: string[]; sub: string }[] = [];
  if (isPlainObject(value) && ('allow' in value || 'deny' in value) && Object.keys(value).every((k) => k === 'allow' || k === 'deny')) {
    for (const key of ['allow', 'deny'] as const) {
      const v = value[key];
      if (v === undefined) continue;
      if (!Array.isArray(v) || v.length === 0) fail(ctx, name, value, `${key} must be a non-empty array`, `.${key}`);
      (v as unknown[]).forEach((w, i) => {
        if (typeof w !== 'string') fail(ctx, name, value, 'not a syscall or @group', `.${key}[${i}]`);
        if (w.startsWith('~')) fail(ctx, name, value, `no '~' inside { ${key} } (the key says which list it is)`, `.${key}[${i}]`);
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
        fail(ctx, name, value, `unknown syscall '${call}' (systemd would silently skip it)${s ? `; did you mean '${s}'?` : ''}`, where);
      }
    });
  }
  // What Node needs must survive the filter, as systemd will build it: an allow-list starts from @default.
  const allowLists = lists.filter((l) => l.allow);
  const allowed: Set<string> | undefined = allowLists.length > 0 ? new Set(expandGroup('@default')) : undefined;
  for (const l of allowLists) for (const n of l.names) for (const s of expandGroup(n)) allowed!.add(s);
  const denied = new Set<string>();
  for (const l of lists.filter((x) => !x.allow)) for (const n of l.names) for (const s of expandGroup(n.split(':')[0]!)) denied.add(s);
  const missing = NODE_SYSCALLS.filter((s) => (allowed !== undefined && !allowed.has(s)) || denied.has(s));
  if (ctx.node && missing.length > 0) {
    fail(
      ctx,
      name,
      value,
      `it would block ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` and ${missing.length - 8} more` : ''}, which Node needs to start and to talk to its workers; start from ['@system-service', '@pkey'] and deny what you do not want (block networking with PrivateNetwork or RestrictAddressFamilies instead)`,
    );
  }
  ctx.facts.syscallFilters.push(...lists.map(({ allow, names }) => ({ allow, names })));
  for (const l of lists) ctx.out.push(['SystemCallFilter', '(bas)', [l.allow, l.names]]);
}

/** systemd's SECCOMP_ERROR_NUMBER_KILL: SystemCallErrorNumber=kill over D-Bus. */
const ERRNO_KILL = 2147483646;

/** SystemCallErrorNumber: an errno name, 1 to 4095, or 'kill', as systemd's D-Bus int. */
function errnoValue(ctx: Ctx, name: PropertyName, value: unknown): number {
  if (value === 'kill') return ERRNO_KILL;
  // The unit-file form ('38', as `unitpool run -p` passes it) is a number too.
  if (typeof value === 'string' && /^\d+$/.test(value)) value = Number(value);
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1 || value > 4095) fail(ctx, name, value, 'an errno number is from 1 to 4095');
    return value;
  }
  if (typeof value !== 'string') fail(ctx, name, value, 'not an errno name or number');
  const n = (osConstants.errno as Record<string, number>)[value];
  if (n === undefined) {
    const s = suggest(value, ERRNO_NAMES);
    fail(ctx, name, value, `unknown errno '${value}'${s ? `; did you mean '${s}'?` : ''}`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------
// Pass 2: cross-checks.

function crossCheck(ctx: Ctx, props: Record<string, unknown>, options: CompileOptions): void {
  const f = ctx.facts;
  const lookup = options.lookup ?? nssLookup;
  const at = (name: PropertyName) => `${ctx.base}.${name}`;
  const ex = (name: PropertyName) => expectedOf(TABLE[name]);

  // Identities: they must exist (systemd resolves them only at exec time, failing with status 217/USER).
  let userEntry: UserEntry | undefined;
  if (f.dynamicUser) {
    if (f.user !== undefined) {
      if (/^\d+$/.test(f.user)) throw new OptionError(at('User'), props.User, 'with DynamicUser, User names the dynamic user and cannot be a number', `a new name like 'myjob', or leave User out`);
      if (!isStrictUserName(f.user)) throw new OptionError(at('User'), props.User, 'not a name systemd can allocate dynamically', `letters, digits, _ and -, like 'myjob'`);
      const existing = lookup.user(f.user);
      if (existing) {
        throw new OptionError(
          at('User'),
          props.User,
          `${f.user} already exists (uid ${existing.uid}), so with DynamicUser systemd would run the workers as that static user, not a fresh one`,
          `a name that does not exist, like 'unitpool-job', or leave User out`,
        );
      }
    }
  } else {
    if (f.user !== undefined) {
      userEntry = lookup.user(f.user);
      if (!userEntry) throw new OptionError(at('User'), props.User, `no such user on this host (getent passwd ${f.user})`, `an existing user like 'nobody', or DynamicUser: true to get a fresh one`);
    }
    if (f.group !== undefined && !lookup.group(f.group)) {
      throw new OptionError(at('Group'), props.Group, `no such group on this host (getent group ${f.group})`, `an existing group like 'nogroup'`);
    }
  }
  if (f.dynamicUser && f.group !== undefined && /^\d+$/.test(f.group)) {
    throw new OptionError(at('Group'), props.Group, 'with DynamicUser, Group names the dynamic group and cannot be a number', 'a name, or leave Group out');
  }
  f.supplementary.forEach((g, i) => {
    if (!lookup.group(g)) throw new OptionError(`${at('SupplementaryGroups')}[${i}]`, g, `no such group on this host (getent group ${g})`, ex('SupplementaryGroups'));
  });

  // Memory: MemoryHigh at or above MemoryMax never throttles (systemd accepts it; warn).
  const { MemoryMax: max, MemoryHigh: high } = f.memory;
  if (max !== undefined && high !== undefined && max !== 'infinity') {
    const cmp = (m: Mem) => (m === 'infinity' ? Infinity : 'bytes' in m ? Number(m.bytes) : (totalmem() * m.permyriad) / 10000);
    if (cmp(high) >= cmp(max)) ctx.warn(`${at('MemoryHigh')} is not below MemoryMax, so it never throttles: the unit is OOM-killed at MemoryMax first`);
  }

  // V8's JIT needs memory it can make executable.
  if (ctx.node && f.mdwe && !options.jitless) {
    throw new OptionError(
      at('MemoryDenyWriteExecute'),
      props.MemoryDenyWriteExecute,
      "it breaks V8's JIT: Node aborts at start (V8 cannot make its compiled code executable). Run the workers with --jitless (slower, no WebAssembly) to use it",
      'false, or leave it out',
    );
  }

  // Ambient capabilities must survive the bounding set (else exec fails with status 218/CAPABILITIES).
  if (f.ambient !== undefined && f.boundingSet !== undefined && (f.ambient & ~f.boundingSet) !== 0n) {
    const lost = CAPABILITIES.filter((_, i) => ((f.ambient! & ~f.boundingSet!) >> BigInt(i)) & 1n);
    throw new OptionError(at('AmbientCapabilities'), props.AmbientCapabilities, `${lost.join(', ')} ${lost.length > 1 ? 'are' : 'is'} not in CapabilityBoundingSet, so systemd cannot grant ${lost.length > 1 ? 'them' : 'it'}`, 'capabilities that CapabilityBoundingSet keeps');
  }

  // Room for the workers.
  const workers = options.maxWorkers;
  if (workers !== undefined && Number.isInteger(workers) && workers > 0) {
    const tasks = 12 * (workers + 1);
    if (typeof f.tasksMax === 'bigint' && f.tasksMax < BigInt(tasks)) {
      throw new OptionError(at('TasksMax'), props.TasksMax, `too small for ${workers} workers: each Node process runs up to about 11 threads, so ${workers} workers and the supervisor need ${tasks}`, `at least ${tasks}, or fewer maxWorkers`);
    }
    const nofile = f.limits.LimitNOFILE;
    const fds = 32 + 8 * workers;
    // Node raises its soft limit to the hard one at start: the hard limit is what the supervisor gets.
    if (nofile && nofile.hard < BigInt(fds)) {
      throw new OptionError(at('LimitNOFILE'), props.LimitNOFILE, `too small for ${workers} workers: the supervisor holds descriptors for each (${fds} needed)`, `at least ${fds}`);
    }
    const nproc = f.limits.LimitNPROC;
    const nonRoot = f.dynamicUser || (userEntry !== undefined && userEntry.uid !== 0);
    if (nproc && nonRoot && nproc.soft < BigInt(tasks)) {
      throw new OptionError(at('LimitNPROC'), props.LimitNPROC, `too small for ${workers} workers: it counts every thread of the user, and ${workers} workers and the supervisor run about ${tasks}`, `at least ${tasks}`);
    }
  }

  // Paths Node itself needs.
  for (const i of ctx.node ? f.inaccessible : []) {
    for (const needed of ['/proc', '/dev/null', process.execPath]) {
      if (isUnder(needed, i)) throw new OptionError(at('InaccessiblePaths'), props.InaccessiblePaths, `${i} would hide ${needed}, which Node needs`, 'paths Node does not need');
    }
  }

  // ProtectHome=yes and binds below the hidden directories: systemd cannot create those mount points.
  if (f.protectHome === 'yes') {
    const b = f.binds.find((x) => ['/home', '/root', '/run/user'].some((h) => isUnder(x.destination, h) && trimSlash(x.destination) !== h));
    if (b) {
      throw new OptionError(
        at('ProtectHome'),
        props.ProtectHome,
        `systemd cannot bind ${b.destination} under ProtectHome=true (its mount point cannot be created in the inaccessible directory); 'tmpfs' hides the same and lets the bind through`,
        `ProtectHome: 'tmpfs'`,
      );
    }
  }
  for (const b of f.binds) {
    const hidden = f.inaccessible.find((i) => isUnder(b.destination, i) && trimSlash(b.destination) !== i);
    if (hidden) {
      throw new OptionError(at('InaccessiblePaths'), props.InaccessiblePaths, `${hidden} contains the bind mount point ${b.destination}, which systemd cannot create there; hide it with TemporaryFileSystem: '${hidden}:ro' instead`, `TemporaryFileSystem: '${hidden}:ro'`);
    }
  }
  checkUnitTreeBinds(ctx, props);
  if (props.SystemCallErrorNumber !== undefined && f.syscallFilters.length === 0) {
    throw new OptionError(at('SystemCallErrorNumber'), props.SystemCallErrorNumber, 'it only changes what SystemCallFilter does to the calls it blocks, and there is no SystemCallFilter', `SystemCallFilter as well, e.g. ${formatExample(TABLE.SystemCallFilter.example)}`);
  }
  if (f.dynamicUser && f.binds.some((b) => !b.readOnly && unitTreeSource(b.source) === undefined)) {
    ctx.warn(`${at('BindPaths')} with DynamicUser: files the workers create there outlive the dynamic uid, which systemd may reuse (systemd.exec(5) advises against it)`);
  }

  // WorkingDirectory must exist (status 200/CHDIR otherwise), inside RootDirectory if there is one.
  if (typeof props.WorkingDirectory === 'string' && ctx.checkFiles) {
    const w = props.WorkingDirectory;
    if (!w.startsWith('-') && w !== '~') {
      const full = f.rootDirectory && f.rootDirectory !== '/' ? `${f.rootDirectory}${w}` : w;
      if (!isDirectory(full)) {
        throw new OptionError(at('WorkingDirectory'), w, `${full} is not an existing directory; systemd would fail to start the workers; prefix '-' to tolerate it`, ex('WorkingDirectory'));
      }
    }
  }

  // What the workers must read.
  if (options.readablePaths && options.readablePaths.length > 0) {
    const paths = options.readablePaths.map((p) => (typeof p === 'string' ? { path: p, what: 'needed by the workers' } : p));
    const identity = f.dynamicUser ? ('dynamic' as const) : userEntry;
    const plan = planReadable({
      paths,
      protectHome: f.protectHome,
      identity,
      inaccessible: f.inaccessible,
      // A bind from the unit's own tree (scratch.ts) hides its destination as the tmpfs it binds does.
      tmpfs: [...f.tmpfs, ...unitTreeBinds(f).map(({ bind, tmpfs }) => ({ path: bind.destination, options: tmpfs?.options ?? '' }))],
      privateTmp: f.privateTmp === true || f.dynamicUser === true,
      bindDestinations: f.binds.filter((b) => unitTreeSource(b.source) === undefined).map((b) => b.destination),
      rootDirectory: f.rootDirectory,
      ...(options.stat ? { stat: options.stat } : {}),
    });
    const first = plan.problems[0];
    if (first) {
      const prop = first.property as PropertyName;
      throw new OptionError(at(prop), props[prop], first.problem, first.expected);
    }
    if (plan.protectHome) {
      const i = ctx.out.findIndex(([n]) => n === 'ProtectHome');
      ctx.out[i] = ['ProtectHome', 's', plan.protectHome];
    }
    if (plan.binds.length > 0) ctx.out.push(['BindReadOnlyPaths', 'a(ssbt)', plan.binds.map((p) => [p, p, false, MS_REC] as const)]);
  }
}

// ---------------------------------------------------------------------------------------------------
// The entry point.

/**
 * Validates `props` and turns them into StartTransientUnit properties. Throws OptionError on the first
 * problem. The order follows the table; within a property, systemd's order rules are kept (LimitX before
 * LimitXSoft, an allow-list SystemCallFilter before a deny-list one).
 */
export function compileProperties(props: UnitProperties, options: CompileOptions = {}): DBusProperty[] {
  return compileWithFacts(props, options).properties;
}

/** What compileWithFacts() learnt about the unit, for the pool. */
export interface CompiledFacts {
  /** CPUs the unit may use (CPUQuota rounded up, AllowedCPUs counted), if either is set. */
  cpus: number | undefined;
}

/** compileProperties(), plus facts the pool needs (the CPUs the unit may use). */
export function compileWithFacts(props: UnitProperties, options: CompileOptions = {}): { properties: DBusProperty[]; facts: CompiledFacts } {
  const base = options.path ?? 'properties';
  const input = (props ?? {}) as Record<string, unknown>;
  if (!isPlainObject(input)) throw new OptionError(base, props, 'not an object of systemd properties', `{ MemoryMax: '512M', CPUQuota: '50%' }`);
  const ctx: Ctx = {
    base,
    node: options.runsNode ?? true,
    checkFiles: options.checkFiles ?? true,
    hostCpus: options.hostCpus ?? Math.max(1, cpus().length),
    facts: { supplementary: [], memory: {}, inaccessible: [], tmpfs: [], binds: [], syscallFilters: [], limits: {} },
    out: [],
    warn: options.warn ?? ((message) => process.emitWarning(message, { type: 'UnitPoolWarning' })),
  };
  for (const [name, value] of Object.entries(input)) {
    checkName(base, name, value);
    if (value === null) throw new OptionError(`${base}.${name}`, value, 'null is not a value; leave the property out instead', expectedOf(TABLE[name]));
  }
  for (const name of PROPERTY_NAMES) {
    const value = input[name];
    if (value !== undefined) compileOne(ctx, name, value);
  }
  crossCheck(ctx, input, options);

  // Pass 3: environment, then raw.
  const env = { ...environmentFromPolicy(options.env, options.parentEnv ?? process.env), ...(ctx.facts.environment ?? {}) };
  if (Object.keys(env).length > 0) ctx.out.push(['Environment', 'as', environmentList(env)]);
  ctx.out.push(...checkRaw(options.raw));
  const f = ctx.facts;
  const fromQuota = f.cpuQuotaPermyriad === undefined ? undefined : Math.max(1, Math.ceil(f.cpuQuotaPermyriad / 10000));
  const limits = [fromQuota, f.allowedCpus].filter((x): x is number => x !== undefined);
  return { properties: ctx.out, facts: { cpus: limits.length > 0 ? Math.min(...limits) : undefined } };
}

/** Validates the raw escape hatch: [name, signature, value] with non-empty strings, not a pool-owned name. */
export function checkRaw(raw: unknown, path = 'raw'): DBusProperty[] {
  if (raw === undefined) return [];
  const expected = `[['Name', 'signature', value], ...], e.g. [['IOSchedulingClass', 'i', 3]]`;
  if (!Array.isArray(raw)) throw new OptionError(path, raw, 'not an array of [name, signature, value]', expected);
  return (raw as unknown[]).map((entry, i) => {
    if (!Array.isArray(entry) || entry.length !== 3) throw new OptionError(`${path}[${i}]`, entry, 'not a [name, signature, value] triple', expected);
    const [name, signature, value] = entry as [unknown, unknown, unknown];
    if (typeof name !== 'string' || name.length === 0) throw new OptionError(`${path}[${i}]`, entry, 'the name must be a non-empty string', expected);
    if (typeof signature !== 'string' || signature.length === 0) throw new OptionError(`${path}[${i}]`, entry, 'the signature must be a non-empty string', expected);
    if (value === undefined || value === null) throw new OptionError(`${path}[${i}]`, entry, 'the value is missing', expected);
    if (RESERVED.has(name)) throw new OptionError(`${path}[${i}]`, entry, `${name} is set by unitpool itself (the pool depends on it) and cannot be changed`, expected);
    return [name, signature, value] as const;
  });
}
