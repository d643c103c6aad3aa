// Every parser's rejections, with the exact message a user sees: the option path, the problem, the value,
// and what would be accepted with an example.
import { describe, expect, test } from 'vitest';
import { compile, message, optionError } from './helpers.js';

describe('error fields', () => {
  test('option, value and expected are set for programs', () => {
    const err = optionError(() => compile({ MemoryMax: '512MB' }));
    expect(err.code).toBe('ERR_UNITPOOL_OPTION');
    expect(err.option).toBe('properties.MemoryMax');
    expect(err.value).toBe('512MB');
    expect(err.expected).toBe(
      "a size: '512M', '1.5G' (K, M, G, T, P, E: base 1024), whole bytes as a number, 'infinity', or a share of RAM like '50%' (e.g. '512M')",
    );
  });
});

describe('resources', () => {
  test('CPUQuota', () => {
    expect(message({ CPUQuota: '0%' })).toMatchInlineSnapshot(
      `"properties.CPUQuota: must be above 0% (for no limit, leave CPUQuota out) (got "0%"); expected a percentage of one CPU ('20%', '150%' for one and a half CPUs), or a number of CPUs (0.2, 1.5) (e.g. '50%')"`,
    );
    expect(message({ CPUQuota: 20 })).toMatchInlineSnapshot(
      `"properties.CPUQuota: a number means CPUs: 20 is 2000% (20 CPUs), more than the 8 this host has; for a percentage write '20%' (got 20); expected a percentage of one CPU ('20%', '150%' for one and a half CPUs), or a number of CPUs (0.2, 1.5) (e.g. '50%')"`,
    );
    expect(message({ CPUQuota: -1 })).toMatchInlineSnapshot(
      `"properties.CPUQuota: must be a number of CPUs above 0 (got -1); expected a percentage of one CPU ('20%', '150%' for one and a half CPUs), or a number of CPUs (0.2, 1.5) (e.g. '50%')"`,
    );
    expect(message({ CPUQuota: '20' })).toMatchInlineSnapshot(
      `"properties.CPUQuota: no % sign: write '20%' for a percentage, or 0.2 for CPUs (got "20"); expected a percentage of one CPU ('20%', '150%' for one and a half CPUs), or a number of CPUs (0.2, 1.5) (e.g. '50%')"`,
    );
    expect(message({ CPUQuota: '1.234%' })).toMatchInlineSnapshot(
      `"properties.CPUQuota: at most two decimals in a percentage (got "1.234%"); expected a percentage of one CPU ('20%', '150%' for one and a half CPUs), or a number of CPUs (0.2, 1.5) (e.g. '50%')"`,
    );
    expect(message({ CPUQuota: true })).toMatchInlineSnapshot(
      `"properties.CPUQuota: not a percentage or a number of CPUs (got true); expected a percentage of one CPU ('20%', '150%' for one and a half CPUs), or a number of CPUs (0.2, 1.5) (e.g. '50%')"`,
    );
  });

  test('CPUQuota above the host warns', () => {
    const warnings: string[] = [];
    compile({ CPUQuota: '1000%' }, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([
      "properties.CPUQuota '1000%' is more than the 8 CPUs of this host: it will never limit anything here",
    ]);
  });

  test('CPUWeight and IOWeight', () => {
    expect(message({ CPUWeight: 0 })).toMatchInlineSnapshot(
      `"properties.CPUWeight: out of range 1 to 10000 (got 0); expected a whole number from 1 to 10000 (default 100), or 'idle' (e.g. 20)"`,
    );
    expect(message({ CPUWeight: 10001 })).toMatchInlineSnapshot(
      `"properties.CPUWeight: out of range 1 to 10000 (got 10001); expected a whole number from 1 to 10000 (default 100), or 'idle' (e.g. 20)"`,
    );
    expect(message({ IOWeight: 'idle' })).toMatchInlineSnapshot(
      `"properties.IOWeight: not a whole number (got "idle"); expected a whole number from 1 to 10000 (default 100) (e.g. 50)"`,
    );
    expect(message({ IOWeight: 1.5 })).toMatchInlineSnapshot(
      `"properties.IOWeight: not a whole number (got 1.5); expected a whole number from 1 to 10000 (default 100) (e.g. 50)"`,
    );
  });

  test('AllowedCPUs', () => {
    expect(message({ AllowedCPUs: '0-9' })).toMatchInlineSnapshot(
      `"properties.AllowedCPUs: this host has CPUs 0-7, not 8; systemd would only log a warning and not pin anything (got "0-9"); expected CPU numbers and ranges ('0-1,3') or an array of CPU numbers ([0, 1, 3]) (e.g. '0-1')"`,
    );
    expect(message({ AllowedCPUs: '1-0' })).toMatchInlineSnapshot(
      `"properties.AllowedCPUs: range '1-0' runs backwards (got "1-0"); expected CPU numbers and ranges ('0-1,3') or an array of CPU numbers ([0, 1, 3]) (e.g. '0-1')"`,
    );
  });

  test('memory sizes', () => {
    expect(message({ MemoryMax: '512MB' })).toMatchInlineSnapshot(
      `"properties.MemoryMax: systemd writes the unit as a bare upper-case letter ('512M'), and it means base 1024 (1024^2 bytes) (got "512MB"); expected a size: '512M', '1.5G' (K, M, G, T, P, E: base 1024), whole bytes as a number, 'infinity', or a share of RAM like '50%' (e.g. '512M')"`,
    );
    expect(message({ MemoryMax: '1 gig' })).toMatchInlineSnapshot(
      `"properties.MemoryMax: unknown unit 'gig' (use K, M, G, T, P or E) (got "1 gig"); expected a size: '512M', '1.5G' (K, M, G, T, P, E: base 1024), whole bytes as a number, 'infinity', or a share of RAM like '50%' (e.g. '512M')"`,
    );
    expect(message({ MemoryMax: 0 })).toMatchInlineSnapshot(
      `"properties.MemoryMax: 0 bytes is not a limit systemd accepts; for no limit write 'infinity' (got 0); expected a size: '512M', '1.5G' (K, M, G, T, P, E: base 1024), whole bytes as a number, 'infinity', or a share of RAM like '50%' (e.g. '512M')"`,
    );
    expect(message({ MemoryMax: '0%' })).toMatchInlineSnapshot(
      `"properties.MemoryMax: 0% would allow no memory at all (got "0%"); expected a size: '512M', '1.5G' (K, M, G, T, P, E: base 1024), whole bytes as a number, 'infinity', or a share of RAM like '50%' (e.g. '512M')"`,
    );
    expect(message({ MemoryMax: '120%' })).toMatchInlineSnapshot(
      `"properties.MemoryMax: above 100% (got "120%"); expected a size: '512M', '1.5G' (K, M, G, T, P, E: base 1024), whole bytes as a number, 'infinity', or a share of RAM like '50%' (e.g. '512M')"`,
    );
    expect(message({ MemoryMax: '8M' })).toMatchInlineSnapshot(
      `"properties.MemoryMax: below 16M: every Node process needs about 40 MB, so no worker could start (got "8M"); expected at least 16M for Node, e.g. '512M'"`,
    );
    expect(message({ MemoryMax: 'max' })).toMatchInlineSnapshot(
      `"properties.MemoryMax: write 'infinity' for no limit (got "max"); expected a size: '512M', '1.5G' (K, M, G, T, P, E: base 1024), whole bytes as a number, 'infinity', or a share of RAM like '50%' (e.g. '512M')"`,
    );
    expect(message({ MemoryHigh: -1 })).toMatchInlineSnapshot(
      `"properties.MemoryHigh: a size cannot be negative (got -1); expected a size: '512M', '1.5G' (K, M, G, T, P, E: base 1024), whole bytes as a number, 'infinity', or a share of RAM like '50%' (e.g. '384M')"`,
    );
    expect(message({ MemorySwapMax: 'half' })).toMatchInlineSnapshot(
      `"properties.MemorySwapMax: not a size (got "half"); expected a size: '512M', '1.5G' (K, M, G, T, P, E: base 1024), whole bytes as a number, 'infinity', or a share of RAM like '50%' (e.g. 0)"`,
    );
  });

  test('MemoryHigh not below MemoryMax warns', () => {
    const warnings: string[] = [];
    compile({ MemoryMax: '1G', MemoryHigh: '2G' }, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([
      'properties.MemoryHigh is not below MemoryMax, so it never throttles: the unit is OOM-killed at MemoryMax first',
    ]);
    warnings.length = 0;
    compile({ MemoryMax: '2G', MemoryHigh: '1G' }, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
  });

  test('TasksMax', () => {
    expect(message({ TasksMax: 0 })).toMatchInlineSnapshot(
      `"properties.TasksMax: must be a whole number of at least 1 (got 0); expected a whole number, 'infinity', or a share of the kernel's limit below 100% ('10%') (e.g. 512)"`,
    );
    expect(message({ TasksMax: 8 })).toMatchInlineSnapshot(
      `"properties.TasksMax: below 16: a single Node process runs 7 to 11 threads, and each counts as a task (got 8); expected at least 16 for Node, e.g. 512"`,
    );
    expect(message({ TasksMax: '100%' })).toMatchInlineSnapshot(
      `"properties.TasksMax: systemd accepts shares below 100%; for no limit write 'infinity' (got "100%"); expected a whole number, 'infinity', or a share of the kernel's limit below 100% ('10%') (e.g. 512)"`,
    );
    expect(message({ TasksMax: '0%' })).toMatchInlineSnapshot(
      `"properties.TasksMax: 0% would allow no tasks at all (got "0%"); expected a whole number, 'infinity', or a share of the kernel's limit below 100% ('10%') (e.g. 512)"`,
    );
    expect(message({ TasksMax: 'lots' })).toMatchInlineSnapshot(
      `"properties.TasksMax: not a number of tasks (got "lots"); expected a whole number, 'infinity', or a share of the kernel's limit below 100% ('10%') (e.g. 512)"`,
    );
  });

  test('IO bandwidth', () => {
    expect(message({ IOReadBandwidthMax: { 'dev/sda': '1M' } })).toMatchInlineSnapshot(
      `"properties.IOReadBandwidthMax['dev/sda']: 'dev/sda' is not an absolute, normalized path (got {"dev/sda":"1M"}); expected { '/dev/sda': '20M' } (a block device or a path on it; K, M, G, T: base 1000; or 'infinity'), or '/dev/sda 20M' (e.g. { '/dev/sda': '20M' })"`,
    );
    expect(message({ IOReadBandwidthMax: { '/no/such/device': '1M' } })).toMatchInlineSnapshot(
      `"properties.IOReadBandwidthMax['/no/such/device']: /no/such/device does not exist; systemd would skip the limit with only a log line (got {"/no/such/device":"1M"}); expected { '/dev/sda': '20M' } (a block device or a path on it; K, M, G, T: base 1000; or 'infinity'), or '/dev/sda 20M' (e.g. { '/dev/sda': '20M' })"`,
    );
    expect(message({ IOReadBandwidthMax: { '/dev/null': '1M' } })).toMatchInlineSnapshot(
      `"properties.IOReadBandwidthMax['/dev/null']: /dev/null is a character device, not a block device; systemd would skip the limit with only a log line (got {"/dev/null":"1M"}); expected { '/dev/sda': '20M' } (a block device or a path on it; K, M, G, T: base 1000; or 'infinity'), or '/dev/sda 20M' (e.g. { '/dev/sda': '20M' })"`,
    );
    expect(message({ IOReadBandwidthMax: { '/proc': '1M' } })).toMatchInlineSnapshot(
      `"properties.IOReadBandwidthMax['/proc']: /proc is on a file system with no block device behind it (tmpfs, overlay, proc...); systemd would skip the limit with only a log line (got {"/proc":"1M"}); expected { '/dev/sda': '20M' } (a block device or a path on it; K, M, G, T: base 1000; or 'infinity'), or '/dev/sda 20M' (e.g. { '/dev/sda': '20M' })"`,
    );
    expect(message({ IOWriteBandwidthMax: { '/dev/vda': '10MB' } }, { checkFiles: false })).toMatchInlineSnapshot(
      `"properties.IOWriteBandwidthMax['/dev/vda']: systemd writes the unit as a bare upper-case letter ('10M'), and it means base 1000 (1000^2 bytes) (got {"/dev/vda":"10MB"}); expected { '/dev/sda': '20M' } (a block device or a path on it; K, M, G, T: base 1000; or 'infinity'), or '/dev/sda 20M' (e.g. { '/dev/sda': '10M' })"`,
    );
    expect(message({ IOWriteBandwidthMax: { '/dev/vda': 0 } }, { checkFiles: false })).toMatchInlineSnapshot(
      `"properties.IOWriteBandwidthMax['/dev/vda']: 0 bytes per second would stop all IO (got {"/dev/vda":0}); expected { '/dev/sda': '20M' } (a block device or a path on it; K, M, G, T: base 1000; or 'infinity'), or '/dev/sda 20M' (e.g. { '/dev/sda': '10M' })"`,
    );
    expect(message({ IOWriteBandwidthMax: '/dev/vda' }, { checkFiles: false })).toMatchInlineSnapshot(
      `"properties.IOWriteBandwidthMax: '/dev/vda' is not a device and a rate separated by a space (got "/dev/vda"); expected { '/dev/sda': '20M' } (a block device or a path on it; K, M, G, T: base 1000; or 'infinity'), or '/dev/sda 20M' (e.g. { '/dev/sda': '10M' })"`,
    );
    expect(message({ IOWriteBandwidthMax: {} })).toMatchInlineSnapshot(
      `"properties.IOWriteBandwidthMax: empty (got {}); expected { '/dev/sda': '20M' } (a block device or a path on it; K, M, G, T: base 1000; or 'infinity'), or '/dev/sda 20M' (e.g. { '/dev/sda': '10M' })"`,
    );
  });

  test('Nice and OOMScoreAdjust ranges', () => {
    expect(message({ Nice: 20 })).toMatchInlineSnapshot(
      `"properties.Nice: out of range -20 to 19 (got 20); expected a whole number from -20 (most favoured) to 19 (least favoured) (e.g. 10)"`,
    );
    expect(message({ Nice: -21 })).toMatchInlineSnapshot(
      `"properties.Nice: out of range -20 to 19 (got -21); expected a whole number from -20 (most favoured) to 19 (least favoured) (e.g. 10)"`,
    );
    expect(message({ Nice: '5' })).toMatchInlineSnapshot(
      `"properties.Nice: not a whole number (got "5"); expected a whole number from -20 (most favoured) to 19 (least favoured) (e.g. 10)"`,
    );
    expect(message({ OOMScoreAdjust: 1001 })).toMatchInlineSnapshot(
      `"properties.OOMScoreAdjust: out of range -1000 to 1000 (got 1001); expected a whole number from -1000 (never kill) to 1000 (kill first) (e.g. 500)"`,
    );
    expect(message({ OOMScoreAdjust: -1000.5 })).toMatchInlineSnapshot(
      `"properties.OOMScoreAdjust: not a whole number (got -1000.5); expected a whole number from -1000 (never kill) to 1000 (kill first) (e.g. 500)"`,
    );
  });

  test('OOMPolicy', () => {
    expect(message({ OOMPolicy: 'Kill' })).toMatchInlineSnapshot(
      `"properties.OOMPolicy: unknown value; did you mean 'kill'? (got "Kill"); expected 'continue', 'stop' or 'kill' (e.g. 'continue')"`,
    );
    expect(message({ OOMPolicy: 'explode' })).toMatchInlineSnapshot(
      `"properties.OOMPolicy: unknown value (got "explode"); expected 'continue', 'stop' or 'kill' (e.g. 'continue')"`,
    );
  });

  test('limits', () => {
    expect(message({ LimitNOFILE: '4096:1024' })).toMatchInlineSnapshot(
      `"properties.LimitNOFILE: the soft limit is above the hard limit (got "4096:1024"); expected a whole number or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. 4096)"`,
    );
    expect(message({ LimitNOFILE: 16 })).toMatchInlineSnapshot(
      `"properties.LimitNOFILE: below 64, Node cannot run (the supervisor holds a few descriptors per worker) (got 16); expected a whole number or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. 4096)"`,
    );
    expect(message({ LimitNOFILE: 'infinity' })).toMatchInlineSnapshot(
      `"properties.LimitNOFILE: the kernel has no unlimited number of files; give a number (at most fs.nr_open) (got "infinity"); expected a whole number or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. 4096)"`,
    );
    expect(message({ LimitNOFILE: 100000000 })).toMatchInlineSnapshot(
      `"properties.LimitNOFILE: above this kernel's fs.nr_open (1048576); systemd would fail to start the unit (got 100000000); expected a whole number or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. 4096)"`,
    );
    expect(message({ LimitNOFILE: { soft: 1024 } })).toMatchInlineSnapshot(
      `"properties.LimitNOFILE: an object needs exactly soft and hard (got {"soft":1024}); expected a whole number or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. 4096)"`,
    );
    expect(message({ LimitNOFILE: 1.5 })).toMatchInlineSnapshot(
      `"properties.LimitNOFILE: not a whole number (got 1.5); expected a whole number or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. 4096)"`,
    );
    expect(message({ LimitAS: '512M' })).toMatchInlineSnapshot(
      `"properties.LimitAS: below 1G, Node cannot run (v8 reserves about 800 MB of address space at start and WebAssembly about 10 GB per memory; use MemoryMax to cap memory) (got "512M"); expected a size ('64M', '1G', base 1024), a number of bytes, or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. '16G')"`,
    );
    expect(message({ LimitSTACK: '256K' })).toMatchInlineSnapshot(
      `"properties.LimitSTACK: below 1M, Node cannot run (v8 assumes about 1 MB of stack; less turns deep recursion into a crash instead of a RangeError) (got "256K"); expected a size ('64M', '1G', base 1024), a number of bytes, or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. '8M')"`,
    );
    expect(message({ LimitDATA: '32M' })).toMatchInlineSnapshot(
      `"properties.LimitDATA: below 64M, Node cannot run (v8 cannot start below about 48 MB; use MemoryMax to cap memory) (got "32M"); expected a size ('64M', '1G', base 1024), a number of bytes, or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. '2G')"`,
    );
    expect(message({ LimitCPU: 0 })).toMatchInlineSnapshot(
      `"properties.LimitCPU: 0 seconds would kill every worker at once (got 0); expected a duration ('30s', '5min'; a number is seconds, rounded up to whole seconds) or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. '5min')"`,
    );
    expect(message({ LimitCPU: '5M' })).toMatchInlineSnapshot(
      `"properties.LimitCPU: 'M' means months in systemd.time(7); write 'min' for minutes or 'month' for months (got "5M"); expected a duration ('30s', '5min'; a number is seconds, rounded up to whole seconds) or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. '5min')"`,
    );
    expect(message({ LimitNICE: 25 })).toMatchInlineSnapshot(
      `"properties.LimitNICE: not a nice level from -20 to 19 (got 25); expected the highest priority the workers may raise themselves to, as a nice level from -20 to 19; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. 0)"`,
    );
    expect(message({ LimitNICE: 'infinity' })).toMatchInlineSnapshot(
      `"properties.LimitNICE: LimitNICE has no 'infinity'; give a nice level from -20 to 19 (got "infinity"); expected the highest priority the workers may raise themselves to, as a nice level from -20 to 19; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. 0)"`,
    );
    expect(message({ LimitRTTIME: -5 })).toMatchInlineSnapshot(
      `"properties.LimitRTTIME: not a whole number of microseconds (got -5); expected a duration ('50ms'; a number or a bare numeric string is microseconds) or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. '50ms')"`,
    );
    expect(message({ LimitCORE: '1:2:3' })).toMatchInlineSnapshot(
      `"properties.LimitCORE: not 'soft:hard' (got "1:2:3"); expected a size ('64M', '1G', base 1024), a number of bytes, or 'infinity'; one value sets soft and hard, or { soft, hard }, or 'soft:hard' (e.g. 0)"`,
    );
  });

  test('RuntimeMaxSec', () => {
    expect(message({ RuntimeMaxSec: 0 })).toMatchInlineSnapshot(
      `"properties.RuntimeMaxSec: 0 would stop the unit as soon as it starts; for no limit write 'infinity' (got 0); expected a duration ('30s', '5min', '1h 30s', '250ms'; a number is seconds) or 'infinity' (e.g. '1h')"`,
    );
    expect(message({ RuntimeMaxSec: '5M' })).toMatchInlineSnapshot(
      `"properties.RuntimeMaxSec: 'M' means months in systemd.time(7); write 'min' for minutes or 'month' for months (got "5M"); expected a duration ('30s', '5min', '1h 30s', '250ms'; a number is seconds) or 'infinity' (e.g. '1h')"`,
    );
    expect(message({ RuntimeMaxSec: '10 fortnights' })).toMatchInlineSnapshot(
      `"properties.RuntimeMaxSec: unknown time unit 'fortnights' (use us, ms, s, min, h, d, w, month, y) (got "10 fortnights"); expected a duration ('30s', '5min', '1h 30s', '250ms'; a number is seconds) or 'infinity' (e.g. '1h')"`,
    );
    expect(message({ RuntimeMaxSec: -1 })).toMatchInlineSnapshot(
      `"properties.RuntimeMaxSec: a duration cannot be negative (got -1); expected a duration ('30s', '5min', '1h 30s', '250ms'; a number is seconds) or 'infinity' (e.g. '1h')"`,
    );
  });
});

describe('identity', () => {
  test('names and ids', () => {
    expect(message({ User: '' })).toMatchInlineSnapshot(
      `"properties.User: empty (got ""); expected a user name ('nobody') or a numeric uid; it must exist unless DynamicUser is true (e.g. 'nobody')"`,
    );
    expect(message({ User: 'a:b' })).toMatchInlineSnapshot(
      `"properties.User: a name cannot contain whitespace, : or / (got "a:b"); expected a user name ('nobody') or a numeric uid; it must exist unless DynamicUser is true (e.g. 'nobody')"`,
    );
    expect(message({ User: -1 })).toMatchInlineSnapshot(
      `"properties.User: not a valid uid (got -1); expected a user name ('nobody') or a numeric uid; it must exist unless DynamicUser is true (e.g. 'nobody')"`,
    );
    expect(message({ User: 65535 })).toMatchInlineSnapshot(
      `"properties.User: not a valid uid (got 65535); expected a user name ('nobody') or a numeric uid; it must exist unless DynamicUser is true (e.g. 'nobody')"`,
    );
    expect(message({ Group: ['x'] })).toMatchInlineSnapshot(
      `"properties.Group: not a group name or id (got array of 1); expected a group name ('nogroup') or a numeric gid; it must exist unless DynamicUser is true (e.g. 'nogroup')"`,
    );
    expect(message({ SupplementaryGroups: 'video' })).toMatchInlineSnapshot(
      `"properties.SupplementaryGroups: not an array of groups (got "video"); expected an array of group names or gids (['video', 1001]); each must exist (e.g. ['nogroup'])"`,
    );
  });

  test('DynamicUser', () => {
    expect(message({ DynamicUser: 'yes' })).toMatchInlineSnapshot(
      `"properties.DynamicUser: write true (a boolean), not "yes" (got "yes"); expected true or false (e.g. true)"`,
    );
    expect(message({ DynamicUser: 1 })).toMatchInlineSnapshot(
      `"properties.DynamicUser: write true (a boolean), not 1 (got 1); expected true or false (e.g. true)"`,
    );
  });

  test('UMask', () => {
    expect(message({ UMask: '0999' })).toMatchInlineSnapshot(
      `"properties.UMask: not an octal mode (got "0999"); expected an octal string ('0077', '027') or a number written in octal (0o077) (e.g. '0077')"`,
    );
    expect(message({ UMask: 0o1777 })).toMatchInlineSnapshot(
      `"properties.UMask: not a mode between 0 and 0o777 (got 1023); expected an octal string ('0077', '027') or a number written in octal (0o077) (e.g. '0077')"`,
    );
  });
});

describe('filesystem', () => {
  test('ProtectSystem and ProtectHome', () => {
    expect(message({ ProtectSystem: 'yes' })).toMatchInlineSnapshot(
      `"properties.ProtectSystem: write true (a boolean), not "yes" (got "yes"); expected true, false, 'full' or 'strict' (e.g. 'strict')"`,
    );
    expect(message({ ProtectSystem: 'Strict' })).toMatchInlineSnapshot(
      `"properties.ProtectSystem: unknown value; did you mean 'strict'? (got "Strict"); expected true, false, 'full' or 'strict' (e.g. 'strict')"`,
    );
    expect(message({ ProtectHome: 'readonly' })).toMatchInlineSnapshot(
      `"properties.ProtectHome: unknown value; did you mean 'read-only'? (got "readonly"); expected true, false, 'read-only' or 'tmpfs' (e.g. true)"`,
    );
    expect(message({ ProtectHome: 1 })).toMatchInlineSnapshot(
      `"properties.ProtectHome: not one of the accepted values (got 1); expected true, false, 'read-only' or 'tmpfs' (e.g. true)"`,
    );
  });

  test('path lists', () => {
    expect(message({ ReadOnlyPaths: ['relative/path'] })).toMatchInlineSnapshot(
      `"properties.ReadOnlyPaths[0]: 'relative/path' is not an absolute path (got array of 1); expected absolute paths; prefix '-' to skip one that is missing, '+' to resolve it inside RootDirectory (e.g. ['/srv/data'])"`,
    );
    expect(message({ ReadWritePaths: '/tmp/../etc' })).toMatchInlineSnapshot(
      `"properties.ReadWritePaths: '/tmp/../etc' is not normalized (no '.', '..' or '//') (got "/tmp/../etc"); expected absolute paths; prefix '-' to skip one that is missing, '+' to resolve it inside RootDirectory (e.g. ['/srv/out'])"`,
    );
    expect(message({ InaccessiblePaths: ['/no/such/path'] })).toMatchInlineSnapshot(
      `"properties.InaccessiblePaths[0]: /no/such/path does not exist, and systemd would refuse to start the unit; prefix it with '-' to skip it when missing (got array of 1); expected absolute paths; prefix '-' to skip one that is missing, '+' to resolve it inside RootDirectory (e.g. ['/etc/ssh'])"`,
    );
    expect(message({ ReadOnlyPaths: [42] })).toMatchInlineSnapshot(
      `"properties.ReadOnlyPaths[0]: not a path (got array of 1); expected absolute paths; prefix '-' to skip one that is missing, '+' to resolve it inside RootDirectory (e.g. ['/srv/data'])"`,
    );
  });

  test('bind mounts', () => {
    expect(message({ BindPaths: 'data:/data' })).toMatchInlineSnapshot(
      `"properties.BindPaths: source 'data' is not an absolute path (got "data:/data"); expected 'src', 'src:dst', 'src:dst:norbind' (absolute paths; '-src' skips a missing source), or { source, destination?, readOnly?, recursive?, ignoreMissing? }, or an array of them (e.g. ['/srv/in:/data'])"`,
    );
    expect(message({ BindPaths: '/tmp:data' })).toMatchInlineSnapshot(
      `"properties.BindPaths: destination 'data' is not an absolute path (got "/tmp:data"); expected 'src', 'src:dst', 'src:dst:norbind' (absolute paths; '-src' skips a missing source), or { source, destination?, readOnly?, recursive?, ignoreMissing? }, or an array of them (e.g. ['/srv/in:/data'])"`,
    );
    expect(message({ BindPaths: '/tmp:/x:ro' })).toMatchInlineSnapshot(
      `"properties.BindPaths: unknown option 'ro' (rbind or norbind) (got "/tmp:/x:ro"); expected 'src', 'src:dst', 'src:dst:norbind' (absolute paths; '-src' skips a missing source), or { source, destination?, readOnly?, recursive?, ignoreMissing? }, or an array of them (e.g. ['/srv/in:/data'])"`,
    );
    expect(message({ BindPaths: ['/no/such/dir'] })).toMatchInlineSnapshot(
      `"properties.BindPaths[0]: source /no/such/dir does not exist, and systemd would refuse to start the unit; mark it ignoreMissing (or prefix '-') to skip it (got array of 1); expected 'src', 'src:dst', 'src:dst:norbind' (absolute paths; '-src' skips a missing source), or { source, destination?, readOnly?, recursive?, ignoreMissing? }, or an array of them (e.g. ['/srv/in:/data'])"`,
    );
    expect(message({ BindPaths: [{ source: '/tmp', readonly: true }] })).toMatchInlineSnapshot(
      `"properties.BindPaths[0]: unknown field 'readonly'; did you mean 'readOnly'? (got array of 1); expected 'src', 'src:dst', 'src:dst:norbind' (absolute paths; '-src' skips a missing source), or { source, destination?, readOnly?, recursive?, ignoreMissing? }, or an array of them (e.g. ['/srv/in:/data'])"`,
    );
    expect(message({ BindReadOnlyPaths: [{ source: '/tmp', readOnly: false }] })).toMatchInlineSnapshot(
      `"properties.BindReadOnlyPaths[0].readOnly: BindReadOnlyPaths entries are read-only; put writable ones in BindPaths (got array of 1); expected 'src', 'src:dst', 'src:dst:norbind' (absolute paths; '-src' skips a missing source), or { source, destination?, recursive?, ignoreMissing? }, or an array of them (e.g. ['/etc/ssl/certs'])"`,
    );
    expect(message({ BindPaths: [{ source: '/tmp', recursive: 'yes' }] })).toMatchInlineSnapshot(
      `"properties.BindPaths[0].recursive: recursive must be a boolean (got array of 1); expected 'src', 'src:dst', 'src:dst:norbind' (absolute paths; '-src' skips a missing source), or { source, destination?, readOnly?, recursive?, ignoreMissing? }, or an array of them (e.g. ['/srv/in:/data'])"`,
    );
  });

  test('TemporaryFileSystem', () => {
    expect(message({ TemporaryFileSystem: 'var' })).toMatchInlineSnapshot(
      `"properties.TemporaryFileSystem: "var" is not an absolute, normalized path (got "var"); expected '/path' or '/path:ro,mode=0755' or { path, options? }, or an array of them (e.g. '/var:ro')"`,
    );
    expect(message({ TemporaryFileSystem: '/var:readonly' })).toMatchInlineSnapshot(
      `"properties.TemporaryFileSystem: unknown tmpfs option 'readonly' (got "/var:readonly"); expected '/path' or '/path:ro,mode=0755' or { path, options? }, or an array of them (e.g. '/var:ro')"`,
    );
    expect(message({ TemporaryFileSystem: '/var:mode=999' })).toMatchInlineSnapshot(
      `"properties.TemporaryFileSystem: bad value in tmpfs option 'mode=999' (got "/var:mode=999"); expected '/path' or '/path:ro,mode=0755' or { path, options? }, or an array of them (e.g. '/var:ro')"`,
    );
    expect(message({ TemporaryFileSystem: '/proc' })).toMatchInlineSnapshot(
      `"properties.TemporaryFileSystem: a tmpfs over /proc would leave Node without /proc (got "/proc"); expected '/path' or '/path:ro,mode=0755' or { path, options? }, or an array of them (e.g. '/var:ro')"`,
    );
  });

  test('RootDirectory, WorkingDirectory, RuntimeDirectory', () => {
    expect(message({ RootDirectory: '/no/such/root' })).toMatchInlineSnapshot(
      `"properties.RootDirectory: /no/such/root is not an existing directory (got "/no/such/root"); expected an absolute path to an existing directory (e.g. '/srv/chroot')"`,
    );
    expect(message({ RootDirectory: 'srv' })).toMatchInlineSnapshot(
      `"properties.RootDirectory: not an absolute, normalized path (got "srv"); expected an absolute path to an existing directory (e.g. '/srv/chroot')"`,
    );
    expect(message({ WorkingDirectory: 'work' })).toMatchInlineSnapshot(
      `"properties.WorkingDirectory: not an absolute path (or '~') (got "work"); expected an absolute path to an existing directory, or '~' for the user's home; prefix '-' to tolerate a missing one (e.g. '/srv/job')"`,
    );
    expect(message({ WorkingDirectory: '/no/such/dir' })).toMatchInlineSnapshot(
      `"properties.WorkingDirectory: /no/such/dir is not an existing directory; systemd would fail to start the workers; prefix '-' to tolerate it (got "/no/such/dir"); expected an absolute path to an existing directory, or '~' for the user's home; prefix '-' to tolerate a missing one (e.g. '/srv/job')"`,
    );
    expect(message({ RuntimeDirectory: '/run/x' })).toMatchInlineSnapshot(
      `"properties.RuntimeDirectory: '/run/x' must be relative (it is created under /run) (got "/run/x"); expected relative names ('myjob' or 'myjob/cache'), one or an array (e.g. 'myjob')"`,
    );
    expect(message({ RuntimeDirectory: 'private' })).toMatchInlineSnapshot(
      `"properties.RuntimeDirectory: 'private' is reserved by systemd (got "private"); expected relative names ('myjob' or 'myjob/cache'), one or an array (e.g. 'myjob')"`,
    );
    expect(message({ RuntimeDirectory: 'a/../b' })).toMatchInlineSnapshot(
      `"properties.RuntimeDirectory: 'a/../b' is not normalized (no '.', '..' or '//') (got "a/../b"); expected relative names ('myjob' or 'myjob/cache'), one or an array (e.g. 'myjob')"`,
    );
  });
});

describe('network and kernel', () => {
  test('RestrictAddressFamilies', () => {
    expect(message({ RestrictAddressFamilies: ['AF_INET'] })).toMatchInlineSnapshot(
      `"properties.RestrictAddressFamilies: AF_UNIX must be allowed: Node and the unitpool supervisor talk to the workers over AF_UNIX socketpairs; add it to the list (got array of 1); expected an allow-list (['AF_UNIX', 'AF_INET']), { deny: [...] } or '~AF_INET6 AF_PACKET' (deny); AF_UNIX must stay allowed (e.g. ['AF_UNIX'])"`,
    );
    expect(message({ RestrictAddressFamilies: '~AF_UNIX' })).toMatchInlineSnapshot(
      `"properties.RestrictAddressFamilies: AF_UNIX cannot be denied: Node and the unitpool supervisor talk to the workers over AF_UNIX socketpairs (got "~AF_UNIX"); expected an allow-list (['AF_UNIX', 'AF_INET']), { deny: [...] } or '~AF_INET6 AF_PACKET' (deny); AF_UNIX must stay allowed (e.g. ['AF_UNIX'])"`,
    );
    expect(message({ RestrictAddressFamilies: ['AF_UNIX', 'af_inet'] })).toMatchInlineSnapshot(
      `"properties.RestrictAddressFamilies[1]: unknown address family 'af_inet'; did you mean 'AF_INET'? (got array of 2); expected an allow-list (['AF_UNIX', 'AF_INET']), { deny: [...] } or '~AF_INET6 AF_PACKET' (deny); AF_UNIX must stay allowed (e.g. ['AF_UNIX'])"`,
    );
    expect(message({ RestrictAddressFamilies: 'none' })).toMatchInlineSnapshot(
      `"properties.RestrictAddressFamilies: 'none' would deny AF_UNIX too: Node and the unitpool supervisor talk to the workers over AF_UNIX socketpairs; write ['AF_UNIX'] to allow nothing else (got "none"); expected an allow-list (['AF_UNIX', 'AF_INET']), { deny: [...] } or '~AF_INET6 AF_PACKET' (deny); AF_UNIX must stay allowed (e.g. ['AF_UNIX'])"`,
    );
    expect(message({ RestrictAddressFamilies: ['AF_UNIX', '~AF_INET'] })).toMatchInlineSnapshot(
      `"properties.RestrictAddressFamilies[1]: '~' may only start the list (it turns the whole list into a deny-list) (got array of 2); expected an allow-list (['AF_UNIX', 'AF_INET']), { deny: [...] } or '~AF_INET6 AF_PACKET' (deny); AF_UNIX must stay allowed (e.g. ['AF_UNIX'])"`,
    );
    expect(message({ RestrictAddressFamilies: [] })).toMatchInlineSnapshot(
      `"properties.RestrictAddressFamilies: an empty list; leave the property out instead (got array of 0); expected an allow-list (['AF_UNIX', 'AF_INET']), { deny: [...] } or '~AF_INET6 AF_PACKET' (deny); AF_UNIX must stay allowed (e.g. ['AF_UNIX'])"`,
    );
  });

  test('IP access lists', () => {
    expect(message({ IPAddressDeny: 'everything' })).toMatchInlineSnapshot(
      `"properties.IPAddressDeny: 'everything' is not an IPv4 or IPv6 address (got "everything"); expected IPv4/IPv6 addresses or prefixes ('10.0.0.0/8', '::1'), or 'any', 'localhost', 'link-local', 'multicast'; one or an array (e.g. 'any')"`,
    );
    expect(message({ IPAddressAllow: '10.0.0.0/40' })).toMatchInlineSnapshot(
      `"properties.IPAddressAllow: '/40' is not a prefix length for IPv4 (0-32) (got "10.0.0.0/40"); expected IPv4/IPv6 addresses or prefixes ('10.0.0.0/8', '::1'), or 'any', 'localhost', 'link-local', 'multicast'; one or an array (e.g. ['localhost'])"`,
    );
    expect(message({ IPAddressAllow: [] })).toMatchInlineSnapshot(
      `"properties.IPAddressAllow: empty (got array of 0); expected IPv4/IPv6 addresses or prefixes ('10.0.0.0/8', '::1'), or 'any', 'localhost', 'link-local', 'multicast'; one or an array (e.g. ['localhost'])"`,
    );
  });

  test('RestrictNamespaces', () => {
    expect(message({ RestrictNamespaces: ['network'] })).toMatchInlineSnapshot(
      `"properties.RestrictNamespaces[0]: unknown namespace type 'network' (got array of 1); expected true (no new namespaces), false, an allow-list (['net']), or { deny: ['user'] } of cgroup, ipc, net, mnt, pid, user, uts (e.g. true)"`,
    );
    expect(message({ RestrictNamespaces: 'yes' })).toMatchInlineSnapshot(
      `"properties.RestrictNamespaces: not an allow-list or a deny-list (got "yes"); expected true (no new namespaces), false, an allow-list (['net']), or { deny: ['user'] } of cgroup, ipc, net, mnt, pid, user, uts (e.g. true)"`,
    );
  });

  test('MemoryDenyWriteExecute breaks V8', () => {
    expect(message({ MemoryDenyWriteExecute: true })).toMatchInlineSnapshot(
      `"properties.MemoryDenyWriteExecute: it breaks V8's JIT: Node aborts at start (V8 cannot make its compiled code executable). Run the workers with --jitless (slower, no WebAssembly) to use it (got true); expected false, or leave it out"`,
    );
  });

  test('capabilities', () => {
    expect(message({ CapabilityBoundingSet: ['CAP_NET_ADMN'] })).toMatchInlineSnapshot(
      `"properties.CapabilityBoundingSet[0]: unknown capability "CAP_NET_ADMN"; did you mean 'CAP_NET_ADMIN'? (got array of 1); expected capabilities to keep (['CAP_NET_BIND_SERVICE'] or ['net_bind_service']), [] for none, { drop: [...] } or '~CAP_SYS_ADMIN' to remove some (e.g. { drop: ['CAP_SYS_ADMIN'] })"`,
    );
    expect(message({ CapabilityBoundingSet: ['sys_admn'] })).toMatchInlineSnapshot(
      `"properties.CapabilityBoundingSet[0]: unknown capability "sys_admn"; did you mean 'CAP_SYS_ADMIN'? (got array of 1); expected capabilities to keep (['CAP_NET_BIND_SERVICE'] or ['net_bind_service']), [] for none, { drop: [...] } or '~CAP_SYS_ADMIN' to remove some (e.g. { drop: ['CAP_SYS_ADMIN'] })"`,
    );
    expect(message({ CapabilityBoundingSet: { keep: ['CAP_CHOWN'] } })).toMatchInlineSnapshot(
      `"properties.CapabilityBoundingSet: not a list of capabilities (got {"keep":["CAP_CHOWN"]}); expected capabilities to keep (['CAP_NET_BIND_SERVICE'] or ['net_bind_service']), [] for none, { drop: [...] } or '~CAP_SYS_ADMIN' to remove some (e.g. { drop: ['CAP_SYS_ADMIN'] })"`,
    );
    expect(
      message({ AmbientCapabilities: ['CAP_NET_RAW'], CapabilityBoundingSet: ['CAP_NET_BIND_SERVICE'] }),
    ).toMatchInlineSnapshot(
      `"properties.AmbientCapabilities: CAP_NET_RAW is not in CapabilityBoundingSet, so systemd cannot grant it (got array of 1); expected capabilities that CapabilityBoundingSet keeps"`,
    );
  });

  test('SystemCallFilter', () => {
    expect(message({ SystemCallFilter: ['@system-service'] })).toMatchInlineSnapshot(
      `"properties.SystemCallFilter: it would block pkey_alloc, which Node needs to start and to talk to its workers; start from ['@system-service', '@pkey'] and deny what you do not want (block networking with PrivateNetwork or RestrictAddressFamilies instead) (got array of 1); expected an allow-list (['@system-service', '@pkey']), a deny-list ('~@mount @swap', ['~@mount'] or { deny: ['@mount', 'ptrace:EPERM'] }), or { allow, deny } (deny applied after allow) (e.g. ['@system-service', '@pkey'])"`,
    );
    expect(message({ SystemCallFilter: ['@basic-io'] })).toMatchInlineSnapshot(
      `"properties.SystemCallFilter: it would block access, capget, clone, clone3, epoll_create1, epoll_ctl, epoll_pwait, eventfd2 and 23 more, which Node needs to start and to talk to its workers; start from ['@system-service', '@pkey'] and deny what you do not want (block networking with PrivateNetwork or RestrictAddressFamilies instead) (got array of 1); expected an allow-list (['@system-service', '@pkey']), a deny-list ('~@mount @swap', ['~@mount'] or { deny: ['@mount', 'ptrace:EPERM'] }), or { allow, deny } (deny applied after allow) (e.g. ['@system-service', '@pkey'])"`,
    );
    expect(message({ SystemCallFilter: '~@network-io' })).toMatchInlineSnapshot(
      `"properties.SystemCallFilter: it would block getsockname, getsockopt, recvmsg, sendmsg, shutdown, socketpair, which Node needs to start and to talk to its workers; start from ['@system-service', '@pkey'] and deny what you do not want (block networking with PrivateNetwork or RestrictAddressFamilies instead) (got "~@network-io"); expected an allow-list (['@system-service', '@pkey']), a deny-list ('~@mount @swap', ['~@mount'] or { deny: ['@mount', 'ptrace:EPERM'] }), or { allow, deny } (deny applied after allow) (e.g. ['@system-service', '@pkey'])"`,
    );
    expect(message({ SystemCallFilter: '~@mount @sawp' })).toMatchInlineSnapshot(
      `"properties.SystemCallFilter: unknown syscall group '@sawp'; did you mean '@swap'? (got "~@mount @sawp"); expected an allow-list (['@system-service', '@pkey']), a deny-list ('~@mount @swap', ['~@mount'] or { deny: ['@mount', 'ptrace:EPERM'] }), or { allow, deny } (deny applied after allow) (e.g. ['@system-service', '@pkey'])"`,
    );
    expect(message({ SystemCallFilter: '~mount reboto' })).toMatchInlineSnapshot(
      `"properties.SystemCallFilter: unknown syscall 'reboto' (systemd would silently skip it); did you mean 'reboot'? (got "~mount reboto"); expected an allow-list (['@system-service', '@pkey']), a deny-list ('~@mount @swap', ['~@mount'] or { deny: ['@mount', 'ptrace:EPERM'] }), or { allow, deny } (deny applied after allow) (e.g. ['@system-service', '@pkey'])"`,
    );
    expect(message({ SystemCallFilter: ['@system-service', '@pkey', 'ptrace:EPERM'] })).toMatchInlineSnapshot(
      `"properties.SystemCallFilter[2]: 'ptrace:EPERM': an errno can only be given in a deny-list (got array of 3); expected an allow-list (['@system-service', '@pkey']), a deny-list ('~@mount @swap', ['~@mount'] or { deny: ['@mount', 'ptrace:EPERM'] }), or { allow, deny } (deny applied after allow) (e.g. ['@system-service', '@pkey'])"`,
    );
    expect(message({ SystemCallFilter: '~ptrace:EPREM' })).toMatchInlineSnapshot(
      `"properties.SystemCallFilter: unknown errno 'EPREM'; did you mean 'EPERM'? (got "~ptrace:EPREM"); expected an allow-list (['@system-service', '@pkey']), a deny-list ('~@mount @swap', ['~@mount'] or { deny: ['@mount', 'ptrace:EPERM'] }), or { allow, deny } (deny applied after allow) (e.g. ['@system-service', '@pkey'])"`,
    );
    expect(
      message({ SystemCallFilter: { allow: ['@system-service', '@pkey'], deny: ['~@mount'] } }),
    ).toMatchInlineSnapshot(
      `"properties.SystemCallFilter.deny[0]: no '~' inside { deny } (the key says which list it is) (got {"allow":["@system-service","@pkey"],"deny":["~@mount"]}); expected an allow-list (['@system-service', '@pkey']), a deny-list ('~@mount @swap', ['~@mount'] or { deny: ['@mount', 'ptrace:EPERM'] }), or { allow, deny } (deny applied after allow) (e.g. ['@system-service', '@pkey'])"`,
    );
    expect(message({ SystemCallFilter: { deny: [] } })).toMatchInlineSnapshot(
      `"properties.SystemCallFilter.deny: deny must be a non-empty array (got {"deny":[]}); expected an allow-list (['@system-service', '@pkey']), a deny-list ('~@mount @swap', ['~@mount'] or { deny: ['@mount', 'ptrace:EPERM'] }), or { allow, deny } (deny applied after allow) (e.g. ['@system-service', '@pkey'])"`,
    );
  });

  test('SystemCallErrorNumber', () => {
    expect(message({ SystemCallFilter: '~@mount', SystemCallErrorNumber: 'EPREM' })).toMatchInlineSnapshot(
      `"properties.SystemCallErrorNumber: unknown errno 'EPREM'; did you mean 'EPERM'? (got "EPREM"); expected an errno name ('EPERM'), a number from 1 to 4095, or 'kill' (systemd's default: the caller dies of SIGSYS) (e.g. 'EPERM')"`,
    );
    expect(message({ SystemCallFilter: '~@mount', SystemCallErrorNumber: 0 })).toMatchInlineSnapshot(
      `"properties.SystemCallErrorNumber: an errno number is from 1 to 4095 (got 0); expected an errno name ('EPERM'), a number from 1 to 4095, or 'kill' (systemd's default: the caller dies of SIGSYS) (e.g. 'EPERM')"`,
    );
    expect(message({ SystemCallErrorNumber: 'EPERM' })).toMatchInlineSnapshot(
      `"properties.SystemCallErrorNumber: it only changes what SystemCallFilter does to the calls it blocks, and there is no SystemCallFilter (got "EPERM"); expected SystemCallFilter as well, e.g. ['@system-service', '@pkey']"`,
    );
  });

  test('SystemCallArchitectures', () => {
    expect(message({ SystemCallArchitectures: 'x86_64' })).toMatchInlineSnapshot(
      `"properties.SystemCallArchitectures: unknown architecture "x86_64"; did you mean 'x86-64'? (got "x86_64"); expected 'native' or an array of architectures (['native', 'x86']) (e.g. 'native')"`,
    );
    expect(message({ SystemCallArchitectures: [] })).toMatchInlineSnapshot(
      `"properties.SystemCallArchitectures: empty (got array of 0); expected 'native' or an array of architectures (['native', 'x86']) (e.g. 'native')"`,
    );
  });

  test('SELinuxContext and AppArmorProfile', () => {
    expect(message({ SELinuxContext: '-system_u:system_r:x_t' })).toMatchInlineSnapshot(
      `"properties.SELinuxContext: a '-' prefix is not passed through D-Bus; give the context itself (got "-system_u:system_r:x_t"); expected an SELinux context ('system_u:system_r:myjob_t:s0') (e.g. 'system_u:system_r:unconfined_t:s0')"`,
    );
    expect(message({ SELinuxContext: 'unconfined' })).toMatchInlineSnapshot(
      `"properties.SELinuxContext: not a context of the form user:role:type[:level] (got "unconfined"); expected an SELinux context ('system_u:system_r:myjob_t:s0') (e.g. 'system_u:system_r:unconfined_t:s0')"`,
    );
    expect(message({ AppArmorProfile: '' })).toMatchInlineSnapshot(
      `"properties.AppArmorProfile: not an AppArmor profile name (got ""); expected a loaded profile name ('myjob'), '-myjob' or { profile, ignoreErrors: true } to go on without it (e.g. 'unitpool-worker')"`,
    );
    expect(message({ AppArmorProfile: { profile: 'x', ignoreErrors: 'yes' } })).toMatchInlineSnapshot(
      `"properties.AppArmorProfile.ignoreErrors: ignoreErrors must be a boolean (got {"profile":"x","ignoreErrors":"yes"}); expected a loaded profile name ('myjob'), '-myjob' or { profile, ignoreErrors: true } to go on without it (e.g. 'unitpool-worker')"`,
    );
  });

  test('ProtectProc and ProcSubset', () => {
    expect(message({ ProtectProc: 'hidden' })).toMatchInlineSnapshot(
      `"properties.ProtectProc: unknown value (got "hidden"); expected 'noaccess', 'invisible', 'ptraceable' or 'default' (e.g. 'invisible')"`,
    );
    expect(message({ ProcSubset: 'pids' })).toMatchInlineSnapshot(
      `"properties.ProcSubset: unknown value; did you mean 'pid'? (got "pids"); expected 'all' or 'pid' (e.g. 'pid')"`,
    );
  });
});

describe('environment', () => {
  test('names and values', () => {
    expect(message({ Environment: { '1BAD': 'x' } })).toMatchInlineSnapshot(
      `"properties.Environment: "1BAD" is not a valid variable name (got {"1BAD":"x"}); expected names of letters, digits and _, not starting with a digit"`,
    );
    expect(message({ Environment: { A: 1 } })).toMatchInlineSnapshot(
      `"properties.Environment.A: an environment value must be a string (got 1); expected a string, e.g. { A: '1' }"`,
    );
    expect(message({ Environment: ['NOEQUALS'] })).toMatchInlineSnapshot(
      `"properties.Environment[0]: not a NAME=value string (got "NOEQUALS"); expected { NAME: 'value' } or ['NAME=value'], e.g. { NODE_ENV: 'production' }"`,
    );
    expect(message({ Environment: { A: 'a\0b' } })).toMatchInlineSnapshot(
      `"properties.Environment.A: the value contains a NUL character (got {"A":"a\\u0000b"}); expected a string without NUL characters"`,
    );
    expect(message({ Environment: { NODE_CHANNEL_FD: '3' } })).toMatchInlineSnapshot(
      `"properties.Environment: NODE_CHANNEL_FD cannot be passed to workers (Node would treat it as its own IPC channel) (got {"NODE_CHANNEL_FD":"3"}); expected other variable names"`,
    );
    expect(message({ Environment: 'A=1' })).toMatchInlineSnapshot(
      `"properties.Environment: not a set of environment variables (got "A=1"); expected { NAME: 'value' } or ['NAME=value'], e.g. { NODE_ENV: 'production' }"`,
    );
  });
});
