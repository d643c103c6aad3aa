// Property names and values as users write them, said back in messages: the closest name to a typo, case mistakes
// named as such, names unitpool reserves or cannot honour, and examples rendered as JS literals. It owns no state
// and knows nothing of how a value compiles (src/properties/kinds/).

import { OptionError } from '../errors.js';
import { HINTS, PROPERTY_NAMES, type PropertyName, type PropertySpec, RESERVED, TABLE } from './table.js';

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

/** What a property accepts, for the `expected` of its OptionErrors: its forms and its example. */
export function expectedOf(spec: PropertySpec): string {
  return `${spec.forms} (e.g. ${formatExample(spec.example)})`;
}

function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest of `candidates` to `word`, if close enough to be a plausible typo. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const exactCase = candidates.find((c) => c.toLowerCase() === lower);
  if (exactCase) return exactCase;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = distance(lower, c.toLowerCase());
    if (dd < bestD) {
      bestD = dd;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}

/** Refuses a name that is not in the table: reserved by unitpool, known not to work, a case mistake, or a typo. */
export function checkName(base: string, name: string, value: unknown): asserts name is PropertyName {
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
