// The checker of options objects: unitpool promises that a restriction is enforced or refused, never silently
// dropped, and from plain JavaScript a misspelt key (`{ maxWorker: 4 }`, `{ timout: 100 }`) or a value of the
// wrong type (`{ maxWorkers: '4' }`) would otherwise be ignored. A schema says, per key, the form of the value;
// checkOptions() refuses anything else with an OptionError that names the key, what was expected and what came,
// and for an unknown key the nearest known one ("did you mean maxWorkers?").
//
// This module owns the forms and the walk, and is pure (no I/O, no state). It checks shapes only: what a value
// means (a property's syntax, a preset's name, whether two options go together) is the business of the module
// that uses it, which gives the better message for it.

import { Writable } from 'node:stream';
import { describe, OptionError } from '../errors.js';
import { suggest } from './suggest.js';

/** The JavaScript type of a form's values, for the "(a number, not a string)" hint. */
type JsType = 'number' | 'string' | 'boolean' | 'function' | 'object' | 'array';

/** What a key accepts. Build forms with the functions below; a form is plain data with a test. */
export interface Form {
  /** What is accepted, in words after "must be": `a positive integer`, `'replace' or 'break'`. */
  readonly expected: string;
  /** Whether `value` (never undefined) is accepted. */
  readonly test: (value: unknown) => boolean;
  /** The one JavaScript type every accepted value has, if there is one. */
  readonly type?: JsType | undefined;
  /** For an options object inside the options: its own schema, checked in turn. */
  readonly schema?: Schema | undefined;
  /** The key must be there (and not undefined). */
  readonly required?: boolean | undefined;
}

/** Key -> form of an options object. Keys not in it are refused. */
export type Schema = Readonly<Record<string, Form>>;

/** A schema with exactly the keys of the options interface T (`satisfies SchemaOf<T>` keeps the two in step). */
export type SchemaOf<T> = { readonly [K in keyof Required<T>]: Form };

const form = (expected: string, type: JsType | undefined, test: (value: unknown) => boolean): Form => ({
  expected,
  type,
  test,
});
const isNumber = (v: unknown): v is number => typeof v === 'number';

