import { describe, expect, test } from 'vitest';
import {
  cpuSetToBuffer,
  Invalid,
  isNormalized,
  isUnder,
  parseCpuSet,
  parseDuration,
  parseIpPrefix,
  parseMode,
  parsePercentString,
  parseSize,
  scaleFromPermyriad,
  u64,
  UINT64_MAX,
} from '../../../src/properties/parse.js';

function problem(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof Invalid) return err.problem;
    throw err;
  }
  throw new Error('did not throw');
}

describe('parseSize (systemd parse_size)', () => {
  test.each([
    ['512M', 1024, 536870912n],
    ['1.5G', 1024, 1610612736n],
    ['1K', 1024, 1024n],
    ['1K', 1000, 1000n],
    ['20M', 1000, 20000000n],
    ['100', 1024, 100n],
    ['100B', 1024, 100n],
    [' 2G ', 1024, 2147483648n],
    ['1G 512M', 1024, 1610612736n],
    ['1T', 1024, 1099511627776n],
    ['2E', 1024, 2305843009213693952n],
    ['0', 1024, 0n],
    [4096, 1024, 4096n],
    [0, 1024, 0n],
    [123n, 1024, 123n],
  ] as const)('parses case %#', (input, base, bytes) => {
    expect(parseSize(input, base)).toBe(bytes);
  });

  test.each([
    ['512MB', "systemd writes the unit as a bare upper-case letter ('512M'), and it means base 1024 (1024^2 bytes)"],
    ['512m', "systemd writes the unit as a bare upper-case letter ('512M'), and it means base 1024 (1024^2 bytes)"],
    ['1GiB', "systemd writes the unit as a bare upper-case letter ('1G'), and it means base 1024 (1024^3 bytes)"],
    ['1k', "systemd writes the unit as a bare upper-case letter ('1K'), and it means base 1024 (1024 bytes)"],
    ['10 parsecs', "unknown unit 'parsecs' (use K, M, G, T, P or E)"],
    ['-1M', 'a size cannot be negative'],
    ['', 'empty'],
    ['lots', 'not a size'],
    ['512M 1G', 'in a sum, each unit must be smaller than the one before ("1G 512M")'],
    ['20E', 'too large'],
    [-5, 'a size cannot be negative'],
    [1.5, 'a number of bytes must be a whole number'],
    [Number.NaN, 'not a finite number of bytes'],
    [2 ** 60, 'too large for an exact number; pass a BigInt or a string'],
    [true, 'not a size'],
  ])('refuses %j: %s', (input, message) => {
    expect(problem(() => parseSize(input, 1024))).toBe(message);
  });

  test('the hint names base 1000 for IO rates', () => {
    expect(problem(() => parseSize('20MB', 1000))).toBe(
      "systemd writes the unit as a bare upper-case letter ('20M'), and it means base 1000 (1000^2 bytes)",
    );
  });
});

describe('parsePercentString (systemd parse_permyriad)', () => {
  test.each([
    ['20%', 2000],
    ['150%', 15000],
    ['12.5%', 1250],
    ['12.34%', 1234],
    ['0%', 0],
    [' 50 % ', 5000],
  ])('%s = %d permyriad', (input, permyriad) => {
    expect(parsePercentString(input)).toBe(permyriad);
  });

  test.each([
    ['20', 'not a percentage'],
    ['-5%', 'a percentage cannot be negative'],
    ['1.234%', 'at most two decimals in a percentage'],
    ['abc%', 'not a percentage'],
  ])('refuses %s: %s', (input, message) => {
    expect(problem(() => parsePercentString(input))).toBe(message);
  });

  test('a maximum', () => {
    expect(problem(() => parsePercentString('101%', 10000))).toBe('above 100%');
    expect(parsePercentString('100%', 10000)).toBe(10000);
  });

  test('scale to 2^32-1 as UINT32_SCALE_FROM_PERMYRIAD', () => {
    expect(scaleFromPermyriad(10000)).toBe(4294967295);
    expect(scaleFromPermyriad(5000)).toBe(2147483648);
    expect(scaleFromPermyriad(0)).toBe(0);
    expect(scaleFromPermyriad(2500)).toBe(1073741824);
  });
});

describe('parseDuration (systemd.time(7))', () => {
  test.each([
    ['30s', 30_000_000n],
    ['5min', 300_000_000n],
    ['5m', 300_000_000n],
    ['1h 30s', 3_630_000_000n],
    ['1h30s', 3_630_000_000n],
    ['250ms', 250_000n],
    ['1.5h', 5_400_000_000n],
    ['2 weeks', 1_209_600_000_000n],
    ['1d', 86_400_000_000n],
    ['1y', 31_557_600_000_000n],
    ['1month', 2_629_800_000_000n],
    ['10us', 10n],
    ['10µs', 10n],
    ['10', 10_000_000n],
    ['infinity', UINT64_MAX],
    [30, 30_000_000n],
    [0.25, 250_000n],
  ] as const)('duration case %#', (input, usec) => {
    expect(parseDuration(input)).toBe(usec);
  });

  test('a bare number in a string can default to µs', () => {
    expect(parseDuration('500', 1n)).toBe(500n);
    expect(parseDuration('5ms', 1n)).toBe(5000n);
  });

  test.each([
    ['5M', "'M' means months in systemd.time(7); write 'min' for minutes or 'month' for months"],
    ['5 fortnights', "unknown time unit 'fortnights' (use us, ms, s, min, h, d, w, month, y)"],
    ['-5s', 'a duration cannot be negative'],
    ['', 'empty'],
    ['soon', 'not a duration'],
    [-1, 'a duration cannot be negative'],
    [Number.POSITIVE_INFINITY, 'not a finite number of seconds'],
    [{}, 'not a duration'],
  ])('refuses %j: %s', (input, message) => {
    expect(problem(() => parseDuration(input))).toBe(message);
  });
});

