// The capability model without a host: judge() and judgeRequested() on made-up facts (a pure cgroup v2 system, a
// user manager with and without delegation, a hybrid host, a legacy v1 host, no seccomp, managers without
// CAP_SYS_RESOURCE), and the parsers of /proc/PID/limits and capability masks.
import { describe, expect, test } from 'vitest';
import { CAPABILITIES, compileProperties, PROPERTY_NAMES, type UnitProperties } from '../../src/properties/index.js';
import { capabilitiesFromFacts, judgeRequested } from '../../src/unit/capabilities.js';
import { capabilityNames, type HostFacts, parseLimits } from '../../src/unit/host-facts.js';

const ALL_CAPS = [...CAPABILITIES];

function facts(over: Partial<HostFacts> = {}): HostFacts {
  return {
    cgroup: 'v2',
    manager: 'system',
    managerCgroup: '',
    systemdVersion: '252.38-1~deb12u1',
    systemdFeatures: ['+SECCOMP', '+APPARMOR', '+SELINUX'],
    root: true,
    kernel: '6.1.0',
    controllers: ['memory', 'cpu', 'pids', 'io', 'cpuset'],
    seccomp: true,
    namespaces: ['mnt', 'net', 'ipc', 'uts'],
    userNamespaces: true,
    apparmor: true,
    selinux: true,
    bpf: true,
    proportionalIo: ['sda'],
    ioSchedulers: { sda: 'bfq' },
    managerPid: 1,
    managerCapabilities: ALL_CAPS,
    managerLimits: {
      hard: { LimitNOFILE: 524288n, LimitMEMLOCK: 8388608n, LimitNICE: 0n, LimitMSGQUEUE: 819200n },
      oomScoreAdjust: 0,
    },
    ...over,
  };
}

const refused = (f: HostFacts) =>
  Object.entries(capabilitiesFromFacts(f).properties)
    .filter(([, c]) => !c.enforced)
    .map(([n]) => n);

function judgeValues(props: UnitProperties, f: HostFacts) {
  return judgeRequested(props, compileProperties(props, { checkFiles: false, env: 'none' }), f);
}

