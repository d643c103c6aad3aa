// The kinds whose whole meaning is in their table row: booleans (the sandboxing switches: PrivateTmp,
// NoNewPrivileges, ...), enums (ProtectSystem, ProtectHome, OOMPolicy, ...; `values`, and `booleans` for yes/no),
// bounded integers (Nice, OOMScoreAdjust; `min`, `max`) and octal modes (UMask). Each compiles to its one D-Bus
// triple; the value is what the cross-checks read (DynamicUser, ProtectHome, ...).

import { suggest } from '../names.js';
import { parseMode } from '../parse.js';
import type { PropertyName, PropertySpec } from '../table.js';
import { attempt, BOOL_WORDS, type Compiled, type Ctx, fail, single } from './kind.js';

export function compileBool(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<boolean> {
  if (typeof value !== 'boolean') {
    const word =
      typeof value === 'string'
        ? BOOL_WORDS[value.toLowerCase()]
        : typeof value === 'number'
          ? BOOL_WORDS[String(value)]
          : undefined;
    fail(
      ctx,
      name,
      value,
      word === undefined ? 'not a boolean' : `write ${word} (a boolean), not ${JSON.stringify(value)}`,
    );
  }
  return single(spec, value);
}

export function compileEnum(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<string> {
  const values = spec.values ?? [];
  let out: string | undefined;
  if (typeof value === 'boolean' && spec.booleans) out = value ? 'yes' : 'no';
  else if (typeof value === 'string' && values.includes(value)) out = value;
  if (out === undefined) {
    if (typeof value === 'string') {
      const lower = value.toLowerCase();
      const word = BOOL_WORDS[lower];
      if (spec.booleans && word !== undefined)
        fail(ctx, name, value, `write ${word} (a boolean), not ${JSON.stringify(value)}`);
      const s = suggest(value, values);
      if (s !== undefined) fail(ctx, name, value, `unknown value; did you mean '${s}'?`);
    }
    fail(ctx, name, value, typeof value === 'string' ? 'unknown value' : 'not one of the accepted values');
  }
  return single(spec, out);
}

export function compileInt(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<number> {
  const min = spec.min ?? -Infinity;
  const max = spec.max ?? Infinity;
  if (typeof value !== 'number' || !Number.isInteger(value)) fail(ctx, name, value, 'not a whole number');
  if (value < min || value > max) fail(ctx, name, value, `out of range ${min} to ${max}`);
  return single(spec, value);
}

export function compileMode(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<number> {
  return single(
    spec,
    attempt(ctx, name, value, () => parseMode(value)),
  );
}
