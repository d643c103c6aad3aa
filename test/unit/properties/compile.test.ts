import { describe, expect, test } from 'vitest';
import { OptionError } from '../../../src/errors.js';
import { checkRaw, type UnitProperties } from '../../../src/properties/index.js';
import { compile, message, optionError } from './helpers.js';

const INF = 18446744073709551615n;
const hex = (h: string) => Buffer.from(h, 'hex');

describe('compile output, property by property', () => {
  const cases: [string, UnitProperties, unknown[][]][] = [
    // Resources
    ['CPUQuota percent', { CPUQuota: '20%' }, [['CPUQuotaPerSecUSec', 't', 200000]]],
    ['CPUQuota fraction', { CPUQuota: 0.2 }, [['CPUQuotaPerSecUSec', 't', 200000]]],
    ['CPUQuota above one CPU', { CPUQuota: '150%' }, [['CPUQuotaPerSecUSec', 't', 1500000]]],
    ['CPUQuota 1.5 CPUs', { CPUQuota: 1.5 }, [['CPUQuotaPerSecUSec', 't', 1500000]]],
    ['CPUQuota decimals', { CPUQuota: '12.5%' }, [['CPUQuotaPerSecUSec', 't', 125000]]],
    ['CPUWeight', { CPUWeight: 20 }, [['CPUWeight', 't', 20]]],
    ['CPUWeight idle', { CPUWeight: 'idle' }, [['CPUWeight', 't', 0]]],
    ['AllowedCPUs string', { AllowedCPUs: '0-1,3' }, [['AllowedCPUs', 'ay', hex('0b')]]],
    ['AllowedCPUs array', { AllowedCPUs: [4] }, [['AllowedCPUs', 'ay', hex('10')]]],
    ['MemoryMax M', { MemoryMax: '512M' }, [['MemoryMax', 't', 536870912]]],
    ['MemoryMax G fraction', { MemoryMax: '1.5G' }, [['MemoryMax', 't', 1610612736]]],
    ['MemoryMax bytes', { MemoryMax: 104857600 }, [['MemoryMax', 't', 104857600]]],
    ['MemoryMax BigInt', { MemoryMax: 2n ** 60n }, [['MemoryMax', 't', 1152921504606846976n]]],
    ['MemoryMax infinity', { MemoryMax: 'infinity' }, [['MemoryMax', 't', INF]]],
    ['MemoryMax percent', { MemoryMax: '50%' }, [['MemoryMaxScale', 'u', 2147483648]]],
    ['MemoryHigh', { MemoryHigh: '384M' }, [['MemoryHigh', 't', 402653184]]],
    ['MemoryHigh percent', { MemoryHigh: '25%' }, [['MemoryHighScale', 'u', 1073741824]]],
    ['MemorySwapMax 0', { MemorySwapMax: 0 }, [['MemorySwapMax', 't', 0]]],
    ['MemorySwapMax percent', { MemorySwapMax: '10%' }, [['MemorySwapMaxScale', 'u', 429496730]]],
    ['TasksMax', { TasksMax: 512 }, [['TasksMax', 't', 512]]],
    ['TasksMax infinity', { TasksMax: 'infinity' }, [['TasksMax', 't', INF]]],
    ['TasksMax percent', { TasksMax: '10%' }, [['TasksMaxScale', 'u', 429496730]]],
    ['IOWeight', { IOWeight: 50 }, [['IOWeight', 't', 50]]],
    ['Nice', { Nice: 10 }, [['Nice', 'i', 10]]],
    ['Nice lowest', { Nice: -20 }, [['Nice', 'i', -20]]],
    ['RuntimeMaxSec string', { RuntimeMaxSec: '1h' }, [['RuntimeMaxUSec', 't', 3600000000]]],
    ['RuntimeMaxSec compound', { RuntimeMaxSec: '1h 30s' }, [['RuntimeMaxUSec', 't', 3630000000]]],
    ['RuntimeMaxSec seconds', { RuntimeMaxSec: 30 }, [['RuntimeMaxUSec', 't', 30000000]]],
    ['RuntimeMaxSec ms', { RuntimeMaxSec: '250ms' }, [['RuntimeMaxUSec', 't', 250000]]],
    ['RuntimeMaxSec infinity', { RuntimeMaxSec: 'infinity' }, [['RuntimeMaxUSec', 't', INF]]],
    ['OOMScoreAdjust', { OOMScoreAdjust: 500 }, [['OOMScoreAdjust', 'i', 500]]],
    ['OOMPolicy', { OOMPolicy: 'kill' }, [['OOMPolicy', 's', 'kill']]],
    // Limits: hard first, then soft (systemd sets both on the first, then the soft one).
    [
      'LimitNOFILE one value',
      { LimitNOFILE: 4096 },
      [
        ['LimitNOFILE', 't', 4096],
        ['LimitNOFILESoft', 't', 4096],
      ],
    ],
    [
      'LimitNOFILE soft:hard',
      { LimitNOFILE: '1024:4096' },
      [
        ['LimitNOFILE', 't', 4096],
        ['LimitNOFILESoft', 't', 1024],
      ],
    ],
    [
      'LimitNOFILE object',
      { LimitNOFILE: { soft: 1024, hard: 4096 } },
      [
        ['LimitNOFILE', 't', 4096],
        ['LimitNOFILESoft', 't', 1024],
      ],
    ],
    [
      'LimitCPU',
      { LimitCPU: '5min' },
      [
        ['LimitCPU', 't', 300],
        ['LimitCPUSoft', 't', 300],
      ],
    ],
    [
      'LimitCPU rounds up',
      { LimitCPU: '1500ms' },
      [
        ['LimitCPU', 't', 2],
        ['LimitCPUSoft', 't', 2],
      ],
    ],
    [
      'LimitCPU infinity',
      { LimitCPU: 'infinity' },
      [
        ['LimitCPU', 't', INF],
        ['LimitCPUSoft', 't', INF],
      ],
    ],
    [
      'LimitFSIZE',
      { LimitFSIZE: '1G' },
      [
        ['LimitFSIZE', 't', 1073741824],
        ['LimitFSIZESoft', 't', 1073741824],
      ],
    ],
    [
      'LimitDATA',
      { LimitDATA: '2G' },
      [
        ['LimitDATA', 't', 2147483648],
        ['LimitDATASoft', 't', 2147483648],
      ],
    ],
    [
      'LimitSTACK',
      { LimitSTACK: '8M' },
      [
        ['LimitSTACK', 't', 8388608],
        ['LimitSTACKSoft', 't', 8388608],
      ],
    ],
    [
      'LimitCORE',
      { LimitCORE: 0 },
      [
        ['LimitCORE', 't', 0],
        ['LimitCORESoft', 't', 0],
      ],
    ],
    [
      'LimitAS',
      { LimitAS: '16G' },
      [
        ['LimitAS', 't', 17179869184],
        ['LimitASSoft', 't', 17179869184],
      ],
    ],
    [
      'LimitAS infinity',
      { LimitAS: 'infinity' },
      [
        ['LimitAS', 't', INF],
        ['LimitASSoft', 't', INF],
      ],
    ],
    [
      'LimitNPROC',
      { LimitNPROC: 1024 },
      [
        ['LimitNPROC', 't', 1024],
        ['LimitNPROCSoft', 't', 1024],
      ],
    ],
    [
      'LimitMEMLOCK',
      { LimitMEMLOCK: '8M' },
      [
        ['LimitMEMLOCK', 't', 8388608],
        ['LimitMEMLOCKSoft', 't', 8388608],
      ],
    ],
    [
      'LimitLOCKS',
      { LimitLOCKS: 1024 },
      [
        ['LimitLOCKS', 't', 1024],
        ['LimitLOCKSSoft', 't', 1024],
      ],
    ],
    [
      'LimitSIGPENDING',
      { LimitSIGPENDING: '1024' as never },
      [
        ['LimitSIGPENDING', 't', 1024],
        ['LimitSIGPENDINGSoft', 't', 1024],
      ],
    ],
    [
      'LimitMSGQUEUE',
      { LimitMSGQUEUE: '1M' },
      [
        ['LimitMSGQUEUE', 't', 1048576],
        ['LimitMSGQUEUESoft', 't', 1048576],
      ],
    ],
    [
      'LimitNICE level 0',
      { LimitNICE: 0 },
      [
        ['LimitNICE', 't', 20],
        ['LimitNICESoft', 't', 20],
      ],
    ],
    [
      'LimitNICE soft/hard levels',
      { LimitNICE: { soft: 5, hard: -5 } },
      [
        ['LimitNICE', 't', 25],
        ['LimitNICESoft', 't', 15],
      ],
    ],
    [
      'LimitRTPRIO',
      { LimitRTPRIO: 0 },
      [
        ['LimitRTPRIO', 't', 0],
        ['LimitRTPRIOSoft', 't', 0],
      ],
    ],
    [
      'LimitRTTIME string',
      { LimitRTTIME: '50ms' },
      [
        ['LimitRTTIME', 't', 50000],
        ['LimitRTTIMESoft', 't', 50000],
      ],
    ],
    [
      'LimitRTTIME number is µs',
      { LimitRTTIME: 500 },
      [
        ['LimitRTTIME', 't', 500],
        ['LimitRTTIMESoft', 't', 500],
      ],
    ],
    // Identity
    ['User name', { User: 'nobody' }, [['User', 's', 'nobody']]],
    ['User uid', { User: 65534 }, [['User', 's', '65534']]],
    ['Group', { Group: 'nogroup' }, [['Group', 's', 'nogroup']]],
    ['SupplementaryGroups', { SupplementaryGroups: ['nogroup', 0] }, [['SupplementaryGroups', 'as', ['nogroup', '0']]]],
    ['DynamicUser', { DynamicUser: true }, [['DynamicUser', 'b', true]]],
    ['UMask string', { UMask: '0077' }, [['UMask', 'u', 0o077]]],
    ['UMask number', { UMask: 0o027 }, [['UMask', 'u', 0o027]]],
    // Filesystem
    ['ProtectSystem true', { ProtectSystem: true }, [['ProtectSystem', 's', 'yes']]],
    ['ProtectSystem false', { ProtectSystem: false }, [['ProtectSystem', 's', 'no']]],
    ['ProtectSystem strict', { ProtectSystem: 'strict' }, [['ProtectSystem', 's', 'strict']]],
    ['ProtectSystem full', { ProtectSystem: 'full' }, [['ProtectSystem', 's', 'full']]],
    ['ProtectHome true', { ProtectHome: true }, [['ProtectHome', 's', 'yes']]],
    ['ProtectHome read-only', { ProtectHome: 'read-only' }, [['ProtectHome', 's', 'read-only']]],
    ['ProtectHome tmpfs', { ProtectHome: 'tmpfs' }, [['ProtectHome', 's', 'tmpfs']]],
    ['PrivateTmp', { PrivateTmp: true }, [['PrivateTmp', 'b', true]]],
    ['PrivateDevices', { PrivateDevices: false }, [['PrivateDevices', 'b', false]]],
    [
      'ReadOnlyPaths with prefixes',
      { ReadOnlyPaths: ['/usr', '-/no/such/dir', '+/etc'] },
      [['ReadOnlyPaths', 'as', ['/usr', '-/no/such/dir', '+/etc']]],
    ],
    ['ReadWritePaths one', { ReadWritePaths: '/tmp' }, [['ReadWritePaths', 'as', ['/tmp']]]],
    ['InaccessiblePaths', { InaccessiblePaths: ['-/etc/ssh'] }, [['InaccessiblePaths', 'as', ['-/etc/ssh']]]],
    [
      'BindPaths, mixed forms',
      {
        BindPaths: [
          '/tmp:/mnt/x:norbind',
          { source: '/etc', readOnly: true },
          '-/no/such/dir',
          { source: '/usr', destination: '/opt/usr', recursive: false },
        ],
      },
      [
        [
          'BindPaths',
          'a(ssbt)',
          [
            ['/tmp', '/mnt/x', false, 0],
            ['/no/such/dir', '/no/such/dir', true, 16384],
            ['/usr', '/opt/usr', false, 0],
          ],
        ],
        ['BindReadOnlyPaths', 'a(ssbt)', [['/etc', '/etc', false, 16384]]],
      ],
    ],
    [
      'BindReadOnlyPaths',
      { BindReadOnlyPaths: '/etc:/srv/etc' },
      [['BindReadOnlyPaths', 'a(ssbt)', [['/etc', '/srv/etc', false, 16384]]]],
    ],
    [
      'TemporaryFileSystem string',
      { TemporaryFileSystem: '/var:ro' },
      [['TemporaryFileSystem', 'a(ss)', [['/var', 'ro']]]],
    ],
    [
      'TemporaryFileSystem objects',
      { TemporaryFileSystem: [{ path: '/srv', options: ['ro', 'mode=0755'] }, '/mnt'] },
      [
        [
          'TemporaryFileSystem',
          'a(ss)',
          [
            ['/srv', 'ro,mode=0755'],
            ['/mnt', ''],
          ],
        ],
      ],
    ],
    ['RootDirectory', { RootDirectory: '/tmp' }, [['RootDirectory', 's', '/tmp']]],
    ['WorkingDirectory', { WorkingDirectory: '/tmp' }, [['WorkingDirectory', 's', '/tmp']]],
    ['WorkingDirectory home', { WorkingDirectory: '~' }, [['WorkingDirectory', 's', '~']]],
    [
      'WorkingDirectory missing ok',
      { WorkingDirectory: '-/no/such/dir' },
      [['WorkingDirectory', 's', '-/no/such/dir']],
    ],
    [
      'RuntimeDirectory',
      { RuntimeDirectory: ['myjob', 'myjob/cache'] },
      [['RuntimeDirectory', 'as', ['myjob', 'myjob/cache']]],
    ],
    // Network and kernel
    ['PrivateNetwork', { PrivateNetwork: true }, [['PrivateNetwork', 'b', true]]],
    [
      'RestrictAddressFamilies allow',
      { RestrictAddressFamilies: ['AF_UNIX', 'AF_INET'] },
      [['RestrictAddressFamilies', '(bas)', [true, ['AF_UNIX', 'AF_INET']]]],
    ],
    [
      'RestrictAddressFamilies deny string',
      { RestrictAddressFamilies: '~AF_INET6 AF_PACKET' },
      [['RestrictAddressFamilies', '(bas)', [false, ['AF_INET6', 'AF_PACKET']]]],
    ],
    [
      'RestrictAddressFamilies deny object',
      { RestrictAddressFamilies: { deny: ['AF_INET'] } },
      [['RestrictAddressFamilies', '(bas)', [false, ['AF_INET']]]],
    ],
    [
      'IPAddressAllow localhost',
      { IPAddressAllow: 'localhost' },
      [
        [
          'IPAddressAllow',
          'a(iayu)',
          [
            [2, hex('7f000000'), 8],
            [10, hex('00000000000000000000000000000001'), 128],
          ],
        ],
      ],
    ],
    [
      'IPAddressDeny any and prefixes',
      { IPAddressDeny: ['any', '10.1.0.0/16 192.168.0.1'] },
      [
        [
          'IPAddressDeny',
          'a(iayu)',
          [
            [2, hex('00000000'), 0],
            [10, hex('00000000000000000000000000000000'), 0],
            [2, hex('0a010000'), 16],
            [2, hex('c0a80001'), 32],
          ],
        ],
      ],
    ],
    [
      'IPAddressDeny link-local and multicast',
      { IPAddressDeny: ['link-local', 'multicast'] },
      [
        [
          'IPAddressDeny',
          'a(iayu)',
          [
            [2, hex('a9fe0000'), 16],
            [10, hex('fe800000000000000000000000000000'), 64],
            [2, hex('e0000000'), 4],
            [10, hex('ff000000000000000000000000000000'), 8],
          ],
        ],
      ],
    ],
    ['PrivateIPC', { PrivateIPC: true }, [['PrivateIPC', 'b', true]]],
    ['ProtectKernelTunables', { ProtectKernelTunables: true }, [['ProtectKernelTunables', 'b', true]]],
    ['ProtectKernelModules', { ProtectKernelModules: true }, [['ProtectKernelModules', 'b', true]]],
    ['ProtectKernelLogs', { ProtectKernelLogs: true }, [['ProtectKernelLogs', 'b', true]]],
    ['ProtectControlGroups', { ProtectControlGroups: true }, [['ProtectControlGroups', 'b', true]]],
    ['ProtectClock', { ProtectClock: true }, [['ProtectClock', 'b', true]]],
    ['ProtectHostname', { ProtectHostname: true }, [['ProtectHostname', 'b', true]]],
    ['ProtectProc', { ProtectProc: 'invisible' }, [['ProtectProc', 's', 'invisible']]],
    ['ProcSubset', { ProcSubset: 'pid' }, [['ProcSubset', 's', 'pid']]],
    ['RestrictNamespaces true: none allowed', { RestrictNamespaces: true }, [['RestrictNamespaces', 't', 0]]],
    ['RestrictNamespaces false: all allowed', { RestrictNamespaces: false }, [['RestrictNamespaces', 't', 0x7e020000]]],
    [
      'RestrictNamespaces allow-list',
      { RestrictNamespaces: ['net', 'mnt'] },
      [['RestrictNamespaces', 't', 0x40020000]],
    ],
    ['RestrictNamespaces deny', { RestrictNamespaces: { deny: ['user'] } }, [['RestrictNamespaces', 't', 0x6e020000]]],
    ['LockPersonality', { LockPersonality: true }, [['LockPersonality', 'b', true]]],
    ['MemoryDenyWriteExecute off', { MemoryDenyWriteExecute: false }, [['MemoryDenyWriteExecute', 'b', false]]],
    ['NoNewPrivileges', { NoNewPrivileges: true }, [['NoNewPrivileges', 'b', true]]],
    ['RestrictSUIDSGID', { RestrictSUIDSGID: true }, [['RestrictSUIDSGID', 'b', true]]],
    ['RestrictRealtime', { RestrictRealtime: true }, [['RestrictRealtime', 'b', true]]],
    [
      'CapabilityBoundingSet keep',
      { CapabilityBoundingSet: ['CAP_NET_BIND_SERVICE', 'net_admin', 'cap_chown'] },
      [['CapabilityBoundingSet', 't', 1 + 1024 + 4096]],
    ],
    ['CapabilityBoundingSet none', { CapabilityBoundingSet: [] }, [['CapabilityBoundingSet', 't', 0]]],
    [
      'CapabilityBoundingSet drop',
      { CapabilityBoundingSet: { drop: ['CAP_SYS_ADMIN'] } },
      [['CapabilityBoundingSet', 't', INF - 2n ** 21n]],
    ],
    [
      'CapabilityBoundingSet ~string',
      { CapabilityBoundingSet: '~cap_sys_admin' },
      [['CapabilityBoundingSet', 't', INF - 2n ** 21n]],
    ],
    [
      'CapabilityBoundingSet highest bit',
      { CapabilityBoundingSet: ['CAP_CHECKPOINT_RESTORE'] },
      [['CapabilityBoundingSet', 't', 2 ** 40]],
    ],
    ['AmbientCapabilities', { AmbientCapabilities: ['CAP_NET_BIND_SERVICE'] }, [['AmbientCapabilities', 't', 1024]]],
    [
      'SystemCallFilter allow',
      { SystemCallFilter: ['@system-service', '@pkey'] },
      [['SystemCallFilter', '(bas)', [true, ['@system-service', '@pkey']]]],
    ],
    [
      'SystemCallFilter deny string',
      { SystemCallFilter: '~@mount @swap' },
      [['SystemCallFilter', '(bas)', [false, ['@mount', '@swap']]]],
    ],
    [
      'SystemCallFilter deny array',
      { SystemCallFilter: ['~@mount', 'reboot'] },
      [['SystemCallFilter', '(bas)', [false, ['@mount', 'reboot']]]],
    ],
    [
      'SystemCallFilter allow then deny',
      { SystemCallFilter: { allow: ['@system-service', '@pkey'], deny: ['@mount', 'ptrace:EPERM'] } },
      [
        ['SystemCallFilter', '(bas)', [true, ['@system-service', '@pkey']]],
        ['SystemCallFilter', '(bas)', [false, ['@mount', 'ptrace:EPERM']]],
      ],
    ],
    [
      'SystemCallErrorNumber name',
      { SystemCallFilter: '~@mount', SystemCallErrorNumber: 'EPERM' },
      [
        ['SystemCallFilter', '(bas)', [false, ['@mount']]],
        ['SystemCallErrorNumber', 'i', 1],
      ],
    ],
    [
      'SystemCallErrorNumber number',
      { SystemCallFilter: '~@mount', SystemCallErrorNumber: 38 },
      [
        ['SystemCallFilter', '(bas)', [false, ['@mount']]],
        ['SystemCallErrorNumber', 'i', 38],
      ],
    ],
    [
      'SystemCallErrorNumber number string',
      { SystemCallFilter: '~@mount', SystemCallErrorNumber: '38' },
      [
        ['SystemCallFilter', '(bas)', [false, ['@mount']]],
        ['SystemCallErrorNumber', 'i', 38],
      ],
    ],
    [
      'SystemCallErrorNumber kill',
      { SystemCallFilter: '~@mount', SystemCallErrorNumber: 'kill' },
      [
        ['SystemCallFilter', '(bas)', [false, ['@mount']]],
        ['SystemCallErrorNumber', 'i', 2147483646],
      ],
    ],
    [
      'SystemCallArchitectures native',
      { SystemCallArchitectures: 'native' },
      [['SystemCallArchitectures', 'as', ['native']]],
    ],
    [
      'SystemCallArchitectures list',
      { SystemCallArchitectures: ['native', 'x86'] },
      [['SystemCallArchitectures', 'as', ['native', 'x86']]],
    ],
    [
      'SELinuxContext',
      { SELinuxContext: 'system_u:system_r:unconfined_t:s0' },
      [['SELinuxContext', 's', 'system_u:system_r:unconfined_t:s0']],
    ],
    ['AppArmorProfile', { AppArmorProfile: 'myjob' }, [['AppArmorProfile', '(bs)', [false, 'myjob']]]],
    ['AppArmorProfile ignore', { AppArmorProfile: '-myjob' }, [['AppArmorProfile', '(bs)', [true, 'myjob']]]],
    [
      'AppArmorProfile object',
      { AppArmorProfile: { profile: 'myjob', ignoreErrors: true } },
      [['AppArmorProfile', '(bs)', [true, 'myjob']]],
    ],
    // Environment
    ['Environment record', { Environment: { A: '1', B: 'x=y' } }, [['Environment', 'as', ['A=1', 'B=x=y']]]],
    ['Environment list', { Environment: ['A=1', 'EMPTY='] }, [['Environment', 'as', ['A=1', 'EMPTY=']]]],
  ];

  test.each(cases)('%s', (_title, props, expected) => {
    expect(compile(props)).toEqual(expected);
  });

  test('MemoryDenyWriteExecute is accepted when the workers run with --jitless', () => {
    expect(compile({ MemoryDenyWriteExecute: true }, { jitless: true })).toEqual([
      ['MemoryDenyWriteExecute', 'b', true],
    ]);
  });

  test('IO bandwidth: device and rate, base 1000', () => {
    expect(compile({ IOReadBandwidthMax: { '/dev/vda': '20M' } }, { checkFiles: false })).toEqual([
      ['IOReadBandwidthMax', 'a(st)', [['/dev/vda', 20000000]]],
    ]);
    expect(compile({ IOWriteBandwidthMax: '/dev/vda 1.5K' }, { checkFiles: false })).toEqual([
      ['IOWriteBandwidthMax', 'a(st)', [['/dev/vda', 1500]]],
    ]);
    expect(compile({ IOWriteBandwidthMax: ['/dev/vda 1G', '/dev/vdb infinity'] }, { checkFiles: false })).toEqual([
      [
        'IOWriteBandwidthMax',
        'a(st)',
        [
          ['/dev/vda', 1000000000],
          ['/dev/vdb', INF],
        ],
      ],
    ]);
  });

  test('output follows the table order, whatever the order of the keys', () => {
    const names = compile({ User: 'nobody', MemoryMax: '1G', CPUQuota: '50%', PrivateNetwork: true }).map(([n]) => n);
    expect(names).toEqual(['CPUQuotaPerSecUSec', 'MemoryMax', 'User', 'PrivateNetwork']);
  });

  test('undefined values are skipped', () => {
    expect(compile({ MemoryMax: undefined, CPUQuota: '10%' })).toEqual([['CPUQuotaPerSecUSec', 't', 100000]]);
  });
});

