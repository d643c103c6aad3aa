// The command line of `unitpool run`, and the pool flags any command that starts a confined unit can share:
// parsing them (parsePoolFlags), and turning them into the UnitOptions the library's compiler takes
// (unitOptionsFromFlags). Every pool flag is sugar for table properties (-m is MemoryMax, --ro a
// BindReadOnlyPaths entry, ...), applied in command-line order over the defaults and the presets, so `-p` can
// override a flag, a flag a preset, and a preset a default. This module parses and reshapes; judging values
// is the compiler's job (src/properties/compile.ts).

import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import {
  DEFAULT_ENV_NAMES,
  mergeProperties,
  presetProperties,
  type PropertyOverrides,
  suggest,
  type UnitOptions,
} from '../properties/index.js';
import { fromUnitFile, isListProperty, splitAssignment } from './unit-syntax.js';

/** One flag that sets a property, in command-line order. */
export interface Setting {
  /** The flag as the user wrote it, for messages: `-m 50M`, `-p MemoryMax=1K`, `--ro data`. */
  readonly flag: string;
  readonly name: string;
  /** A JS value for the table, or (from -p) a unit-file string to convert. */
  readonly value: unknown;
  readonly unitFile?: boolean;
  /** Add to a list property instead of replacing it. */
  readonly append?: boolean;
}

/** What the pool flags say: which manager, which presets and properties, which environment. */
export interface PoolFlags {
  bus: 'system' | 'user';
  presets: string[];
  settings: Setting[];
  /** --env NAME: copy these variables from the caller. */
  envNames: string[];
  /** --env NAME=VALUE: set these. */
  envValues: string[];
  captureEnv: boolean;
  /** playpen's --capture-path: pass the caller's PATH (on by default). */
  capturePath: boolean;
}

export interface RunArgs extends PoolFlags {
  help: boolean;
  version: boolean;
  quiet: boolean;
  command: string[];
}

/**
 * A flag: `switch` takes no value; `bool` takes an optional true|false|on|off|yes|no|1|0 (`--private-tmp`,
 * `--private-tmp=false`, `--private-tmp off`); `value` needs one (`-m 50M`, `-m50M`, `--memory=50M`).
 */
export interface FlagSpec<T> {
  readonly names: readonly string[];
  readonly kind: 'switch' | 'bool' | 'value';
  /** `shown` is the flag as written, with its value, for messages. */
  apply(target: T, value: string | boolean, shown: string, cwd: string): void;
}

const BOOL_WORDS: Readonly<Record<string, boolean>> = {
  true: true,
  false: false,
  on: true,
  off: false,
  yes: true,
  no: false,
  '1': true,
  '0': false,
};

function boolValue(flag: string, text: string): boolean {
  const b = BOOL_WORDS[text.toLowerCase()];
  if (b === undefined)
    throw new UsageError(
      `${flag}: ${JSON.stringify(text)} is not a boolean; write ${flag}=true or ${flag}=false (also on/off, yes/no)`,
    );
  return b;
}

const property =
  (name: string, convert: (v: string | boolean) => unknown = (v) => v) =>
  (o: PoolFlags, v: string | boolean, shown: string) =>
    o.settings.push({ flag: shown, name, value: convert(v) });

const pathList = (name: string) => (o: PoolFlags, v: string | boolean, shown: string, cwd: string) => {
  if (v === '') throw new UsageError(`${shown.split(' ')[0]} needs a path`);
  o.settings.push({ flag: shown, name, value: [resolve(cwd, String(v))], append: true });
};

/**
 * playpen's mode words for --protect-home and --protect-system: `none` is off, yes/true on; anything else
 * goes to the compiler as it is (read-only, tmpfs, full, strict), which names the accepted values.
 */
function mode(v: string | boolean): unknown {
  const text = String(v);
  return text === 'none' ? false : (BOOL_WORDS[text.toLowerCase()] ?? text);
}

