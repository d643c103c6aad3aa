// compileProperties(): the user's `properties` (unit-file names, human values) -> the (name, signature,
// value) triples StartTransientUnit takes, in the JS forms dbus-next 0.10 marshals for Variant(signature,
// value): t/u/i as numbers (BigInt above 2^53; infinity = 2^64-1n), b as booleans, as as string[],
// structs as arrays, ay as Buffer.
//
// Three passes: (1) compile each property alone, by the `kind` of its table row (src/properties/kinds/), into its
// normalized value and its D-Bus triples; (2) cross-check the values: identities that must exist, contradictions
// systemd would refuse cryptically, settings that would stop Node itself (MemoryDenyWriteExecute, too few tasks for
// the workers), and what the workers must still be able to read; (3) append the environment and the unchecked `raw`
// triples. Every refusal is an OptionError naming the option (`properties.MemoryMax`), the value, and what would be
// accepted with an example.
//
// This module owns the order of the passes and the result (CompiledProperties); what a kind accepts and what a
// cross-check demands belong to the kind files. Passes 2 and 3 read only the values of pass 1, so a result can be
// assembled again without some properties (CompiledProperties.without(), for the capability check) without
// compiling anything twice.

import { cpus } from 'node:os';
import { OptionError } from '../errors.js';
import { type EnvOption, environmentFromPolicy, environmentFromProperty, environmentList } from './env.js';
import {
  checkAmbientInBoundingSet,
  checkIdentities,
  compileApparmor,
  compileCaps,
  compileGroups,
  compileIdentity,
  compileSelinux,
} from './kinds/identity.js';
import {
  checkErrnoHasFilter,
  checkJit,
  compileArchs,
  compileErrno,
  compileFamilies,
  compileIpAccess,
  compileNamespaces,
  compileSyscalls,
} from './kinds/kernel.js';
import { type Compiled, type Ctx, type DBusProperty, isPlainObject, type KindCompiler } from './kinds/kind.js';
import { checkRoomForWorkers, compileRlimit } from './kinds/limits.js';
import {
  checkMounts,
  checkWorkingDirectory,
  compileBinds,
  compileDirNames,
  compilePaths,
  compileRootPath,
  compileTmpfs,
  compileWorkdir,
  keepReadable,
  warnDynamicUserBinds,
} from './kinds/mounts.js';
import {
  compileCpuQuota,
  compileCpuSet,
  compileDuration,
  compileIoBandwidth,
  compileMemory,
  compileTasks,
  compileWeight,
  unitCpus,
  warnMemoryHighNotBelowMax,
} from './kinds/resources.js';
import { compileBool, compileEnum, compileInt, compileMode } from './kinds/scalars.js';
import { checkName, expectedOf } from './names.js';
import type { ReadablePath, StatFn } from './readable.js';
import { type Kind, PROPERTY_NAMES, type PropertyName, RESERVED, TABLE, type UnitProperties } from './table.js';
import { type IdentityLookup, nssLookup } from './users.js';

export type { DBusProperty } from './kinds/kind.js';
export { NODE_SYSCALLS } from './kinds/kernel.js';

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

/** Every kind's compiler (the type checker refuses a Kind without one), in the order of table.ts's Kind. */
const COMPILERS = {
  bool: compileBool,
  enum: compileEnum,
  cpuQuota: compileCpuQuota,
  memory: compileMemory,
  tasks: compileTasks,
  weight: compileWeight,
  cpuSet: compileCpuSet,
  ioBandwidth: compileIoBandwidth,
  int: compileInt,
  rlimit: compileRlimit,
  duration: compileDuration,
  user: compileIdentity,
  group: compileIdentity,
  groups: compileGroups,
  mode: compileMode,
  paths: compilePaths,
  binds: compileBinds,
  tmpfs: compileTmpfs,
  path: compileRootPath,
  workdir: compileWorkdir,
  dirNames: compileDirNames,
  families: compileFamilies,
  syscalls: compileSyscalls,
  errno: compileErrno,
  archs: compileArchs,
  caps: compileCaps,
  namespaces: compileNamespaces,
  ipAccess: compileIpAccess,
  selinux: compileSelinux,
  apparmor: compileApparmor,
  // Emitted in pass 3, merged with the env policy.
  environment: (ctx, name, _spec, value): Compiled<Record<string, string>> => ({
    value: environmentFromProperty(value, `${ctx.base}.${name}`),
    dbus: [],
  }),
} satisfies Record<Kind, KindCompiler>;

