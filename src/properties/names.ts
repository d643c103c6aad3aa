// Property names and values as users write them, said back in messages: the closest name to a typo, case mistakes
// named as such, names unitpool reserves or cannot honour, and examples rendered as JS literals. It owns no state
// and knows nothing of how a value compiles (src/properties/kinds/).

import { OptionError } from '../errors.js';
import { suggest } from '../options/suggest.js';
import { HINTS, PROPERTY_NAMES, type PropertyName, type PropertySpec, RESERVED, TABLE } from './table.js';

/** A JS-literal rendering of an example value: '512M', { '/dev/sda': '20M' }, ['@system-service']. */
export function formatExample(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `[${value.map(formatExample).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const parts = Object.entries(value).map(
      ([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`}: ${formatExample(v)}`,
    );
    return `{ ${parts.join(', ')} }`;
  }
  return String(value);
}

/** What a property accepts, for the `expected` of its OptionErrors: its forms and its example. */
export function expectedOf(spec: PropertySpec): string {
  return `${spec.forms} (e.g. ${formatExample(spec.example)})`;
}

export { suggest } from '../options/suggest.js';

/** Refuses a name that is not in the table: reserved by unitpool, known not to work, a case mistake, or a typo. */
export function checkName(base: string, name: string, value: unknown): asserts name is PropertyName {
  if (Object.prototype.hasOwnProperty.call(TABLE, name)) return;
  const path = `${base}.${name}`;
  if (RESERVED.has(name)) {
    throw new OptionError(
      path,
      value,
      `${name} is set by unitpool itself (the pool depends on it) and cannot be changed`,
      'one of the supported properties (see the README table)',
    );
  }
  const hint = HINTS[name];
  if (hint !== undefined)
    throw new OptionError(
      path,
      value,
      `${name} is not supported: ${hint}`,
      'one of the supported properties (see the README table)',
    );
  const s = suggest(name, PROPERTY_NAMES);
  if (s !== undefined && s.toLowerCase() === name.toLowerCase()) {
    throw new OptionError(
      path,
      value,
      `unknown property ${name}: property names are case-sensitive, as in unit files; did you mean ${s}?`,
      `${s}: ${formatExample(TABLE[s as PropertyName].example)}`,
    );
  }
  throw new OptionError(
    path,
    value,
    `unknown property ${name}${s ? `; did you mean ${s}?` : ''}`,
    s
      ? `${s}: ${formatExample(TABLE[s as PropertyName].example)}`
      : `one of the supported properties (see the README table), or the raw option for others`,
  );
}