describe('names', () => {
  test('an unknown name gets a suggestion', () => {
    const err = optionError(() => compile({ CPUQuta: '20%' }));
    expect(err).toBeInstanceOf(OptionError);
    expect(err.option).toBe('properties.CPUQuta');
    expect(err.message).toBe(
      `properties.CPUQuta: unknown property CPUQuta; did you mean CPUQuota? (got "20%"); expected CPUQuota: '50%'`,
    );
  });

  test('a case mistake is named as such', () => {
    expect(message({ cpuQuota: '20%' })).toBe(
      `properties.cpuQuota: unknown property cpuQuota: property names are case-sensitive, as in unit files; did you mean CPUQuota? (got "20%"); expected CPUQuota: '50%'`,
    );
    expect(message({ memorymax: '1G' })).toBe(
      `properties.memorymax: unknown property memorymax: property names are case-sensitive, as in unit files; did you mean MemoryMax? (got "1G"); expected MemoryMax: '512M'`,
    );
  });

  test('a name far from any gets no suggestion', () => {
    expect(message({ Frobnicate: 1 })).toBe(
      'properties.Frobnicate: unknown property Frobnicate (got 1); expected one of the supported properties (see the README table), or the raw option for others',
    );
  });

  test.each(['Type', 'ExecStart', 'StandardOutput', 'KillMode', 'Delegate', 'RemainAfterExit', 'CollectMode'])(
    '%s is set by unitpool',
    (name) => {
      expect(message({ [name]: 'x' })).toBe(
        `properties.${name}: ${name} is set by unitpool itself (the pool depends on it) and cannot be changed (got "x"); expected one of the supported properties (see the README table)`,
      );
    },
  );

  test('old and D-Bus names point to the right one', () => {
    expect(message({ MemoryLimit: '1G' })).toBe(
      'properties.MemoryLimit: MemoryLimit is not supported: MemoryLimit is the old cgroup-v1 name; write MemoryMax (got "1G"); expected one of the supported properties (see the README table)',
    );
    expect(message({ CPUQuotaPerSecUSec: 200000 })).toBe(
      "properties.CPUQuotaPerSecUSec: CPUQuotaPerSecUSec is not supported: write CPUQuota ('20%'); CPUQuotaPerSecUSec is its D-Bus form (got 200000); expected one of the supported properties (see the README table)",
    );
    expect(message({ LimitRSS: '1G' })).toBe(
      'properties.LimitRSS: LimitRSS is not supported: LimitRSS has no effect on Linux; write MemoryMax to cap memory (got "1G"); expected one of the supported properties (see the README table)',
    );
    expect(message({ LimitNOFILESoft: 1024 })).toBe(
      "properties.LimitNOFILESoft: LimitNOFILESoft is not supported: write LimitNOFILE: { soft, hard } (or 'soft:hard') (got 1024); expected one of the supported properties (see the README table)",
    );
  });

  test('null is not a value', () => {
    expect(message({ MemoryMax: null })).toBe(
      "properties.MemoryMax: null is not a value; leave the property out instead (got null); expected a size: '512M', '1.5G' (K, M, G, T, P, E: base 1024), whole bytes as a number, 'infinity', or a share of RAM like '50%' (e.g. '512M')",
    );
  });

  test('the option path can be changed', () => {
    expect(optionError(() => compile({ Nice: 40 }, { path: 'options.properties' })).option).toBe(
      'options.properties.Nice',
    );
  });
});