export const positiveInteger: Form = form(
  'a positive integer',
  'number',
  (v) => Number.isInteger(v) && (v as number) >= 1,
);
export const wholeNumber: Form = form(
  'a whole number (0 or more)',
  'number',
  (v) => Number.isInteger(v) && (v as number) >= 0,
);
/** A duration in ms; 0 allowed. */
export const milliseconds: Form = form(
  'a number of milliseconds (0 or more)',
  'number',
  (v) => isNumber(v) && Number.isFinite(v) && v >= 0,
);
/** A duration in ms greater than 0. */
export const positiveMilliseconds: Form = form(
  'a positive number of milliseconds',
  'number',
  (v) => isNumber(v) && Number.isFinite(v) && v > 0,
);
export const boolean: Form = form('true or false', 'boolean', (v) => typeof v === 'boolean');
export const string: Form = form('a string', 'string', (v) => typeof v === 'string');
export const nonEmptyString: Form = form('a non-empty string', 'string', (v) => typeof v === 'string' && v.length > 0);
export const func: Form = form('a function', 'function', (v) => typeof v === 'function');
export const array: Form = form('an array', 'array', (v) => Array.isArray(v));
export const stringArray: Form = form(
  'an array of strings',
  'array',
  (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'),
);
/** Any object that is not an array (its keys are checked elsewhere). */
export const object: Form = form(
  'an object',
  'object',
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
);
export const abortSignal: Form = form('an AbortSignal', 'object', (v) => v instanceof AbortSignal);
/** A stream.Writable, or anything with write() and on() (as process.stdout, a socket). */
export const writable: Form = form(
  'a writable stream',
  'object',
  (v) => v instanceof Writable || (isObject(v) && typeof v.write === 'function' && typeof v.on === 'function'),
);
export const url: Form = form('a URL', 'object', (v) => v instanceof URL);

/** Exactly one of these values. */
export function oneOf(...values: readonly (string | number | boolean)[]): Form {
  const words = values.map((v) => shown(v));
  const expected =
    words.length <= 2 ? words.join(' or ') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
  const types = new Set(values.map((v) => typeof v));
  return form(expected, types.size === 1 ? (typeof values[0] as JsType) : undefined, (v) =>
    values.includes(v as string),
  );
}

/** Any of these forms (`expected` says it in words when the forms' own words read badly together). */
export function either(forms: readonly Form[], expected = forms.map((f) => f.expected).join(' or ')): Form {
  const types = new Set(forms.map((f) => f.type));
  const only = types.size === 1 ? forms[0]!.type : undefined;
  const nested = forms.find((f) => f.schema !== undefined);
  return { expected, type: only, test: (v) => forms.some((f) => f.test(v)), schema: nested?.schema };
}

/** An object with these keys, checked like the options around it. */
export function nested(schema: Schema, expected = `an object with ${Object.keys(schema).join(', ')}`): Form {
  return { ...object, expected, schema };
}

/** The same form, and the key must be given. */
export function required(f: Form): Form {
  return { ...f, required: true };
}

/**
 * Throws OptionError unless `value` is an options object that `schema` accepts. `where` is the call it was given
 * to, as users write it (`new UnitPool()`, `submit()`); `path` prefixes key names (for options inside options).
 * undefined is accepted (no options); every key whose value is undefined is as if absent.
 */
export function checkOptions(where: string, value: unknown, schema: Schema, path = ''): void {
  if (value === undefined && !path) return;
  const what = path || 'options';
  if (!object.test(value)) {
    throw refuse(
      where,
      what,
      value,
      `the ${path ? `${path} option` : 'options'} must be an object${hint(object, value)}, got ${shown(value)}`,
      object.expected,
    );
  }
  const record = value as Record<string, unknown>;
  const known = Object.keys(schema);
  for (const key of Object.keys(record)) {
    if (Object.prototype.hasOwnProperty.call(schema, key)) continue;
    const near = suggest(key, known);
    const name = path + key;
    const problem = near
      ? `unknown option ${shown(name)}; did you mean ${shown(path + near)}?`
      : `unknown option ${shown(name)}; the known ones are ${known.join(', ')}`;
    throw refuse(where, name, record[key], problem, near ? `${path}${near}` : `one of ${known.join(', ')}`);
  }
  for (const key of known) {
    const f = schema[key]!;
    const v = record[key];
    const name = path + key;
    if (v === undefined) {
      if (f.required) throw refuse(where, name, v, `${name} is required: ${f.expected}`, f.expected);
      continue;
    }
    if (!f.test(v))
      throw refuse(where, name, v, `${name} must be ${f.expected}${hint(f, v)}, got ${shown(v)}`, f.expected);
    if (f.schema && object.test(v)) checkOptions(where, v, f.schema, `${name}.`);
  }
}

/** checkOptions() for calls that answer with a promise: the OptionError to reject with, or undefined. */
export function refusalOf(where: string, value: unknown, schema: Schema): OptionError | undefined {
  try {
    checkOptions(where, value, schema);
    return undefined;
  } catch (err) {
    if (err instanceof OptionError) return err;
    throw err;
  }
}

function refuse(where: string, option: string, value: unknown, problem: string, expected: string): OptionError {
  return new OptionError(option, value, problem, expected, { message: `${where}: ${problem}` });
}

/** " (a number, not a string)" when the value's type is not the one the form takes. */
function hint(f: Form, value: unknown): string {
  if (f.type === undefined) return '';
  const got = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  if (got === f.type || f.expected.startsWith(article(f.type))) return ''; // "must be an array (an array, ..." says it twice
  return ` (${article(f.type)}, not ${got === 'null' ? 'null' : article(got)})`;
}

function article(word: string): string {
  return `${/^[aeiou]/.test(word) ? 'an' : 'a'} ${word}`;
}

/** A value as a user would write it: strings in single quotes, others as describe() does. */
function shown(value: unknown): string {
  if (typeof value !== 'string') return describe(value);
  const text = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return `'${JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
