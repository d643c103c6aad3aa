// The command line of `unitpool run`: parsing it, and turning its flags into the `properties` the library's
// compiler takes. Every flag is sugar for table properties (-m is MemoryMax, --ro a BindReadOnlyPaths entry,
// ...), applied in command-line order over the presets, so `-p` can override a flag and a flag a preset.

import { resolve } from 'node:path';
import { mergeProperties, presetProperties, type PropertyOverrides } from '../properties/index.js';
import { fromUnitFile, isListProperty, splitAssignment } from './unit-syntax.js';

export class UsageError extends Error {}

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

export interface RunArgs {
  help: boolean;
  quiet: boolean;
  bus: 'system' | 'user';
  presets: string[];
  settings: Setting[];
  /** --env NAME: copy these variables from the caller. */
  envNames: string[];
  /** --env NAME=VALUE: set these. */
  envValues: string[];
  captureEnv: boolean;
  command: string[];
}

/** Options that take a value: long name -> short alias. */
const VALUED = new Map<string, string | undefined>([
  ['--memory', '-m'],
  ['--cpu', '-c'],
  ['--preset', undefined],
  ['--ro', undefined],
  ['--rw', undefined],
  ['--inaccessible', undefined],
  ['--env', undefined],
  ['--property', '-p'],
]);
const SHORT = new Map([...VALUED].filter(([, s]) => s !== undefined).map(([l, s]) => [s!, l]));

export function parseRunArgs(argv: readonly string[], cwd = process.cwd()): RunArgs {
  const o: RunArgs = { help: false, quiet: false, bus: 'system', presets: [], settings: [], envNames: [], envValues: [], captureEnv: false, command: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;

    // Split --long=value and -xVALUE; find the long name.
    let flag = a;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) {
        flag = a.slice(0, eq);
        inline = a.slice(eq + 1);
      }
    } else if (a.length > 2 && SHORT.has(a.slice(0, 2))) {
      flag = a.slice(0, 2);
      inline = a.slice(2);
    }
    const long = SHORT.get(flag) ?? flag;

    if (VALUED.has(long)) {
      let value = inline;
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) throw new UsageError(`${flag} needs a value`);
      }
      const shown = `${flag} ${value}`;
      switch (long) {
        case '--memory':
          o.settings.push({ flag: shown, name: 'MemoryMax', value });
          break;
        case '--cpu':
          o.settings.push({ flag: shown, name: 'CPUQuota', value });
          break;
        case '--preset':
          o.presets.push(value);
          break;
        case '--ro':
          o.settings.push({ flag: shown, name: 'BindReadOnlyPaths', value: [pathArg(flag, value, cwd)], append: true });
          break;
        case '--rw':
          o.settings.push({ flag: shown, name: 'BindPaths', value: [pathArg(flag, value, cwd)], append: true });
          break;
        case '--inaccessible':
          o.settings.push({ flag: shown, name: 'InaccessiblePaths', value: [pathArg(flag, value, cwd)], append: true });
          break;
        case '--env':
          if (value.includes('=')) o.envValues.push(value);
          else o.envNames.push(value);
          break;
        case '--property': {
          let name: string;
          let text: string;
          try {
            [name, text] = splitAssignment(value);
          } catch (e) {
            throw new UsageError(`${flag}: ${(e as Error).message}: write Name=value, e.g. -p MemoryMax=512M`);
          }
          o.settings.push({ flag: `${flag} ${value}`, name, value: text, unitFile: true });
          break;
        }
      }
      continue;
    }
    if (inline !== undefined) throw new UsageError(`${flag} takes no value`);
    switch (long) {
      case '--help':
      case '-h':
        o.help = true;
        break;
      case '--quiet':
      case '-q':
        o.quiet = true;
        break;
      case '--user':
        o.bus = 'user';
        break;
      case '--system':
        o.bus = 'system';
        break;
      case '--no-network':
        o.settings.push({ flag, name: 'PrivateNetwork', value: true });
        break;
      case '--capture-env':
        o.captureEnv = true;
        break;
      default:
        throw new UsageError(`unknown option ${a}`);
    }
  }
  o.command = argv.slice(i);
  if (!o.help && o.command.length === 0) throw new UsageError('no command given');
  return o;
}

/** A path flag's value: relative paths are taken from the working directory, as the shell user means them. */
function pathArg(flag: string, value: string, cwd: string): string {
  if (value === '') throw new UsageError(`${flag} needs a path`);
  return resolve(cwd, value);
}

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
    if (entries.every(([, v]) => typeof v === 'string') && !('source' in value) && !('path' in value)) return entries.map(([k, v]) => `${k}=${String(v)}`);
    return [value];
  }
  return value === undefined || value === null ? [] : [value];
}

/**
 * The presets, then every setting in order, as one `properties` object for compileUnitOptions(): a later
 * setting replaces an earlier one, list properties (paths, binds, Environment...) are extended, and an
 * empty `-p Name=` removes the property (or empties the list), as in a unit file.
 */
export function buildProperties(args: Pick<RunArgs, 'presets' | 'settings' | 'envValues'>, cwd: string): { properties: PropertyOverrides; origins: Origins } {
  const origins: Origins = { flags: new Map(), items: new Map() };
  const base = presetProperties(args.presets.length === 1 ? args.presets[0] : args.presets.length > 1 ? args.presets : undefined, { cwd });
  for (const name of Object.keys(base)) origins.flags.set(name, args.presets.map((p) => `--preset ${p}`).join(' '));
  const props: Record<string, unknown> = { ...base };
  const settings: Setting[] = [...args.settings, ...args.envValues.map((v) => ({ flag: `--env ${v}`, name: 'Environment', value: [v], append: true }))];
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