/** The flags that configure the unit: shared by every command that starts one. */
export const POOL_FLAGS: readonly FlagSpec<PoolFlags>[] = [
  { names: ['--memory', '--memory-limit', '-m'], kind: 'value', apply: property('MemoryMax') },
  {
    names: ['--cpu', '--cpu-limit', '-c'],
    kind: 'value',
    apply: property('CPUQuota', (v) => fromUnitFile('CPUQuota', String(v))),
  },
  { names: ['--preset'], kind: 'value', apply: (o, v) => o.presets.push(String(v)) },
  {
    names: ['--current-dir-only'],
    kind: 'bool',
    apply: (o, v) => {
      o.presets = o.presets.filter((p) => p !== 'currentDirOnly');
      if (v === true) o.presets.push('currentDirOnly');
    },
  },
  { names: ['--ro'], kind: 'value', apply: pathList('BindReadOnlyPaths') },
  { names: ['--rw'], kind: 'value', apply: pathList('BindPaths') },
  { names: ['--inaccessible'], kind: 'value', apply: pathList('InaccessiblePaths') },
  { names: ['--no-network'], kind: 'switch', apply: property('PrivateNetwork', () => true) },
  { names: ['--private-tmp'], kind: 'bool', apply: property('PrivateTmp') },
  { names: ['--private-devices'], kind: 'bool', apply: property('PrivateDevices') },
  { names: ['--protect-kernel-tunables'], kind: 'bool', apply: property('ProtectKernelTunables') },
  { names: ['--protect-control-groups'], kind: 'bool', apply: property('ProtectControlGroups') },
  { names: ['--protect-home'], kind: 'value', apply: property('ProtectHome', mode) },
  { names: ['--protect-system'], kind: 'value', apply: property('ProtectSystem', mode) },
  {
    names: ['--env'],
    kind: 'value',
    apply: (o, v) => {
      const s = String(v);
      if (s.includes('=')) o.envValues.push(s);
      else o.envNames.push(s);
    },
  },
  { names: ['--capture-env'], kind: 'bool', apply: (o, v) => (o.captureEnv = v === true) },
  { names: ['--capture-path'], kind: 'bool', apply: (o, v) => (o.capturePath = v === true) },
  {
    names: ['--property', '-p'],
    kind: 'value',
    apply: (o, v, shown) => {
      let name: string;
      let text: string;
      try {
        [name, text] = splitAssignment(String(v));
      } catch (e) {
        throw new UsageError(
          `${shown.split(' ')[0]}: ${(e as Error).message}: write Name=value, e.g. -p MemoryMax=512M`,
        );
      }
      o.settings.push({ flag: shown, name, value: text, unitFile: true });
    },
  },
  { names: ['--user'], kind: 'switch', apply: (o) => (o.bus = 'user') },
  { names: ['--system'], kind: 'switch', apply: (o) => (o.bus = 'system') },
];

export function emptyPoolFlags(): PoolFlags {
  return {
    bus: 'system',
    presets: [],
    settings: [],
    envNames: [],
    envValues: [],
    captureEnv: false,
    capturePath: true,
  };
}

/**
 * Parses flags up to `--` or the first argument that is not one, into `target`, with `specs` (POOL_FLAGS
 * plus a command's own); returns the index of the first argument after them. An unknown flag is a
 * UsageError with the nearest known one.
 */
export function parseFlags<T>(argv: readonly string[], specs: readonly FlagSpec<T>[], target: T, cwd: string): number {
  const byName = new Map<string, FlagSpec<T>>();
  for (const s of specs) for (const n of s.names) byName.set(n, s);
  const longs = [...byName.keys()].filter((n) => n.startsWith('--'));
  let i = 0;
  for (; i < argv.length; i++) {
    let a = argv[i]!;
    if (a === '--') return i + 1;
    if (!a.startsWith('-') || a === '-') return i;

    // -qm50M: leading switches of a cluster, then one flag (with its value attached, if it takes one).
    while (!a.startsWith('--') && a.length > 2 && byName.get(a.slice(0, 2))?.kind === 'switch') {
      byName.get(a.slice(0, 2))!.apply(target, true, a.slice(0, 2), cwd);
      a = `-${a.slice(2)}`;
    }
    let flag = a;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) [flag, inline] = [a.slice(0, eq), a.slice(eq + 1)];
    } else if (a.length > 2) [flag, inline] = [a.slice(0, 2), a.slice(2)];

    const spec = byName.get(flag);
    if (!spec) {
      const near = flag.startsWith('--')
        ? suggest(
            flag.slice(2),
            longs.map((l) => l.slice(2)),
          )
        : undefined;
      throw new UsageError(`unknown option ${flag}${near ? `; did you mean --${near}?` : ''}`);
    }
    switch (spec.kind) {
      case 'switch':
        if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
        spec.apply(target, true, flag, cwd);
        break;
      case 'bool': {
        let v = true;
        if (inline !== undefined) v = boolValue(flag, inline);
        // `--capture-env on -- cmd`: the next word is the value if it is a boolean word and a command follows.
        else if (
          argv[i + 1] !== undefined &&
          BOOL_WORDS[argv[i + 1]!.toLowerCase()] !== undefined &&
          i + 2 < argv.length
        )
          v = boolValue(flag, argv[++i]!);
        spec.apply(target, v, `${flag}=${v}`, cwd);
        break;
      }
      case 'value': {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new UsageError(`${flag} needs a value`);
        spec.apply(target, value, `${flag} ${value}`, cwd);
        break;
      }
    }
  }
  return i;
}

