// UnitPool.capabilities() against the host it runs on, judged from what the kernel says rather than from unitpool:
// the v1 sandbox (`npm test`) and the v2 VM (`npm run test:vm`) both run this file. The properties the table marks
// cgroup-v2-only are reported not enforceable, with a reason, where /sys/fs/cgroup holds the v1 controllers, and a
// pool asking for one fails at start with a CapabilityError naming it; on a pure cgroup v2 host they are reported
// enforceable (where the kernel offers their controller) and such a pool starts.
import { readFileSync, statfsSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CapabilityError, UnitPool } from '../../src/index.js';
import { PROPERTY_NAMES, type PropertyName, TABLE, type UnitProperties } from '../../src/properties/index.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const CGROUP_SUPER_MAGIC = 0x27e0eb; // a cgroup v1 hierarchy
const fsType = (path: string): number | undefined => {
  try {
    return statfsSync(path).type;
  } catch {
    return undefined;
  }
};
/** What the kernel says: /sys/fs/cgroup itself is cgroup2 (pure v2), or it holds v1 hierarchies (with cgroup2 at unified/: hybrid). */
const pureV2 = fsType('/sys/fs/cgroup') === CGROUP2_SUPER_MAGIC;
const v1 = !pureV2 && ['memory', 'pids', 'cpu'].some((c) => fsType(`/sys/fs/cgroup/${c}`) === CGROUP_SUPER_MAGIC);
const kernelLayout = pureV2
  ? 'v2'
  : v1
    ? fsType('/sys/fs/cgroup/unified') === CGROUP2_SUPER_MAGIC
      ? 'hybrid'
      : 'v1'
    : 'none';

/** The properties the table says only cgroup v2 can enforce. */
const V2_ONLY = PROPERTY_NAMES.filter((n) => TABLE[n].needs.cgroupV2Only);

/**
 * A directory on a block device (an IO limit on tmpfs, overlayfs or 9p is an OptionError; their device numbers have
 * major 0): the project's, or else / (in the VM the project is a 9p share under an overlay).
 */
const onDisk = [process.cwd(), '/'].find((p) => (Math.floor(statSync(p).dev / 256) & 0xfff) !== 0) ?? '/';

/** A value of each that restricts something (OOMPolicy 'continue', the default, would need nothing). */
const VALUES: Readonly<Record<string, UnitProperties[PropertyName]>> = {
  AllowedCPUs: '0',
  MemoryHigh: '200M',
  MemorySwapMax: 0,
  IOWriteBandwidthMax: { [onDisk]: '10M' },
  OOMPolicy: 'stop',
};
const valueOf = (name: PropertyName) => ({ [name]: VALUES[name] }) as UnitProperties;

const caps = await UnitPool.capabilities();

const v1Skip = v1
  ? undefined
  : `this host has no cgroup v1 controllers (/sys/fs/cgroup is ${pureV2 ? 'cgroup2' : 'neither'}); the v1 sandbox of \`npm test\` runs it`;
const v2Skip = pureV2
  ? undefined
  : 'this host is not pure cgroup v2 (/sys/fs/cgroup is not cgroup2); `npm run test:vm` boots one';
for (const why of [v1Skip, v2Skip]) if (why) console.warn(`capabilities tests skipped: ${why}`);
const titled = (title: string, why: string | undefined) => (why ? `${title} [skipped: ${why}]` : title);

describe('UnitPool.capabilities() on this host', () => {
  it('the table has cgroup-v2-only properties, and a restricting value for each of them here', () => {
    expect(V2_ONLY.length).toBeGreaterThanOrEqual(5);
    expect(Object.keys(VALUES).sort()).toEqual([...V2_ONLY].sort());
  });

  it(`reports the cgroup layout the kernel shows (${kernelLayout})`, () => {
    expect(caps.host.cgroup).toBe(kernelLayout);
  });

  describe.runIf(v1)(titled('on cgroup v1 controllers (hybrid or legacy)', v1Skip), () => {
    it.each(V2_ONLY)('%s: reported not enforceable, with the reason v1 cannot', (name) => {
      const c = caps.properties[name];
      expect(c.enforced).toBe(false);
      expect(c.reason).toMatch(
        /^this host runs its cgroup controllers on v1 \((the hybrid layout|the legacy layout)\), and /,
      );
      expect(c.reason).toMatch(/v2|writeback/);
    });

    it.each(V2_ONLY)(
      '%s: a pool asking for it fails at start with a CapabilityError naming it, and no unit',
      async (name) => {
        const pool = new UnitPool({ maxWorkers: 1, properties: valueOf(name) });
        const err = await pool.ready().then(
          () => undefined,
          (e: unknown) => e,
        );
        const unit = pool.unit;
        await pool.shutdown();
        expect(err).toBeInstanceOf(CapabilityError);
        expect(err).toMatchObject({ property: name, reason: caps.properties[name].reason });
        expect((err as Error).message).toMatch(new RegExp(`^${name} cannot be enforced on this host: `));
        expect(unit).toBeUndefined();
      },
    );
  });

  describe.runIf(pureV2)(titled('on pure cgroup v2', v2Skip), () => {
    // Enforceable where the kernel offers the controller to the manager's subtree (the root's cgroup.controllers).
    const controllers = pureV2 ? readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').trim().split(/\s+/) : [];

    it.each(V2_ONLY)('%s: reported enforceable when the kernel has its controller', (name) => {
      const controller = TABLE[name].needs.cgroup!;
      expect(caps.properties[name]).toEqual(
        controllers.includes(controller)
          ? { enforced: true }
          : { enforced: false, reason: expect.stringContaining(controller) },
      );
    });

    it('a pool asking for all of them starts and runs a task', async () => {
      const properties = Object.assign(
        {},
        ...V2_ONLY.filter((n) => caps.properties[n].enforced).map(valueOf),
      ) as UnitProperties;
      expect(Object.keys(properties).length).toBeGreaterThan(0);
      await using pool = new UnitPool({ maxWorkers: 1, properties });
      expect(await pool.submit(() => 'runs')).toBe('runs');
    });
  });
});
