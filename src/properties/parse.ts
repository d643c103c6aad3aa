// Primitive parsers for the human forms of systemd values: sizes, percentages, durations, CPU sets,
// IP prefixes, octal modes. They follow systemd 252's own parsers (parse_size(), parse_permyriad(),
// parse_time(), parse_cpu_set(), in_addr_prefix_from_string_auto()) so that a value means here what it
// means in a unit file. They throw `Invalid` with a short problem text; the kind compilers (kinds/) turn
// that into an OptionError naming the property, the value and an example of a good one.

import { isIPv6 } from 'node:net';

/** A value did not parse; `problem` says why in a few words (no property name, no value). */
export class Invalid extends Error {
  constructor(readonly problem: string) {
    super(problem);
  }
}

/** 2^64 - 1: systemd's "infinity" for every `t` limit (CGROUP_LIMIT_MAX, USEC_INFINITY, RLIM_INFINITY). */
export const UINT64_MAX = 18446744073709551615n;
/** 2^32 - 1: the denominator of systemd's `...Scale` properties (MemoryMaxScale, TasksMaxScale). */
export const UINT32_MAX = 4294967295;

/** A uint64 for dbus-next: a number when it is exact, else a BigInt. */
export function u64(v: bigint): number | bigint {
  if (v < 0n || v > UINT64_MAX) throw new Invalid('out of the 64-bit range');
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

// ---------------------------------------------------------------------------------------------------
// Sizes: systemd's parse_size(). K, M, G, T, P, E (base 1024 for memory and rlimits, base 1000 for IO
// bandwidth), B or nothing for bytes; "1.5G" and sums with falling suffixes ("1G 512M") are accepted.

const SIZE_SUFFIXES = ['E', 'P', 'T', 'G', 'M', 'K', 'B', ''] as const;

function sizeFactor(suffix: string, base: 1000 | 1024): bigint {
  const power = { E: 6, P: 5, T: 4, G: 3, M: 2, K: 1, B: 0, '': 0 }[suffix];
  if (power === undefined) throw new Error(`unknown suffix ${suffix}`);
  return BigInt(base) ** BigInt(power);
}

/** Parse a byte count: a whole number (or BigInt) of bytes, or a string like '512M', '1.5G', '1K'. */
export function parseSize(value: unknown, base: 1000 | 1024): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n) throw new Invalid('a size cannot be negative');
    if (value >= UINT64_MAX) throw new Invalid('too large');
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Invalid('not a finite number of bytes');
    if (value < 0) throw new Invalid('a size cannot be negative');
    if (!Number.isInteger(value)) throw new Invalid('a number of bytes must be a whole number');
    if (!Number.isSafeInteger(value)) throw new Invalid('too large for an exact number; pass a BigInt or a string');
    return BigInt(value);
  }
  if (typeof value !== 'string') throw new Invalid('not a size');
  const text = value.trim();
  if (text === '') throw new Invalid('empty');
  if (text.startsWith('-')) throw new Invalid('a size cannot be negative');
  const unitWord = /^[\d.]+\s*([A-Za-z]+)$/.exec(text)?.[1];
  if (unitWord !== undefined && !(SIZE_SUFFIXES as readonly string[]).includes(unitWord)) {
    const up = unitWord[0]!.toUpperCase();
    if (/^(k|m|g|t|p|e)$/.test(unitWord) || /^[KMGTPE](i?B)$/i.test(unitWord)) {
      throw new Invalid(
        `systemd writes the unit as a bare upper-case letter ('${text.replace(unitWord, up)}'), ` +
          `and it means base ${base} (${up === 'K' ? base : `${base}^${'KMGTPE'.indexOf(up) + 1}`} bytes)`,
      );
    }
    throw new Invalid(`unknown unit '${unitWord}' (use K, M, G, T, P or E)`);
  }
  let rest = text;
  let total = 0n;
  let start = 0;
  while (rest.length > 0) {
    const m = /^(\d+)(?:\.(\d*))?\s*([EPTGMKB]?)\s*/.exec(rest);
    if (!m || m[0].length === 0) throw new Invalid('not a size');
    const [all, whole, frac = '', suffix = ''] = m;
    if (whole === undefined) throw new Invalid('not a size');
    const idx = SIZE_SUFFIXES.indexOf(suffix as (typeof SIZE_SUFFIXES)[number]);
    if (idx < start) throw new Invalid('in a sum, each unit must be smaller than the one before ("1G 512M")');
    start = idx + 1;
    const factor = sizeFactor(suffix, base);
    let part = BigInt(whole) * factor;
    if (frac.length > 0) part += (BigInt(frac) * factor) / 10n ** BigInt(frac.length);
    total += part;
    rest = rest.slice(all.length);
    if (suffix === '' && rest.length > 0) throw new Invalid('not a size');
  }
  if (total >= UINT64_MAX) throw new Invalid('too large');
  return total;
}

