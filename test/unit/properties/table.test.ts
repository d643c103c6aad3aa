// The table is the single source of truth: every row is complete, its example compiles into exactly the
// D-Bus properties it declares, and the docs render every row.
import { describe, expect, test } from 'vitest';
import {
  CAPABILITIES,
  describeNeeds,
  groupMembers,
  HINTS,
  hostRequirements,
  KNOWN_SYSCALLS,
  NODE_SYSCALLS,
  presetsMarkdown,
  propertiesHelpLines,
  propertiesMarkdown,
  PROPERTY_NAMES,
  RESERVED,
  SYSCALL_GROUPS,
  TABLE,
  unitFileForm,
} from '../../../src/properties/index.js';
import { compile } from './helpers.js';

const ISSUE_4 = {
  resources: [
    'CPUQuota',
    'CPUWeight',
    'AllowedCPUs',
    'MemoryMax',
    'MemoryHigh',
    'MemorySwapMax',
    'TasksMax',
    'IOReadBandwidthMax',
    'IOWriteBandwidthMax',
    'IOWeight',
    'Nice',
    'LimitNOFILE',
    'LimitAS',
    'LimitCPU',
    'LimitFSIZE',
    'LimitNPROC',
    'LimitCORE',
    'RuntimeMaxSec',
    'OOMScoreAdjust',
    'OOMPolicy',
  ],
  identity: ['User', 'Group', 'SupplementaryGroups', 'DynamicUser', 'UMask'],
  filesystem: [
    'ProtectSystem',
    'ProtectHome',
    'PrivateTmp',
    'PrivateDevices',
    'ReadOnlyPaths',
    'ReadWritePaths',
    'InaccessiblePaths',
    'BindPaths',
    'BindReadOnlyPaths',
    'TemporaryFileSystem',
    'RootDirectory',
    'WorkingDirectory',
    'RuntimeDirectory',
  ],
  'network-kernel': [
    'PrivateNetwork',
    'RestrictAddressFamilies',
    'IPAddressDeny',
    'IPAddressAllow',
    'PrivateIPC',
    'ProtectKernelTunables',
    'ProtectKernelModules',
    'ProtectKernelLogs',
    'ProtectControlGroups',
    'ProtectClock',
    'ProtectHostname',
    'ProtectProc',
    'RestrictNamespaces',
    'LockPersonality',
    'MemoryDenyWriteExecute',
    'NoNewPrivileges',
    'CapabilityBoundingSet',
    'AmbientCapabilities',
    'SystemCallFilter',
    'SystemCallErrorNumber',
    'SystemCallArchitectures',
    'SELinuxContext',
    'AppArmorProfile',
  ],
  environment: ['Environment'],
} as const;

