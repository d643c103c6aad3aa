// UnitPool.capabilities() against the real host, and the check at pool start: a property the host cannot enforce is
// a CapabilityError before any unit exists, unless it is in bestEffort (then the pool runs without it, and says so
// once).
import { spawnSync } from 'node:child_process';
import { release } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CapabilityError, UnitPool } from '../../src/index.js';
import { PROPERTY_NAMES } from '../../src/properties/index.js';
import type { TransientUnit } from '../../src/unit/transient.js';
import {
  caps,
  captureWarnings,
  cgroupFile,
  enforced,
  expectRefused,
  host,
  layout,
  MiB,
  ROOT,
  sink,
  startPool,
} from './helpers.js';

describe('UnitPool.capabilities()', () => {
  it('reports the host facts it judged from', () => {
    expect(host.cgroup).toBe(layout);
    expect(host.manager).toBe('system');
    expect(host.root).toBe(process.geteuid!() === 0);
    expect(host.kernel).toBe(release());
    expect(host.systemdVersion).toMatch(/^\d{3}/);
    expect(host.seccomp).toBe(true);
    expect(host.namespaces).toEqual(expect.arrayContaining(['mnt', 'net', 'ipc', 'uts']));
    expect(host.managerPid).toBeGreaterThan(0);
    expect(host.managerCapabilities).toContain('CAP_SYS_ADMIN');
    expect(host.managerLimits?.hard.LimitNOFILE).toBeGreaterThan(0n);
  });

  it('judges every property of the table: enforced, or not with a reason', () => {
    expect(Object.keys(caps.properties).sort()).toEqual([...PROPERTY_NAMES].sort());
    for (const [name, c] of Object.entries(caps.properties)) {
      expect(typeof c.enforced, name).toBe('boolean');
      if (!c.enforced) expect(c.reason!.length, name).toBeGreaterThan(20);
      else expect(c.reason, name).toBeUndefined();
    }
  });

  it.runIf(layout === 'hybrid' && host.systemdVersion.startsWith('252'))(
    'on this hybrid cgroup v1 host with systemd 252: refuses exactly the v2-only properties, IOWeight without BFQ, and the absent security modules',
    () => {
      const refused = Object.entries(caps.properties)
        .filter(([, c]) => !c.enforced)
        .map(([n]) => n)
        .sort();
      const expected = ['AllowedCPUs', 'MemoryHigh', 'MemorySwapMax', 'IOWriteBandwidthMax', 'OOMPolicy'];
      if (host.proportionalIo.length === 0) expected.push('IOWeight');
      if (!host.selinux) expected.push('SELinuxContext');
      if (!host.apparmor) expected.push('AppArmorProfile');
      expect(refused).toEqual(expected.sort());
      // What the v1 controllers of the system manager do enforce, and the BPF firewall on the hybrid's cgroup2.
      for (const n of [
        'MemoryMax',
        'CPUQuota',
        'CPUWeight',
        'TasksMax',
        'IOReadBandwidthMax',
        'IPAddressDeny',
        'IPAddressAllow',
      ] as const) {
        expect(enforced(n), n).toBe(true);
      }
    },
  );

  it('notes when the manager can only lower limits (no CAP_SYS_RESOURCE)', () => {
    if (host.managerCapabilities?.includes('CAP_SYS_RESOURCE'))
      expect(caps.properties.LimitNOFILE.note).toBeUndefined();
    else expect(caps.properties.LimitNOFILE.note).toMatch(/without CAP_SYS_RESOURCE, so it can only lower limits/);
  });

  it("with bus: 'user' and no user manager to talk to: a clear SystemdUnavailableError", async () => {
    const saved = {
      XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR,
      DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS,
    };
    process.env.XDG_RUNTIME_DIR = '/nonexistent-runtime-dir';
    delete process.env.DBUS_SESSION_BUS_ADDRESS;
    try {
      await expect(UnitPool.capabilities({ bus: 'user' })).rejects.toMatchObject({
        name: 'SystemdUnavailableError',
        code: 'ERR_UNITPOOL_NO_SYSTEMD',
      });
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });
});

// A property that is refused here: MemoryHigh on cgroup v1, SELinuxContext where SELinux is off (one of them is).
const refusable = (['MemoryHigh', 'SELinuxContext', 'AppArmorProfile'] as const).find((n) => !enforced(n));
const refusableValue = {
  MemoryHigh: '200M',
  SELinuxContext: 'system_u:system_r:unconfined_t:s0',
  AppArmorProfile: 'unitpool-test',
} as const;

describe.runIf(refusable !== undefined)(
  `the check at start (with ${refusable}, which this host cannot enforce)`,
  () => {
    const name = refusable!;
    const properties = { [name]: refusableValue[name] };

    it('a CapabilityError names the property, why, and the way out; no unit is created', async () => {
      const err = await expectRefused({ properties }, name);
      expect(err).toBeInstanceOf(CapabilityError);
      expect(err).toMatchObject({
        name: 'CapabilityError',
        code: 'ERR_UNITPOOL_CAPABILITY',
        property: name,
        reason: caps.properties[name].reason,
      });
      expect(err.message).toBe(
        `${name} cannot be enforced on this host: ${caps.properties[name].reason}. Remove it, or list it in bestEffort: ['${name}'] to run without it.`,
      );
    });

    it('every task submitted to a refused pool rejects with that CapabilityError', async () => {
      const pool = new UnitPool({ maxWorkers: 1, stderr: sink(), properties });
      const err = await pool.submit(() => 1).catch((e: unknown) => e);
      await pool.shutdown();
      expect(err).toBeInstanceOf(CapabilityError);
    });

    it('a refused pool does not keep the process alive: it exits without shutdown()', () => {
      const entry = pathToFileURL(join(ROOT, 'dist', 'src', 'index.js')).href;
      const script = `import { UnitPool } from ${JSON.stringify(entry)};
      const err = await new UnitPool({ properties: ${JSON.stringify(properties)} }).ready().catch((e) => e);
      console.log(err.name);`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 15_000,
      });
      expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim() }).toEqual({
        status: 0,
        signal: null,
        stdout: 'CapabilityError',
      });
    });

    it('a preset and other enforceable properties do not hide it', async () => {
      await expectRefused({ preset: 'batch', properties: { ...properties, TasksMax: 256 } }, name);
    });

    it('bestEffort: the pool runs without it, warns once per process, and keeps the rest', async () => {
      const options = { maxWorkers: 1, properties: { ...properties, MemoryMax: '300M' }, bestEffort: [name] } as const;
      const first = await captureWarnings(async () => {
        const pool = await startPool(options);
        const props = await (pool.unit as TransientUnit).properties();
        const memoryMax = cgroupFile(pool, 'memory', layout === 'v2' ? 'memory.max' : 'memory.limit_in_bytes');
        const works = await pool.submit(() => 'works');
        await pool.shutdown();
        return { props, memoryMax, works };
      });
      expect(first.result.works).toBe('works');
      expect(first.result.memoryMax).toBe(String(300 * MiB));
      // The dropped property is not in the unit (systemd shows its default).
      const shown = first.result.props!.service[name === 'MemoryHigh' ? 'MemoryHigh' : name];
      if (name === 'MemoryHigh') expect(shown).toBe(2n ** 64n - 1n);
      else if (name === 'SELinuxContext') expect(shown).toEqual([false, '']);
      else expect(shown).toEqual([false, '']);
      const mine = first.warnings.filter((w) => w.code === 'UNITPOOL_BEST_EFFORT');
      expect(mine).toEqual([
        {
          type: 'UnitPoolWarning',
          code: 'UNITPOOL_BEST_EFFORT',
          message: `${name} is not enforced on this host, and the pool runs without it (bestEffort): ${caps.properties[name].reason}`,
        },
      ]);
      const second = await captureWarnings(async () => {
        const pool = await startPool(options);
        await pool.shutdown();
      });
      expect(second.warnings.filter((w) => w.code === 'UNITPOOL_BEST_EFFORT')).toEqual([]);
    });

    it('bestEffort on a property the host does enforce keeps it enforced', async () => {
      const pool = await startPool({ maxWorkers: 1, properties: { MemoryMax: '250M' }, bestEffort: ['MemoryMax'] });
      try {
        expect(cgroupFile(pool, 'memory', layout === 'v2' ? 'memory.max' : 'memory.limit_in_bytes')).toBe(
          String(250 * MiB),
        );
      } finally {
        await pool.shutdown();
      }
    });

    it('bestEffort names a property that is not set: an OptionError at construction', () => {
      expect(() => new UnitPool({ properties: { MemoryMax: '250M' }, bestEffort: [name] })).toThrow(
        /bestEffort\[0\]: .* is not set in properties/,
      );
    });
  },
);

it.runIf(!enforced('MemoryHigh') && !enforced('AllowedCPUs'))(
  'with several refused properties, the first in table order is named',
  async () => {
    const err = await expectRefused({ properties: { MemoryHigh: '200M', AllowedCPUs: '0' } }, 'AllowedCPUs');
    expect(err.message).toMatch(/^AllowedCPUs cannot be enforced/);
  },
);

it("values that restrict nothing need nothing from the host: OOMPolicy 'continue' (the pool's own default) starts anywhere", async () => {
  await using pool = await startPool({
    maxWorkers: 1,
    properties: { OOMPolicy: 'continue', PrivateNetwork: false, TasksMax: 'infinity' },
  });
  expect(await pool.submit(() => 1)).toBe(1);
});