describe('CPU sets', () => {
  test('ranges and lists', () => {
    expect(parseCpuSet('0-1,3')).toEqual([0, 1, 3]);
    expect(parseCpuSet('0 2 4')).toEqual([0, 2, 4]);
    expect(parseCpuSet([3, 1, 1])).toEqual([1, 3]);
    expect(parseCpuSet(5)).toEqual([5]);
  });

  test('the D-Bus bitmask: byte i, bit j = CPU 8i+j', () => {
    expect(cpuSetToBuffer([0, 1, 3]).toString('hex')).toBe('0b');
    expect(cpuSetToBuffer([9]).toString('hex')).toBe('0002');
    expect(cpuSetToBuffer([0, 8, 16]).toString('hex')).toBe('010101');
  });

  test.each([
    ['3-1', "range '3-1' runs backwards"],
    ['a', "'a' is not a CPU number or range"],
    ['', 'empty'],
    ['70000', 'CPU 70000 is out of range'],
    [[-1], 'CPU numbers are whole numbers from 0'],
    [['1'], 'a list of CPUs holds numbers'],
    [{}, 'not a CPU list'],
  ])('refuses %j: %s', (input, message) => {
    expect(problem(() => parseCpuSet(input))).toBe(message);
  });
});

describe('IP prefixes', () => {
  test('IPv4, with host bits cleared', () => {
    const p = parseIpPrefix('10.1.2.3/8');
    expect(p.family).toBe(2);
    expect(p.address.toString('hex')).toBe('0a000000');
    expect(p.prefixlen).toBe(8);
    expect(parseIpPrefix('192.168.1.7').prefixlen).toBe(32);
  });

  test('IPv6, compressed and with an embedded IPv4', () => {
    expect(parseIpPrefix('::1').address.toString('hex')).toBe('00000000000000000000000000000001');
    expect(parseIpPrefix('fe80::1/64').address.toString('hex')).toBe('fe800000000000000000000000000000');
    expect(parseIpPrefix('::ffff:10.0.0.1').address.toString('hex')).toBe('00000000000000000000ffff0a000001');
    expect(parseIpPrefix('2001:db8::/32')).toMatchObject({ family: 10, prefixlen: 32 });
  });

  test.each([
    ['10.0.0.256', "'10.0.0.256' is not an IPv4 or IPv6 address"],
    ['10.0.0.0/33', "'/33' is not a prefix length for IPv4 (0-32)"],
    ['::1/129', "'/129' is not a prefix length for IPv6 (0-128)"],
    ['fe80::1%eth0', "'fe80::1%eth0' is not an IPv4 or IPv6 address"],
    ['example.com', "'example.com' is not an IPv4 or IPv6 address"],
    ['1.2.3.4/8/9', "'1.2.3.4/8/9' is not an address or prefix"],
  ])('refuses %s', (input, message) => {
    expect(problem(() => parseIpPrefix(input))).toBe(message);
  });
});

describe('modes, paths, u64', () => {
  test('octal modes', () => {
    expect(parseMode('0077')).toBe(0o077);
    expect(parseMode('027')).toBe(0o027);
    expect(parseMode('0o022')).toBe(0o022);
    expect(parseMode(0o077)).toBe(63);
    expect(problem(() => parseMode('0999'))).toBe('not an octal mode');
    expect(problem(() => parseMode('7777'))).toBe('not a mode between 0000 and 0777');
    expect(problem(() => parseMode(0o1000))).toBe('not a mode between 0 and 0o777');
  });

  test('normalized paths and prefixes', () => {
    expect(isNormalized('/a/b')).toBe(true);
    expect(isNormalized('/a/../b')).toBe(false);
    expect(isNormalized('/a//b')).toBe(false);
    expect(isNormalized('/a/./b')).toBe(false);
    expect(isUnder('/home/u/p', '/home')).toBe(true);
    expect(isUnder('/homework', '/home')).toBe(false);
    expect(isUnder('/x', '/')).toBe(true);
  });

  test('u64: a number when exact, else a BigInt', () => {
    expect(u64(5n)).toBe(5);
    expect(u64(2n ** 53n - 1n)).toBe(Number.MAX_SAFE_INTEGER);
    expect(u64(2n ** 53n)).toBe(2n ** 53n);
    expect(u64(UINT64_MAX)).toBe(18446744073709551615n);
  });
});