describe('judging the table against host facts', () => {
  test('a pure cgroup v2 host, the system manager with every capability: everything is enforced', () => {
    expect(refused(facts())).toEqual([]);
    expect(Object.keys(capabilitiesFromFacts(facts()).properties)).toEqual(PROPERTY_NAMES);
  });

  test('the hybrid layout: the v2-only properties are refused, with the reason for each', () => {
    const c = capabilitiesFromFacts(
      facts({ cgroup: 'hybrid', proportionalIo: [], ioSchedulers: { vda: 'mq-deadline' } }),
    ).properties;
    expect(refused(facts({ cgroup: 'hybrid', proportionalIo: [] })).sort()).toEqual(
      ['AllowedCPUs', 'IOWeight', 'IOWriteBandwidthMax', 'MemoryHigh', 'MemorySwapMax', 'OOMPolicy'].sort(),
    );
    expect(c.AllowedCPUs.reason).toBe(
      'this host runs its cgroup controllers on v1 (the hybrid layout), and systemd 252 drives the cpuset controller only on cgroup v2: on v1 it would leave the workers on every CPU',
    );
    expect(c.IOWeight.reason).toMatch(
      /no block device here uses BFQ \(vda: mq-deadline\); on cgroup v1 systemd 252 also converts the weight twice/,
    );
    // The BPF firewall works on the hybrid's cgroup2 hierarchy.
    expect(c.IPAddressDeny.enforced).toBe(true);
    expect(c.MemoryMax.enforced).toBe(true);
  });

  test('IOWeight on cgroup v1 with a BFQ disk: enforced, with a note on the double conversion', () => {
    const c = capabilitiesFromFacts(facts({ cgroup: 'hybrid' })).properties.IOWeight;
    expect(c).toEqual({
      enforced: true,
      note: expect.stringMatching(/only on sda \(BFQ\); systemd 252 on cgroup v1 converts the weight twice/),
    });
  });

  test('a legacy cgroup v1 host: no cgroup2, so no BPF firewall', () => {
    const c = capabilitiesFromFacts(facts({ cgroup: 'v1', bpf: false })).properties;
    expect(c.IPAddressDeny).toEqual({
      enforced: false,
      reason: expect.stringMatching(/cgroup2 hierarchy, and this host has none \(legacy cgroup v1\)/),
    });
    expect(c.IPAddressAllow.enforced).toBe(false);
  });

  test('the user manager on cgroup v2 with memory and pids delegated: no CPUQuota, no User, no firewall', () => {
    const f = facts({
      manager: 'user',
      managerCgroup: '/user.slice/user-1000.slice/user@1000.service',
      controllers: ['memory', 'pids'],
      managerCapabilities: [],
    });
    const c = capabilitiesFromFacts(f).properties;
    expect(c.MemoryMax.enforced).toBe(true);
    expect(c.TasksMax.enforced).toBe(true);
    expect(c.CPUQuota).toEqual({
      enforced: false,
      reason:
        'the cpu controller is not delegated to the user manager (/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers lists memory pids); delegate it with a drop-in for user@.service (Delegate=memory pids cpu) or use the system manager',
    });
    expect(c.User.reason).toMatch(/^only the system manager can do this/);
    expect(c.DynamicUser.enforced).toBe(false);
    expect(c.IPAddressDeny.reason).toMatch(/only the system manager/);
    expect(c.LimitNOFILE.note).toMatch(/user manager runs without CAP_SYS_RESOURCE/);
  });

  test('the user manager, even with unprivileged user namespaces: no namespaces at all (no PrivateUsers=yes)', () => {
    const c = capabilitiesFromFacts(
      facts({ manager: 'user', userNamespaces: true, managerCapabilities: [] }),
    ).properties;
    expect(c.PrivateTmp.reason).toMatch(
      /^it needs a mnt namespace, and systemd's user manager sets up none for a unit without PrivateUsers=yes/,
    );
    expect(c.PrivateNetwork.reason).toMatch(/^it needs a net namespace/);
    for (const n of [
      'ProtectSystem',
      'ProtectHome',
      'PrivateDevices',
      'ProtectHostname',
      'PrivateIPC',
      'BindReadOnlyPaths',
    ] as const) {
      expect(c[n].enforced, n).toBe(false);
    }
    // What needs no namespace stays: seccomp filters, NoNewPrivileges, UMask, the environment.
    for (const n of [
      'SystemCallFilter',
      'RestrictAddressFamilies',
      'NoNewPrivileges',
      'UMask',
      'Environment',
    ] as const) {
      expect(c[n].enforced, n).toBe(true);
    }
  });

  test('the user manager on a hybrid host: no cgroup limit at all', () => {
    const c = capabilitiesFromFacts(
      facts({ manager: 'user', cgroup: 'hybrid', controllers: [], managerCapabilities: [] }),
    ).properties;
    for (const n of ['MemoryMax', 'CPUQuota', 'TasksMax', 'CPUWeight', 'IOReadBandwidthMax'] as const) {
      expect(c[n].reason, n).toMatch(
        /^the user manager can enforce no cgroup limit on cgroup v1 \(this host has the hybrid layout\)/,
      );
    }
  });

  test('no seccomp (kernel, or a systemd built without it): every seccomp-based property is refused', () => {
    const kernel = capabilitiesFromFacts(facts({ seccomp: false })).properties;
    expect(kernel.SystemCallFilter.reason).toMatch(/the kernel has no seccomp filters/);
    const built = capabilitiesFromFacts(facts({ seccomp: false, systemdFeatures: ['-SECCOMP'] })).properties;
    expect(built.RestrictAddressFamilies.reason).toMatch(/built without seccomp/);
    expect(refused(facts({ seccomp: false }))).toEqual(
      expect.arrayContaining(['PrivateDevices', 'ProtectClock', 'LockPersonality', 'SystemCallArchitectures']),
    );
  });

  test('no AppArmor, no SELinux: their properties are refused, saying so', () => {
    const c = capabilitiesFromFacts(facts({ apparmor: false, selinux: false })).properties;
    expect(c.AppArmorProfile.reason).toMatch(/AppArmor is not enabled/);
    expect(c.SELinuxContext.reason).toMatch(/SELinux is not enabled/);
  });
});