describe('the table', () => {
  test('holds every property issue 4 asks for, in its category', () => {
    for (const [category, names] of Object.entries(ISSUE_4)) {
      for (const name of names) {
        expect(TABLE, name).toHaveProperty(name);
        expect(TABLE[name as keyof typeof TABLE].category, name).toBe(category);
      }
    }
  });

  test.each(PROPERTY_NAMES)('%s: complete row', (name) => {
    const s = TABLE[name];
    expect(s.doc).toMatch(/^[A-Z'].*\.$/);
    expect(s.forms.length).toBeGreaterThan(5);
    expect(s.unit.length).toBeGreaterThan(2);
    expect(s.dbus.length).toBeGreaterThan(0);
    for (const [dbusName, sig] of s.dbus) {
      expect(dbusName).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(sig).toMatch(/^[a-z()]+$/);
    }
  });

  test.each(PROPERTY_NAMES)('%s: the example compiles into the declared D-Bus properties', (name) => {
    const s = TABLE[name];
    const out = compile({ ...s.exampleWith, [name]: s.example }, { checkFiles: false, jitless: true });
    expect(out.length).toBeGreaterThan(0);
    const declared = s.dbus.map(([n, sig]) => `${n} ${sig}`);
    const companions = Object.keys(s.exampleWith ?? {}).flatMap((c) =>
      TABLE[c as keyof typeof TABLE].dbus.map(([n]) => n),
    );
    for (const [n, sig] of out) if (!companions.includes(n)) expect(declared).toContain(`${n} ${sig}`);
  });

  test('Limit* become LimitX and LimitXSoft', () => {
    for (const name of PROPERTY_NAMES.filter((n) => n.startsWith('Limit'))) {
      expect(TABLE[name].dbus).toEqual([
        [name, 't'],
        [`${name}Soft`, 't'],
      ]);
    }
    expect(PROPERTY_NAMES.filter((n) => n.startsWith('Limit'))).toHaveLength(15); // all but LimitRSS
  });

  test('reserved and hinted names are not in the table', () => {
    for (const n of RESERVED) expect(PROPERTY_NAMES).not.toContain(n);
    for (const n of Object.keys(HINTS)) expect(PROPERTY_NAMES).not.toContain(n);
  });

  test('capabilities carry the kernel numbers', () => {
    expect(CAPABILITIES.indexOf('CAP_NET_BIND_SERVICE')).toBe(10);
    expect(CAPABILITIES.indexOf('CAP_SYS_ADMIN')).toBe(21);
    expect(CAPABILITIES.indexOf('CAP_BPF')).toBe(39);
    expect(CAPABILITIES).toHaveLength(41);
  });
});

describe('syscall data (systemd 252)', () => {
  const expand = (g: string, seen = new Set<string>()): string[] =>
    g.startsWith('@')
      ? seen.has(g)
        ? []
        : (seen.add(g), (groupMembers(g) ?? []).flatMap((m) => expand(m, seen)))
      : [g];

  test('every syscall Node needs is known', () => {
    for (const s of NODE_SYSCALLS) expect(KNOWN_SYSCALLS.has(s), s).toBe(true);
  });

  test('@system-service lacks only pkey_alloc of what Node needs, which @pkey adds', () => {
    const service = new Set(expand('@system-service'));
    expect(NODE_SYSCALLS.filter((s) => !service.has(s))).toEqual(['pkey_alloc']);
    expect(expand('@pkey')).toContain('pkey_alloc');
  });

  test('the groups systemd 252 has', () => {
    expect(Object.keys(SYSCALL_GROUPS)).toEqual(
      expect.arrayContaining([
        '@default',
        '@system-service',
        '@mount',
        '@privileged',
        '@network-io',
        '@pkey',
        '@obsolete',
        '@swap',
      ]),
    );
  });
});

describe('docs', () => {
  test('Markdown: one row per property, with categories', () => {
    const md = propertiesMarkdown();
    for (const name of PROPERTY_NAMES)
      expect(md.split('\n').filter((l) => l.startsWith(`| \`${name}\` |`))).toHaveLength(1);
    expect(md).toContain('### Resources');
    expect(md).toContain('### Network and kernel');
    expect(md).toContain('| Property | What it does | Unit | Example | Host needs |');
    expect(md).toContain(
      "| `MemoryMax` | Hard memory cap of the unit; past it the kernel OOM-kills a worker. Each Node process needs about 40 MB; the supervisor counts too. | bytes | `'512M'` | cgroup memory |",
    );
    const withDbus = propertiesMarkdown({ dbus: true, needs: false, headingLevel: 2 });
    expect(withDbus).toContain('## Resources');
    expect(withDbus).toContain(
      "| `CPUQuota` | Caps the CPU time of all workers together: 100% is one full CPU. The pool sizes maxWorkers to the CPUs this allows. | percent of one CPU | `'50%'` | `CPUQuotaPerSecUSec` `t` |",
    );
  });

  test('help lines in unit-file syntax', () => {
    const lines = propertiesHelpLines();
    expect(lines[0]).toBe('Resources:');
    expect(lines).toContain(
      '  CPUQuota=50%                    Caps the CPU time of all workers together: 100% is one full CPU. [percent of one CPU]',
    );
    for (const name of PROPERTY_NAMES) expect(lines.some((l) => l.startsWith(`  ${name}=`))).toBe(true);
  });

  test('presets as Markdown', () => {
    const md = presetsMarkdown();
    expect(md).toContain('### `untrusted`');
    expect(md).toContain(
      'SystemCallFilter=@system-service @pkey\nSystemCallFilter=~@keyring:EPERM io_uring_setup:EPERM',
    );
    expect(md).toContain('BindPaths=/path/to/project');
    expect(md).toContain('CPUQuota=400%');
  });

  test('unit-file forms of values', () => {
    expect(unitFileForm(true)).toBe('yes');
    expect(unitFileForm(['@system-service', '@pkey'])).toBe('@system-service @pkey');
    expect(unitFileForm({ drop: ['CAP_SYS_ADMIN'] })).toBe('~CAP_SYS_ADMIN');
    expect(unitFileForm({ '/dev/sda': '20M' })).toBe('/dev/sda 20M');
    expect(unitFileForm({ NODE_ENV: 'production' })).toBe('NODE_ENV=production');
    expect(unitFileForm({ source: '/a', destination: '/b' })).toBe('/a:/b');
  });

  test('host needs in words', () => {
    expect(describeNeeds(TABLE.MemoryHigh.needs)).toBe('cgroup memory (v2 only)');
    expect(describeNeeds(TABLE.User.needs)).toBe('system manager');
    expect(describeNeeds(TABLE.PrivateDevices.needs)).toBe('mnt namespace; seccomp');
    expect(describeNeeds(TABLE.IPAddressDeny.needs)).toBe('system manager; BPF (cgroup2: v2 or hybrid)');
    expect(describeNeeds(TABLE.IOWeight.needs)).toBe('cgroup io; BFQ or io.cost');
    expect(describeNeeds(TABLE.OOMPolicy.needs)).toBe('cgroup memory (v2 only)');
    expect(describeNeeds(TABLE.Environment.needs)).toBe('-');
  });
});

describe('host requirements of what is requested', () => {
  test('resolved by value', () => {
    expect(
      hostRequirements({
        MemoryMax: '1G',
        PrivateNetwork: false,
        TasksMax: 'infinity',
        Nice: -5,
        OOMScoreAdjust: 100,
        ProtectProc: 'default',
        SystemCallFilter: ['@system-service', '@pkey'],
      }),
    ).toEqual([
      { property: 'MemoryMax', needs: { cgroup: 'memory' } },
      { property: 'Nice', needs: { root: 'always' } },
      { property: 'OOMScoreAdjust', needs: { root: 'to-raise' } },
      { property: 'SystemCallFilter', needs: { seccomp: true } },
    ]);
    expect(hostRequirements({ Nice: 5 })).toEqual([{ property: 'Nice', needs: {} }]);
    expect(hostRequirements({ IPAddressDeny: 'any', AllowedCPUs: '0' })).toEqual([
      { property: 'AllowedCPUs', needs: { cgroup: 'cpuset', cgroupV2Only: true } },
      { property: 'IPAddressDeny', needs: { bpf: true, root: 'always' } },
    ]);
  });
});