// ---------------------------------------------------------------------------------------------------
// Percentages: systemd's parse_permyriad(): "20%", "12.5%", "12.34%" (at most two decimals).

/** Parse 'N%' into permyriad (1% = 100). With `max`, refuse values above it (in permyriad). */
export function parsePercentString(value: string, max?: number): number {
  const m = /^\s*(\d+)(?:\.(\d{1,2}))?\s*%\s*$/.exec(value);
  if (!m) {
    if (/^\s*-/.test(value)) throw new Invalid('a percentage cannot be negative');
    if (/^\s*\d+\.\d{3,}\s*%\s*$/.test(value)) throw new Invalid('at most two decimals in a percentage');
    throw new Invalid('not a percentage');
  }
  const permyriad = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  if (!Number.isSafeInteger(permyriad)) throw new Invalid('too large');
  if (max !== undefined && permyriad > max) throw new Invalid(`above ${max / 100}%`);
  return permyriad;
}

export function isPercentString(value: unknown): value is `${number}%` {
  return typeof value === 'string' && value.trim().endsWith('%');
}

/** systemd's UINT32_SCALE_FROM_PERMYRIAD(): 0..10000 -> 0..2^32-1, rounded to nearest. */
export function scaleFromPermyriad(permyriad: number): number {
  const p = Math.min(Math.max(permyriad, 0), 10000);
  return Number((BigInt(p) * BigInt(UINT32_MAX) + 5000n) / 10000n);
}

// ---------------------------------------------------------------------------------------------------
// Durations: systemd.time(7) / parse_time(). A number is seconds. Strings: "30s", "5min", "1h 30s",
// "250ms", "1.5h", "2 weeks"; a bare number in a string uses the default unit (seconds, or µs for
// LimitRTTIME). 'M' (months) is refused: too easily meant as minutes.

const USEC = {
  s: 1_000_000n,
  min: 60_000_000n,
  h: 3_600_000_000n,
  d: 86_400_000_000n,
  w: 604_800_000_000n,
  month: 2_629_800_000_000n,
  y: 31_557_600_000_000n,
  ms: 1_000n,
  us: 1n,
};

const TIME_UNITS: Readonly<Record<string, bigint>> = {
  seconds: USEC.s,
  second: USEC.s,
  sec: USEC.s,
  s: USEC.s,
  minutes: USEC.min,
  minute: USEC.min,
  min: USEC.min,
  m: USEC.min,
  months: USEC.month,
  month: USEC.month,
  msec: USEC.ms,
  ms: USEC.ms,
  hours: USEC.h,
  hour: USEC.h,
  hr: USEC.h,
  h: USEC.h,
  days: USEC.d,
  day: USEC.d,
  d: USEC.d,
  weeks: USEC.w,
  week: USEC.w,
  w: USEC.w,
  years: USEC.y,
  year: USEC.y,
  y: USEC.y,
  usec: USEC.us,
  us: USEC.us,
  μs: USEC.us,
  µs: USEC.us,
};