describe('judging requested values', () => {
  test('what restricts nothing needs nothing: OOMPolicy continue, PrivateNetwork false, MemoryHigh infinity', () => {
    expect(
      judgeValues(
        { OOMPolicy: 'continue', PrivateNetwork: false, MemoryHigh: 'infinity' },
        facts({ cgroup: 'hybrid', manager: 'user', controllers: [] }),
      ),
    ).toEqual([]);
  });

  test('a manager without CAP_SYS_RESOURCE cannot raise a limit above its own, nor lower oom_score_adj', () => {
    const f = facts({ managerCapabilities: ALL_CAPS.filter((c) => c !== 'CAP_SYS_RESOURCE') });
    expect(judgeValues({ LimitMSGQUEUE: '100K', LimitNOFILE: 4096, OOMScoreAdjust: 100 }, f)).toEqual([]);
    expect(judgeValues({ LimitMSGQUEUE: '1M:2M', LimitNICE: 5, OOMScoreAdjust: -100 }, f)).toEqual([
      {
        property: 'LimitMSGQUEUE',
        reason:
          "its hard limit 2097152 is above the system manager's own (819200), and without CAP_SYS_RESOURCE the manager cannot raise it: systemd would silently apply 819200 instead",
      },
      {
        property: 'LimitNICE',
        reason: expect.stringMatching(/hard limit 15 \(nice 5\) is above the system manager's own \(0\)/),
      },
      {
        property: 'OOMScoreAdjust',
        reason:
          'the system manager runs with oom_score_adj 0 and without CAP_SYS_RESOURCE, so it cannot give its units less; systemd would silently leave the workers at 0',
      },
    ]);
    // With the capability, the same values are fine.
    expect(judgeValues({ LimitMSGQUEUE: '1M:2M', LimitNICE: 5, OOMScoreAdjust: -100 }, facts())).toEqual([]);
  });

  test('the user manager: a negative Nice or OOMScoreAdjust needs the system manager; limits stay within its own', () => {
    const f = facts({
      manager: 'user',
      managerCapabilities: [],
      managerLimits: { hard: { LimitNOFILE: 1024n }, oomScoreAdjust: 200 },
    });
    const r = judgeValues({ Nice: -5, OOMScoreAdjust: 100, LimitNOFILE: 4096, LimitCORE: 0 }, f);
    expect(r.map((x) => x.property)).toEqual(['Nice', 'LimitNOFILE', 'OOMScoreAdjust']);
    expect(r[0]!.reason).toMatch(/only the system manager/);
    expect(r[2]!.reason).toMatch(/oom_score_adj 200/);
    expect(judgeValues({ Nice: 5, OOMScoreAdjust: 300, LimitNOFILE: 512 }, f)).toEqual([]);
  });

  test('a negative Nice without CAP_SYS_NICE', () => {
    const f = facts({ managerCapabilities: ALL_CAPS.filter((c) => c !== 'CAP_SYS_NICE') });
    expect(judgeValues({ Nice: -1 }, f)).toEqual([
      { property: 'Nice', reason: expect.stringMatching(/needs CAP_SYS_NICE.*201\/NICE/) },
    ]);
  });

  test('unknown manager capabilities: a system manager is assumed privileged, a user manager not', () => {
    const { managerCapabilities: _s, ...systemFacts } = facts();
    expect(judgeValues({ LimitMSGQUEUE: '1M:2M' }, systemFacts)).toEqual([]);
    const { managerCapabilities: _u, ...userFacts } = facts({ manager: 'user' });
    expect(judgeValues({ LimitMSGQUEUE: '1M:2M' }, userFacts).map((r) => r.property)).toEqual(['LimitMSGQUEUE']);
  });
});

describe('parsers', () => {
  test('/proc/PID/limits', () => {
    const text = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max cpu time              unlimited            unlimited            seconds   ',
      'Max open files            1024                 524288               files     ',
      'Max nice priority         0                    0                    ',
      'Max realtime timeout      50000                100000               us        ',
    ].join('\n');
    expect(parseLimits(text)).toEqual({
      LimitCPU: { soft: 2n ** 64n - 1n, hard: 2n ** 64n - 1n },
      LimitNOFILE: { soft: 1024n, hard: 524288n },
      LimitNICE: { soft: 0n, hard: 0n },
      LimitRTTIME: { soft: 50000n, hard: 100000n },
    });
  });

  test('capability masks', () => {
    expect(capabilityNames('0000000000000400')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(capabilityNames('000001fffeffffff')).not.toContain('CAP_SYS_RESOURCE');
    expect(capabilityNames('000001fffeffffff')).toHaveLength(40);
  });
});