/**
 * The pool flags at the start of argv, and a command's own flags among them; `rest` is what follows (the
 * command to run, for `unitpool run`). Throws UsageError.
 */
export function parsePoolFlags<T extends object>(
  argv: readonly string[],
  cwd: string = process.cwd(),
  own: { specs: readonly FlagSpec<T>[]; target: T } = { specs: [], target: {} as T },
): { flags: PoolFlags; own: T; rest: string[] } {
  const flags = emptyPoolFlags();
  const both = { pool: flags, own: own.target };
  const specs: FlagSpec<typeof both>[] = [
    ...POOL_FLAGS.map((s) => ({
      ...s,
      apply: (t: typeof both, v: string | boolean, shown: string, c: string) => s.apply(t.pool, v, shown, c),
    })),
    ...own.specs.map((s) => ({
      ...s,
      apply: (t: typeof both, v: string | boolean, shown: string, c: string) => s.apply(t.own, v, shown, c),
    })),
  ];
  const end = parseFlags(argv, specs, both, cwd);
  return { flags, own: own.target, rest: argv.slice(end) };
}

type RunOwn = Pick<RunArgs, 'help' | 'version' | 'quiet'>;
const RUN_FLAGS: readonly FlagSpec<RunOwn>[] = [
  { names: ['--quiet', '-q'], kind: 'switch', apply: (o) => (o.quiet = true) },
  { names: ['--help', '-h'], kind: 'switch', apply: (o) => (o.help = true) },
  { names: ['--version', '-V'], kind: 'switch', apply: (o) => (o.version = true) },
];

export function parseRunArgs(argv: readonly string[], cwd = process.cwd()): RunArgs {
  const { flags, own, rest } = parsePoolFlags(argv, cwd, {
    specs: RUN_FLAGS,
    target: { help: false, version: false, quiet: false },
  });
  if (!own.help && !own.version && rest.length === 0) throw new UsageError('no command given');
  return { ...flags, ...own, command: rest };
}

/**
 * playpen's safer defaults, under everything else: a private /tmp and /dev, kernel tunables and control
 * groups read-only. Each is turned off by its flag (--private-tmp=false) or by -p.
 */
export const SAFE_DEFAULTS: Readonly<Record<string, { value: unknown; flag: string }>> = {
  PrivateTmp: { value: true, flag: '--private-tmp' },
  PrivateDevices: { value: true, flag: '--private-devices' },
  ProtectKernelTunables: { value: true, flag: '--protect-kernel-tunables' },
  ProtectControlGroups: { value: true, flag: '--protect-control-groups' },
};

/**
 * Where each property came from, for error messages: the last flag that set it, and for a list property
 * the flag of each item (`properties.BindPaths[1]` names the second --rw).
 */
export interface Origins {
  readonly flags: Map<string, string>;
  readonly items: Map<string, string[]>;
}

/** The flag behind an OptionError's option path ("properties.BindPaths[1]"), if it came from one. */
export function originOf(option: string, origins: Origins): string | undefined {
  const m = /^properties\.([A-Za-z]+)(?:\[(\d+)\])?/.exec(option);
  if (!m) return undefined;
  const item = m[2] !== undefined ? origins.items.get(m[1]!)?.[Number(m[2])] : undefined;
  return item ?? origins.flags.get(m[1]!);
}

function asList(value: unknown): unknown[] {
  if (Array.isArray(value)) return value as unknown[];
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    // Environment as a record, or a single bind/tmpfs entry object.
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.every(([, v]) => typeof v === 'string') && !('source' in value) && !('path' in value))
      return entries.map(([k, v]) => `${k}=${String(v)}`);
    return [value];
  }
  return value === undefined || value === null ? [] : [value];
}

