// `-p Name=value` for `unitpool run`: a property in unit-file syntax (as systemd-run -p takes it) turned into
// the JS input form of the property table, so that it goes through the very same compiler and validation as
// the library's `properties` option (src/properties/compile.ts). This module only reshapes text: yes/no
// become booleans, whole numbers become numbers where the table wants numbers, space-separated lists become
// arrays. It never judges a value; whatever it cannot reshape is passed on as the string it is, and the
// table's own parsers refuse it with their usual OptionError.

import { TABLE, type PropertyName, type PropertySpec } from '../properties/index.js';
import { BOOL_WORDS } from '../properties/kinds/kind.js';

/** Kinds whose unit-file form is a space-separated list that repeated assignments extend. */
const LIST_KINDS: ReadonlySet<string> = new Set([
  'groups',
  'paths',
  'binds',
  'tmpfs',
  'dirNames',
  'environment',
  'ipAccess',
]);

export function isTableProperty(name: string): name is PropertyName {
  return Object.prototype.hasOwnProperty.call(TABLE, name);
}

/** Whether repeated `-p Name=...` extend the property (lists) rather than replace it. */
export function isListProperty(name: string): boolean {
  return isTableProperty(name) && LIST_KINDS.has((TABLE[name] as PropertySpec).kind);
}

/**
 * Splits a unit-file value into words as systemd does (extract_first_word with EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE,
 * simplified): whitespace separates, "double" and 'single' quotes group, a backslash escapes the next character.
 * Throws on an unterminated quote.
 */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      const next = text[++i]!;
      word += next === 'n' ? '\n' : next === 't' ? '\t' : next;
      inWord = true;
    } else if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new SyntaxError(`unterminated ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}

function wholeNumber(text: string): number | undefined {
  return /^[+-]?\d+$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : undefined;
}

/**
 * The JS input form of `value` (unit-file syntax) for the table property `name`, or null for an empty value
 * (which in a unit file resets the property; but an empty capability set means "none"). Names not in the
 * table come back unchanged: the compiler names them as unknown.
 */
export function fromUnitFile(name: string, value: string): unknown {
  if (!isTableProperty(name)) return value;
  const spec = TABLE[name] as PropertySpec;
  const text = value.trim();
  if (text === '' && spec.kind !== 'caps') return null;
  const bool = BOOL_WORDS[text.toLowerCase()];
  switch (spec.kind) {
    case 'bool':
      return bool ?? value;
    case 'enum':
      return spec.booleans && bool !== undefined ? bool : text;
    case 'namespaces': {
      if (bool !== undefined) return bool;
      const deny = text.startsWith('~');
      const words = splitWords(deny ? text.slice(1) : text);
      return deny ? { deny: words } : words;
    }
    case 'cpuQuota':
      // The table takes a number as CPUs (1.5 = 150%), as its "expected" text says: 1.5 is not a string here.
      return /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : text;
    case 'tasks':
    case 'int':
    case 'weight':
      return wholeNumber(text) ?? text;
    case 'groups':
    case 'paths':
    case 'binds':
    case 'tmpfs':
    case 'dirNames':
    case 'environment':
    case 'ipAccess':
      return splitWords(value);
    case 'caps':
      // An empty assignment means "no capabilities" in a unit file (CapabilityBoundingSet=).
      return text === '' ? [] : text;
    default:
      return text;
  }
}

/** Splits `Name=value`; throws a SyntaxError naming what is wrong. */
export function splitAssignment(arg: string): [name: string, value: string] {
  const eq = arg.indexOf('=');
  if (eq < 0) throw new SyntaxError(`${JSON.stringify(arg)} is not Name=value`);
  const name = arg.slice(0, eq).trim();
  if (name === '') throw new SyntaxError(`${JSON.stringify(arg)} has no property name before =`);
  return [name, arg.slice(eq + 1)];
}