type ValueOfKind<K extends Kind> = ReturnType<(typeof COMPILERS)[K]>['value'];

/** What each set property compiled to, in the normalized form of its kind (MemoryMax: { bytes }, User: 'nobody'). */
export type CompiledValues = { readonly [N in PropertyName]?: ValueOfKind<(typeof TABLE)[N]['kind']> };

/** Pass 1's result for one property. */
interface Part {
  readonly name: PropertyName;
  readonly compiled: Compiled<unknown>;
}

/**
 * One compile of a unit's properties (compileProperties() keeps only `properties`): the D-Bus properties, the
 * values they came from, and the same result assembled without some of them (best-effort properties the host
 * cannot enforce). The constructor compiles, throwing OptionError on the first problem.
 */
export class CompiledProperties {
  /** The StartTransientUnit properties: by the table's order, then the readable-path binds, Environment, raw. */
  readonly properties: DBusProperty[];
  /** What each set property compiled to. */
  readonly values: CompiledValues;
  /** The properties as given, for messages. */
  private readonly input: Readonly<Record<string, unknown>>;
  /** Pass 1, by the table's order. */
  private readonly parts: readonly Part[];
  /** Warnings given so far: assembling again does not repeat them. */
  private readonly warned = new Set<string>();
  private readonly ctx: Ctx;

  constructor(
    props: UnitProperties,
    private readonly options: CompileOptions = {},
  ) {
    const base = options.path ?? 'properties';
    const input = (props ?? {}) as Record<string, unknown>;
    if (!isPlainObject(input))
      throw new OptionError(
        base,
        props,
        'not an object of systemd properties',
        `{ MemoryMax: '512M', CPUQuota: '50%' }`,
      );
    this.input = input;
    const warn = options.warn ?? ((message) => process.emitWarning(message, { type: 'UnitPoolWarning' }));
    this.ctx = {
      base,
      node: options.runsNode ?? true,
      checkFiles: options.checkFiles ?? true,
      hostCpus: options.hostCpus ?? Math.max(1, cpus().length),
      warn: (message) => {
        if (this.warned.has(message)) return;
        this.warned.add(message);
        warn(message);
      },
    };
    for (const [name, value] of Object.entries(input)) {
      checkName(base, name, value);
      if (value === null)
        throw new OptionError(
          `${base}.${name}`,
          value,
          'null is not a value; leave the property out instead',
          expectedOf(TABLE[name]),
        );
    }
    this.parts = PROPERTY_NAMES.filter((name) => input[name] !== undefined).map((name) => {
      const spec = TABLE[name];
      return { name, compiled: (COMPILERS[spec.kind] as KindCompiler)(this.ctx, name, spec, input[name]) };
    });
    this.values = valuesOf(this.parts);
    this.properties = this.assemble(this.parts, input);
  }

  /** CPUs the unit may use (CPUQuota rounded up, AllowedCPUs counted), if either is set. */
  get cpus(): number | undefined {
    return unitCpus(this.values.CPUQuota, this.values.AllowedCPUs);
  }

  /**
   * The unit's properties as if `names` had not been set: the other properties' compiled values, cross-checked
   * and assembled again (a check may fail without them: a WorkingDirectory that only exists in the RootDirectory).
   */
  without(names: readonly PropertyName[]): DBusProperty[] {
    if (names.length === 0) return this.properties;
    const parts = this.parts.filter((p) => !names.includes(p.name));
    const input = Object.fromEntries(
      Object.entries(this.input).filter(([name]) => !names.includes(name as PropertyName)),
    );
    return this.assemble(parts, input);
  }

  /** Passes 2 and 3. */
  private assemble(parts: readonly Part[], input: Readonly<Record<string, unknown>>): DBusProperty[] {
    const out = parts.flatMap((p) => p.compiled.dbus);
    const v = valuesOf(parts);
    out.push(...crossCheck(this.ctx, v, input, this.options, out));
    const env = {
      ...environmentFromPolicy(this.options.env, this.options.parentEnv ?? process.env),
      ...(v.Environment ?? {}),
    };
    if (Object.keys(env).length > 0) out.push(['Environment', 'as', environmentList(env)]);
    out.push(...checkRaw(this.options.raw));
    return out;
  }
}

function valuesOf(parts: readonly Part[]): CompiledValues {
  return Object.fromEntries(parts.map((p) => [p.name, p.compiled.value])) as CompiledValues;
}

