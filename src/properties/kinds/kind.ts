// The frame every kind compiler works in (the other files of src/properties/kinds/): what one compile knows (Ctx),
// what compiling one property gives back (Compiled: its normalized value and its D-Bus triples), and how a problem
// becomes an OptionError naming the property, the value and what would be accepted. A kind compiler sees one
// property at a time and records nothing: what the cross-checks and the pool need is read from the values after
// compiling (src/properties/compile.ts). It owns no state.

import { existsSync, statSync } from 'node:fs';
import { OptionError } from '../../errors.js';
import { expectedOf } from '../names.js';
import { Invalid } from '../parse.js';
import { type PropertyName, type PropertySpec, TABLE } from '../table.js';

/** One property for StartTransientUnit: D-Bus name, signature, and a value dbus-next can marshal. */
export type DBusProperty = readonly [name: string, signature: string, value: unknown];

/** What a compile knows besides the property at hand. */
export interface Ctx {
  /** The option path for messages: 'properties'. */
  readonly base: string;
  /** Node runs in the unit: its needs are checked (CompileOptions.runsNode). */
  readonly node: boolean;
  /** Paths are checked to exist on this host. */
  readonly checkFiles: boolean;
  readonly hostCpus: number;
  readonly warn: (message: string) => void;
}

/** One property compiled: its value in the normalized form the cross-checks read, and its D-Bus triples. */
export interface Compiled<V> {
  readonly value: V;
  readonly dbus: readonly DBusProperty[];
}

/** Compiles one property of its kind; throws OptionError (through fail()) for a bad value. */
export type KindCompiler<V = unknown> = (
  ctx: Ctx,
  name: PropertyName,
  spec: PropertySpec,
  value: unknown,
) => Compiled<V>;

/** The usual result: the value, and one triple under the property's first D-Bus name (with `dbusValue`). */
export function single<V>(spec: PropertySpec, value: V, dbusValue: unknown = value): Compiled<V> {
  const [name, signature] = spec.dbus[0]!;
  return { value, dbus: [[name, signature, dbusValue]] };
}

export function fail(ctx: Ctx, name: PropertyName, value: unknown, problem: string, sub = ''): never {
  throw new OptionError(`${ctx.base}.${name}${sub}`, value, problem, expectedOf(TABLE[name]));
}

/** Runs a primitive parser, turning its Invalid into an OptionError for this property. */
export function attempt<T>(ctx: Ctx, name: PropertyName, value: unknown, fn: () => T, sub = ''): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof Invalid) fail(ctx, name, value, err.problem, sub);
    throw err;
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

export function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [v];
}

export function fileExists(path: string): boolean {
  return existsSync(path);
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The words systemd reads as booleans, to say "write true" for 'yes'. */
export const BOOL_WORDS: Readonly<Record<string, boolean>> = {
  yes: true,
  no: false,
  true: true,
  false: false,
  on: true,
  off: false,
  '1': true,
  '0': false,
};

/** MS_REC: a recursive bind mount, in the flags of BindPaths' D-Bus form. */
export const MS_REC = 0x4000;
