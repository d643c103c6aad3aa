// A pool's unit options (preset, properties, scratchSize, env, raw, bestEffort) compiled at once, synchronously,
// for the pool and `unitpool run`: presets merged under the properties, every property compiled and cross-checked
// (compile.ts), and what the capability check at start needs from that one compile (what was requested, what may be
// lost, and the properties without the lost ones). Also the paths every worker must read: unitpool's own package.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OptionError } from '../errors.js';
import { type CompileOptions, CompiledProperties, type DBusProperty, type RawProperty } from './compile.js';
import type { EnvOption } from './env.js';
import { suggest } from './names.js';
import { mergeProperties, type PresetContext, type PresetName, presetProperties } from './presets.js';
import type { ReadablePath } from './readable.js';
import { PROPERTY_NAMES, type PropertyName, TABLE, type UnitProperties } from './table.js';

/** The unit-related options of a pool (UnitPoolOptions extends this). */
export interface UnitOptions {
  /** systemd properties of the unit, by their unit-file names: { CPUQuota: '50%', MemoryMax: '512M', ... }. */
  properties?: UnitProperties;
  /** Start from a preset (or several, applied in order); `properties` wins over it, null removes a property. */
  preset?: PresetName | readonly PresetName[];
  /**
   * With preset 'untrusted': the size cap of the workers' scratch space, one private tmpfs seen at /tmp, /var/tmp
   * and /dev/shm (bytes, or '64M', '1G', '10%' of RAM; default '256M'). Its pages also count toward MemoryMax.
   */
  scratchSize?: number | string;
  /**
   * What the workers get from this process's environment: by default PATH, the locale and TZ; an array
   * adds named variables; a record adds exactly those; 'inherit' copies nearly all; 'none' copies nothing.
   * properties.Environment is set over it.
   */
  env?: EnvOption;
  /**
   * Escape hatch for properties not in the table: [name, D-Bus signature, value] passed to systemd
   * UNCHECKED (only the name and signature are checked to be non-empty strings, and names unitpool sets
   * itself are refused). Example: raw: [['IOSchedulingClass', 'i', 3]].
   */
  raw?: readonly RawProperty[];
  /**
   * Properties to apply even if this host cannot enforce them (the pool then runs without them, and
   * says so). Without it, a property the host cannot enforce is an error at start.
   */
  bestEffort?: readonly PropertyName[];
}

/** What compileUnitOptions() returns to the pool. */
export interface CompiledUnitOptions {
  /** StartTransientUnit properties from the user (the pool adds its own: Type, ExecStart, ...). */
  properties: DBusProperty[];
  /** CPUs the unit may use according to CPUQuota / AllowedCPUs, when either is set. */
  cpus: number | undefined;
  /** The properties requested after merging presets, for the capability check. */
  requested: UnitProperties;
  /** Properties the user accepts to lose when the host cannot enforce them. */
  bestEffort: PropertyName[];
  /**
   * The unit's properties as if `names` had not been asked for (the best-effort ones the host cannot enforce),
   * from this same compile: cross-checked again without them, not compiled again.
   */
  without(names: readonly PropertyName[]): DBusProperty[];
}

let packageRootCache: string | undefined;

/** unitpool's package directory (where package.json says "name": "unitpool"), found from this module. */
export function packageRoot(): string {
  if (packageRootCache !== undefined) return packageRootCache;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'unitpool')
          return (packageRootCache = dir);
      } catch {
        /* keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return (packageRootCache = dirname(dirname(fileURLToPath(import.meta.url))));
    dir = up;
  }
}

/** The paths every worker must read: the node binary and unitpool's package directory. */
export function defaultReadablePaths(): ReadablePath[] {
  return [
    { path: process.execPath, what: 'the node binary' },
    { path: packageRoot(), what: "unitpool's package directory" },
  ];
}

/**
 * Validates and compiles a pool's unit options (preset, properties, env, raw, bestEffort) synchronously;
 * throws OptionError naming the option. `extra` overrides compile options (tests, other callers).
 */
export function compileUnitOptions(
  options: UnitOptions & { maxWorkers?: number | undefined; jitless?: boolean | undefined },
  extra: CompileOptions & { presetContext?: PresetContext } = {},
): CompiledUnitOptions {
  const { presetContext, ...compileExtra } = extra;
  const scratch = checkScratchSize(options);
  const requested = mergeProperties(
    presetProperties(options.preset, { ...presetContext, ...scratch }),
    options.properties ?? {},
  );
  const compiled = new CompiledProperties(requested, {
    env: options.env,
    ...(options.raw !== undefined ? { raw: options.raw } : {}),
    readablePaths: defaultReadablePaths(),
    ...(typeof options.maxWorkers === 'number' ? { maxWorkers: options.maxWorkers } : {}),
    ...(options.jitless ? { jitless: true } : {}),
    ...compileExtra,
  });
  const bestEffort = checkBestEffort(options.bestEffort, requested);
  return {
    properties: compiled.properties,
    cpus: compiled.cpus,
    requested,
    bestEffort,
    without: (names) => compiled.without(names),
  };
}

/** scratchSize sizes the untrusted preset's scratch space: without that preset it would do nothing, so it is an error. */
function checkScratchSize(options: UnitOptions): Pick<PresetContext, 'scratchSize'> {
  if (options.scratchSize === undefined) return {};
  const names = options.preset === undefined ? [] : Array.isArray(options.preset) ? options.preset : [options.preset];
  if (!names.includes('untrusted')) {
    throw new OptionError(
      'scratchSize',
      options.scratchSize,
      `only preset 'untrusted' has a scratch space to size`,
      `preset: 'untrusted', or your own TemporaryFileSystem: '/tmp:size=...' without DynamicUser`,
    );
  }
  return { scratchSize: options.scratchSize };
}

function checkBestEffort(value: unknown, requested: UnitProperties, path = 'bestEffort'): PropertyName[] {
  if (value === undefined) return [];
  const expected = `an array of property names that are set, e.g. ['MemoryMax']`;
  if (!Array.isArray(value)) throw new OptionError(path, value, 'not an array of property names', expected);
  return (value as unknown[]).map((n, i) => {
    if (typeof n !== 'string' || !Object.prototype.hasOwnProperty.call(TABLE, n)) {
      const s = typeof n === 'string' ? suggest(n, PROPERTY_NAMES) : undefined;
      throw new OptionError(`${path}[${i}]`, n, `unknown property${s ? `; did you mean ${s}?` : ''}`, expected);
    }
    if ((requested as Record<string, unknown>)[n] === undefined) {
      throw new OptionError(`${path}[${i}]`, n, `${n} is not set in properties (or the preset)`, expected);
    }
    return n as PropertyName;
  });
}