/**
 * Pass 2: the checks of properties together, in this order (the first problem is the one reported). Returns the
 * properties it adds; may change ProtectHome in `out` (yes becomes tmpfs to keep readable paths readable).
 */
function crossCheck(
  ctx: Ctx,
  v: CompiledValues,
  props: Readonly<Record<string, unknown>>,
  options: CompileOptions,
  out: DBusProperty[],
): DBusProperty[] {
  const userEntry = checkIdentities(
    ctx,
    { user: v.User, group: v.Group, supplementary: v.SupplementaryGroups ?? [], dynamicUser: v.DynamicUser },
    props,
    options.lookup ?? nssLookup,
  );
  warnMemoryHighNotBelowMax(ctx, v.MemoryMax, v.MemoryHigh);
  checkJit(ctx, v.MemoryDenyWriteExecute, options.jitless, props);
  checkAmbientInBoundingSet(ctx, v.AmbientCapabilities, v.CapabilityBoundingSet, props);
  const nonRoot = v.DynamicUser === true || (userEntry !== undefined && userEntry.uid !== 0);
  checkRoomForWorkers(
    ctx,
    { workers: options.maxWorkers, tasksMax: v.TasksMax, nofile: v.LimitNOFILE, nproc: v.LimitNPROC, nonRoot },
    props,
  );
  const mounts = {
    inaccessible: (v.InaccessiblePaths ?? []).map((e) => e.path),
    tmpfs: v.TemporaryFileSystem ?? [],
    binds: [...(v.BindPaths ?? []), ...(v.BindReadOnlyPaths ?? [])],
    rootDirectory: v.RootDirectory,
    protectHome: v.ProtectHome,
  };
  checkMounts(ctx, mounts, props);
  checkErrnoHasFilter(ctx, v.SystemCallErrorNumber, v.SystemCallFilter, props);
  warnDynamicUserBinds(ctx, v.DynamicUser, mounts.binds);
  checkWorkingDirectory(ctx, v.WorkingDirectory, v.RootDirectory, expectedOf(TABLE.WorkingDirectory));
  if (!options.readablePaths || options.readablePaths.length === 0) return [];
  const identity = v.DynamicUser ? ('dynamic' as const) : userEntry;
  const privateTmp = v.PrivateTmp === true || v.DynamicUser === true;
  const readable = keepReadable(
    ctx,
    mounts,
    { paths: options.readablePaths, identity, privateTmp, stat: options.stat },
    props,
  );
  if (readable.protectHome)
    out[out.findIndex(([n]) => n === 'ProtectHome')] = ['ProtectHome', 's', readable.protectHome];
  return readable.binds ? [readable.binds] : [];
}

/**
 * Validates `props` and turns them into StartTransientUnit properties. Throws OptionError on the first
 * problem. The order follows the table; within a property, systemd's order rules are kept (LimitX before
 * LimitXSoft, an allow-list SystemCallFilter before a deny-list one).
 */
export function compileProperties(props: UnitProperties, options: CompileOptions = {}): DBusProperty[] {
  return new CompiledProperties(props, options).properties;
}

/** Validates the raw escape hatch: [name, signature, value] with non-empty strings, not a pool-owned name. */
export function checkRaw(raw: unknown, path = 'raw'): DBusProperty[] {
  if (raw === undefined) return [];
  const expected = `[['Name', 'signature', value], ...], e.g. [['IOSchedulingClass', 'i', 3]]`;
  if (!Array.isArray(raw)) throw new OptionError(path, raw, 'not an array of [name, signature, value]', expected);
  return (raw as unknown[]).map((entry, i) => {
    if (!Array.isArray(entry) || entry.length !== 3)
      throw new OptionError(`${path}[${i}]`, entry, 'not a [name, signature, value] triple', expected);
    const [name, signature, value] = entry as [unknown, unknown, unknown];
    if (typeof name !== 'string' || name.length === 0)
      throw new OptionError(`${path}[${i}]`, entry, 'the name must be a non-empty string', expected);
    if (typeof signature !== 'string' || signature.length === 0)
      throw new OptionError(`${path}[${i}]`, entry, 'the signature must be a non-empty string', expected);
    if (value === undefined || value === null)
      throw new OptionError(`${path}[${i}]`, entry, 'the value is missing', expected);
    if (RESERVED.has(name))
      throw new OptionError(
        `${path}[${i}]`,
        entry,
        `${name} is set by unitpool itself (the pool depends on it) and cannot be changed`,
        expected,
      );
    return [name, signature, value] as const;
  });
}