/** The time units systemd.time(7) accepts, for docs. */
export const TIME_UNIT_NAMES = Object.keys(TIME_UNITS);

/**
 * Parse a duration into microseconds. `defaultUnit` is what a bare number in a string means (USEC.s or
 * 1n for µs); a JS number is always seconds. Returns UINT64_MAX for 'infinity'.
 */
export function parseDuration(value: unknown, defaultUnitUsec: bigint = USEC.s): bigint {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Invalid('not a finite number of seconds');
    if (value < 0) throw new Invalid('a duration cannot be negative');
    const usec = BigInt(Math.round(value * 1e6));
    if (usec >= UINT64_MAX) throw new Invalid('too large');
    return usec;
  }
  if (typeof value !== 'string') throw new Invalid('not a duration');
  let rest = value.trim();
  if (rest === 'infinity') return UINT64_MAX;
  if (rest === '') throw new Invalid('empty');
  if (rest.startsWith('-')) throw new Invalid('a duration cannot be negative');
  let total = 0n;
  while (rest.length > 0) {
    const m = /^(\d+)(?:\.(\d+))?\s*([A-Za-zµμ]*)\s*/.exec(rest);
    if (!m || m[0].length === 0) throw new Invalid('not a duration');
    const [all, whole, frac = '', unitWord = ''] = m;
    if (whole === undefined) throw new Invalid('not a duration');
    let mult: bigint;
    if (unitWord === '') mult = defaultUnitUsec;
    else if (unitWord === 'M')
      throw new Invalid(`'M' means months in systemd.time(7); write 'min' for minutes or 'month' for months`);
    else {
      const u = TIME_UNITS[unitWord];
      if (u === undefined) throw new Invalid(`unknown time unit '${unitWord}' (use us, ms, s, min, h, d, w, month, y)`);
      mult = u;
    }
    total += BigInt(whole) * mult;
    if (frac.length > 0) total += (BigInt(frac) * mult) / 10n ** BigInt(frac.length);
    rest = rest.slice(all.length);
  }
  if (total >= UINT64_MAX) throw new Invalid('too large');
  return total;
}

export { USEC };

// ---------------------------------------------------------------------------------------------------
// CPU sets: "0-1,3", "0 2 4", or an array of CPU numbers -> systemd's D-Bus `ay` bitmask
// (byte i, bit j = CPU 8*i + j; cpu_set_to_dbus()).

/** systemd refuses CPU numbers at or above this (cpu_set_add(): 8192 * 8). */
export const CPU_SET_LIMIT = 8192 * 8;

export function parseCpuSet(value: unknown): number[] {
  const cpus = new Set<number>();
  const add = (n: number) => {
    if (!Number.isInteger(n) || n < 0) throw new Invalid(`CPU numbers are whole numbers from 0`);
    if (n >= CPU_SET_LIMIT) throw new Invalid(`CPU ${n} is out of range`);
    cpus.add(n);
  };
  if (Array.isArray(value)) {
    for (const v of value) {
      if (typeof v !== 'number') throw new Invalid('a list of CPUs holds numbers');
      add(v);
    }
  } else if (typeof value === 'string') {
    const words = value.split(/[\s,]+/).filter((w) => w.length > 0);
    if (words.length === 0) throw new Invalid('empty');
    for (const w of words) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(w);
      if (!m) throw new Invalid(`'${w}' is not a CPU number or range`);
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (hi < lo) throw new Invalid(`range '${w}' runs backwards`);
      if (hi >= CPU_SET_LIMIT) throw new Invalid(`CPU ${hi} is out of range`);
      for (let c = lo; c <= hi; c++) add(c);
    }
  } else if (typeof value === 'number') {
    add(value);
  } else {
    throw new Invalid('not a CPU list');
  }
  if (cpus.size === 0) throw new Invalid('empty');
  return [...cpus].sort((a, b) => a - b);
}