describe('raw escape hatch', () => {
  test('passed through unchecked, after everything else', () => {
    expect(
      compile(
        { Nice: 5 },
        {
          raw: [
            ['IOSchedulingClass', 'i', 3],
            ['Whatever', 'a{sv}', { x: 1 }],
          ],
        },
      ),
    ).toEqual([
      ['Nice', 'i', 5],
      ['IOSchedulingClass', 'i', 3],
      ['Whatever', 'a{sv}', { x: 1 }],
    ]);
  });

  test('only the shape is checked', () => {
    const expected = "expected [['Name', 'signature', value], ...], e.g. [['IOSchedulingClass', 'i', 3]]";
    expect(optionError(() => checkRaw('x')).message).toBe(
      `raw: not an array of [name, signature, value] (got "x"); ${expected}`,
    );
    expect(optionError(() => checkRaw([['', 'i', 1]])).message).toBe(
      `raw[0]: the name must be a non-empty string (got array of 3); ${expected}`,
    );
    expect(optionError(() => checkRaw([['X', '', 1]])).message).toBe(
      `raw[0]: the signature must be a non-empty string (got array of 3); ${expected}`,
    );
    expect(optionError(() => checkRaw([['X', 'i']])).message).toBe(
      `raw[0]: not a [name, signature, value] triple (got array of 2); ${expected}`,
    );
    expect(optionError(() => checkRaw([['X', 'i', undefined]])).message).toBe(
      `raw[0]: the value is missing (got array of 3); ${expected}`,
    );
  });

  test('names unitpool sets itself are refused even raw', () => {
    expect(optionError(() => checkRaw([['ExecStart', 'a(sasb)', []]])).message).toBe(
      "raw[0]: ExecStart is set by unitpool itself (the pool depends on it) and cannot be changed (got array of 3); expected [['Name', 'signature', value], ...], e.g. [['IOSchedulingClass', 'i', 3]]",
    );
  });
});