/**
 * The defaults, the presets, then every setting in order, as one `properties` object for
 * compileUnitOptions(): a later setting replaces an earlier one, list properties (paths, binds,
 * Environment...) are extended, and an empty `-p Name=` removes the property (or empties the list), as in a
 * unit file.
 */
export function buildProperties(
  args: Pick<PoolFlags, 'presets' | 'settings' | 'envValues'>,
  cwd: string,
  defaults: Readonly<Record<string, { value: unknown; flag: string }>> = {},
): { properties: PropertyOverrides; origins: Origins } {
  const origins: Origins = { flags: new Map(), items: new Map() };
  const props: Record<string, unknown> = {};
  for (const [name, d] of Object.entries(defaults)) {
    props[name] = d.value;
    origins.flags.set(name, `the default ${d.flag} (turn it off with ${d.flag}=false)`);
  }
  const base = presetProperties(
    args.presets.length === 1 ? args.presets[0] : args.presets.length > 1 ? args.presets : undefined,
    { cwd },
  );
  for (const name of Object.keys(base)) origins.flags.set(name, args.presets.map((p) => `--preset ${p}`).join(' '));
  Object.assign(props, base);
  const settings: Setting[] = [
    ...args.settings,
    ...args.envValues.map((v) => ({ flag: `--env ${v}`, name: 'Environment', value: [v], append: true })),
  ];
  for (const s of settings) {
    origins.flags.set(s.name, s.flag);
    let value = s.value;
    let append = s.append === true;
    if (s.unitFile) {
      append = isListProperty(s.name);
      try {
        value = fromUnitFile(s.name, String(value));
      } catch (e) {
        throw new UsageError(`${s.flag}: ${(e as Error).message}`);
      }
      if (value === null) {
        props[s.name] = null;
        origins.items.delete(s.name);
        continue;
      }
    }
    if (append) {
      const before = asList(props[s.name]);
      const added = asList(value);
      const earlier = origins.items.get(s.name) ?? before.map(() => origins.flags.get(s.name) ?? s.flag);
      props[s.name] = [...before, ...added];
      origins.items.set(s.name, [...earlier.slice(0, before.length), ...added.map(() => s.flag)]);
    } else {
      props[s.name] = value;
      origins.items.delete(s.name);
    }
  }
  return { properties: mergeProperties(props as PropertyOverrides) as PropertyOverrides, origins };
}

/**
 * The pool flags as the library's UnitOptions (for compileUnitOptions() or `new UnitPool(...)`), with where
 * each property came from. The unit runs in `cwd` unless a flag says otherwise. With the system manager,
 * SAFE_DEFAULTS lie under everything (a user manager cannot set up their namespaces, so there they are off).
 * Throws UsageError (a -p value that is not unit-file syntax) or OptionError (a preset).
 */
export function unitOptionsFromFlags(
  flags: PoolFlags,
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): { unitOptions: UnitOptions; origins: Origins } {
  const envValues = [...flags.envValues];
  let policy: UnitOptions['env'];
  if (flags.captureEnv) {
    policy = 'inherit';
    // --env NAME still copies what 'inherit' leaves out (NODE_OPTIONS...).
    for (const n of flags.envNames) if (env[n] !== undefined) envValues.unshift(`${n}=${env[n]}`);
  } else if (!flags.capturePath) {
    // The default policy without PATH (systemd's own then): the locale and TZ, and what --env names.
    policy = 'none';
    const names = [...DEFAULT_ENV_NAMES.filter((n) => n !== 'PATH'), ...flags.envNames];
    envValues.unshift(...names.filter((n) => env[n] !== undefined).map((n) => `${n}=${env[n]}`));
  } else if (flags.envNames.length > 0) policy = flags.envNames;
  const built = buildProperties({ ...flags, envValues }, cwd, flags.bus === 'system' ? SAFE_DEFAULTS : {});
  const properties = { ...built.properties } as Record<string, unknown>;
  if (properties.WorkingDirectory === undefined) properties.WorkingDirectory = cwd;
  return {
    unitOptions: {
      properties: properties as UnitOptions['properties'],
      ...(policy !== undefined ? { env: policy } : {}),
    },
    origins: built.origins,
  };
}