export function cpuSetToBuffer(cpus: readonly number[]): Buffer {
  const max = Math.max(...cpus);
  const buf = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const c of cpus) buf[c >> 3]! |= 1 << (c & 7);
  return buf;
}

// ---------------------------------------------------------------------------------------------------
// IP address prefixes for IPAddressAllow/IPAddressDeny -> (family, address bytes, prefix length).

export const AF_INET = 2;
export const AF_INET6 = 10;

export interface IpPrefix {
  family: typeof AF_INET | typeof AF_INET6;
  address: Buffer;
  prefixlen: number;
}

function parseIPv4(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  if (bytes.some((b) => !(b >= 0 && b <= 255))) return undefined;
  return Buffer.from(bytes);
}

function parseIPv6(text: string): Buffer | undefined {
  if (text.includes('%') || !isIPv6(text)) return undefined;
  let s = text;
  if (s.includes('.')) {
    const i = s.lastIndexOf(':');
    const v4 = parseIPv4(s.slice(i + 1));
    if (!v4) return undefined;
    s = `${s.slice(0, i + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups =
    halves.length === 2 ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  if (groups.length !== 8) return undefined;
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out.writeUInt16BE(parseInt(g, 16), i * 2);
  }
  return out;
}

/** Parse 'a.b.c.d[/n]' or an IPv6 address '[/n]'; host bits beyond the prefix are cleared. */
export function parseIpPrefix(text: string): IpPrefix {
  const [addr = '', len, extra] = text.split('/');
  if (extra !== undefined) throw new Invalid(`'${text}' is not an address or prefix`);
  let family: IpPrefix['family'];
  let address: Buffer | undefined;
  if (addr.includes(':')) {
    family = AF_INET6;
    address = parseIPv6(addr);
  } else {
    family = AF_INET;
    address = parseIPv4(addr);
  }
  if (!address) throw new Invalid(`'${addr}' is not an IPv4 or IPv6 address`);
  const bits = address.length * 8;
  let prefixlen = bits;
  if (len !== undefined) {
    if (!/^\d{1,3}$/.test(len) || Number(len) > bits)
      throw new Invalid(`'/${len}' is not a prefix length for ${family === AF_INET ? 'IPv4 (0-32)' : 'IPv6 (0-128)'}`);
    prefixlen = Number(len);
  }
  for (let i = 0; i < address.length; i++) {
    const keep = Math.min(Math.max(prefixlen - i * 8, 0), 8);
    address[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return { family, address, prefixlen };
}

// ---------------------------------------------------------------------------------------------------
// Octal modes (UMask): a number (write it as 0o077) or an octal string '0077' / '077' / '0o077'.

export function parseMode(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 0o777) throw new Invalid('not a mode between 0 and 0o777');
    return value;
  }
  if (typeof value === 'string') {
    const m = /^\s*(?:0o)?([0-7]{1,4})\s*$/.exec(value);
    if (!m) throw new Invalid('not an octal mode');
    const n = parseInt(m[1]!, 8);
    if (n > 0o777) throw new Invalid('not a mode between 0000 and 0777');
    return n;
  }
  throw new Invalid('not an octal mode');
}

// ---------------------------------------------------------------------------------------------------
// Paths: systemd's path_is_absolute() and path_is_normalized().

export function isAbsolute(p: string): boolean {
  return p.startsWith('/');
}

/** No '.' or '..' components, no '//', not empty, no NUL (systemd's path_is_normalized()). */
export function isNormalized(p: string): boolean {
  if (p.length === 0 || p.includes('\0') || p.includes('//')) return false;
  return !p.split('/').some((c) => c === '.' || c === '..');
}

/** Remove a trailing slash (but keep '/'). */
export function trimSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** True when `child` is `parent` or lies below it. */
export function isUnder(child: string, parent: string): boolean {
  const c = trimSlash(child);
  const p = trimSlash(parent);
  return p === '/' || c === p || c.startsWith(p + '/');
}
