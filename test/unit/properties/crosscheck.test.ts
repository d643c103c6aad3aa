// Checks across properties: what systemd would refuse cryptically, and what would stop Node itself.
import { describe, expect, test } from 'vitest';
import {
  CompiledProperties,
  type FileInfo,
  type IdentityLookup,
  planReadable,
  type PropertyName,
  type StatFn,
  type UnitProperties,
} from '../../../src/properties/index.js';
import { compile, message, optionError } from './helpers.js';

const dir = (mode: number, uid = 0): FileInfo => ({ mode, uid, gid: uid, isDirectory: true });
const file = (mode: number, uid = 0): FileInfo => ({ mode, uid, gid: uid, isDirectory: false });

/** A fake file system: exact paths -> info. */
function fakeStat(entries: Record<string, FileInfo>): StatFn {
  return (p) => entries[p];
}

const FS = fakeStat({
  '/': dir(0o755),
  '/home': dir(0o755),
  '/home/alice': dir(0o750, 1000),
  '/home/alice/proj': dir(0o755, 1000),
  '/home/alice/proj/node_modules/unitpool': dir(0o755, 1000),
  '/home/bob': dir(0o755, 1001),
  '/home/bob/app': dir(0o755, 1001),
  '/root': dir(0o700),
  '/root/app': dir(0o755),
  '/opt': dir(0o755),
  '/opt/app': dir(0o755),
  '/opt/secret': dir(0o700),
  '/usr': dir(0o755),
  '/usr/bin': dir(0o755),
  '/usr/bin/node': file(0o755),
  '/srv': dir(0o755),
  '/srv/chroot': dir(0o755),
  '/srv/chroot/usr': dir(0o755),
  '/srv/chroot/usr/bin': dir(0o755),
  '/srv/chroot/usr/bin/node': file(0o755),
  '/tmp': dir(0o1777),
  '/tmp/build': dir(0o700, 1000),
  '/tmp/build/pkg': dir(0o755, 1000),
  '/tmp/pkg': dir(0o755),
});

const lookup: IdentityLookup = {
  user: (n) =>
    ({
      nobody: { name: 'nobody', uid: 65534, gid: 65534, home: '/' },
      alice: { name: 'alice', uid: 1000, gid: 1000, home: '/home/alice' },
      root: { name: 'root', uid: 0, gid: 0, home: '/root' },
    })[n],
  group: () => ({ name: 'g', gid: 1 }),
};

const opts = (paths: string[], extra = {}) => ({
  readablePaths: paths.map((path) => ({ path, what: 'the test package' })),
  stat: FS,
  lookup,
  checkFiles: false,
  ...extra,
});

describe('what the workers must read', () => {
  test('nothing to do when nothing hides it', () => {
    expect(compile({ ProtectSystem: 'strict' }, opts(['/opt/app', '/usr/bin/node']))).toEqual([
      ['ProtectSystem', 's', 'strict'],
    ]);
  });

  test('ProtectHome=tmpfs: the package under /home is bound back read-only', () => {
    expect(compile({ ProtectHome: 'tmpfs' }, opts(['/home/bob/app', '/usr/bin/node']))).toEqual([
      ['ProtectHome', 's', 'tmpfs'],
      ['BindReadOnlyPaths', 'a(ssbt)', [['/home/bob/app', '/home/bob/app', false, 16384]]],
    ]);
  });

  test('ProtectHome=true becomes tmpfs, so that the bind mount point can be created', () => {
    expect(compile({ ProtectHome: true }, opts(['/home/bob/app']))).toEqual([
      ['ProtectHome', 's', 'tmpfs'],
      ['BindReadOnlyPaths', 'a(ssbt)', [['/home/bob/app', '/home/bob/app', false, 16384]]],
    ]);
  });

  test('ProtectHome=read-only hides nothing', () => {
    expect(compile({ ProtectHome: 'read-only' }, opts(['/home/bob/app']))).toEqual([['ProtectHome', 's', 'read-only']]);
  });

  test('TemporaryFileSystem over the package: bound back', () => {
    expect(compile({ TemporaryFileSystem: '/opt:ro' }, opts(['/opt/app']))).toEqual([
      ['TemporaryFileSystem', 'a(ss)', [['/opt', 'ro']]],
      ['BindReadOnlyPaths', 'a(ssbt)', [['/opt/app', '/opt/app', false, 16384]]],
    ]);
  });

  test('PrivateTmp (and DynamicUser) replace /tmp: a package there is bound back', () => {
    expect(compile({ PrivateTmp: true }, opts(['/tmp/pkg']))).toEqual([
      ['PrivateTmp', 'b', true],
      ['BindReadOnlyPaths', 'a(ssbt)', [['/tmp/pkg', '/tmp/pkg', false, 16384]]],
    ]);
    expect(compile({ DynamicUser: true }, opts(['/tmp/pkg']))).toEqual([
      ['DynamicUser', 'b', true],
      ['BindReadOnlyPaths', 'a(ssbt)', [['/tmp/pkg', '/tmp/pkg', false, 16384]]],
    ]);
    // Inside the private /tmp, the directories up to the mount point are systemd's (0755), not the host's 0700.
    expect(compile({ User: 'nobody', PrivateTmp: true }, opts(['/tmp/build/pkg']))).toHaveLength(3);
    expect(message({ User: 'nobody' }, opts(['/tmp/build/pkg']))).toContain(
      '/tmp/build is mode 0700 (owner uid 1000), so nobody (uid 65534) cannot pass through it',
    );
  });

  test('a user bind that already covers it is enough', () => {
    expect(compile({ ProtectHome: 'tmpfs', BindPaths: ['/home/bob'] }, opts(['/home/bob/app']))).toEqual([
      ['ProtectHome', 's', 'tmpfs'],
      ['BindPaths', 'a(ssbt)', [['/home/bob', '/home/bob', false, 16384]]],
    ]);
  });

  test('InaccessiblePaths hiding it is an error', () => {
    expect(message({ InaccessiblePaths: ['/opt'] }, opts(['/opt/app']))).toBe(
      `properties.InaccessiblePaths: /opt hides /opt/app (the test package), which the workers must read (got array of 1); expected InaccessiblePaths that leave /opt/app visible, or BindReadOnlyPaths: ['/opt/app'] to bind it back`,
    );
  });

  test('a non-root user cannot reach a package under /root', () => {
    expect(message({ User: 'nobody', ProtectHome: true }, opts(['/root/app']))).toBe(
      `properties.User: the workers run as nobody (uid 65534) and must read /root/app (the test package), but /root is mode 0700 (owner uid 0) under ProtectHome, so nobody (uid 65534) cannot pass through it (got "nobody"); expected /root/app installed where every user can read it (e.g. under /opt or /srv), made readable (chmod o+rx), or workers running as root`,
    );
    // Without ProtectHome, the host's own /root (0700) stops it just the same.
    expect(message({ DynamicUser: true }, opts(['/root/app']))).toBe(
      `properties.DynamicUser: the workers run as a dynamic user and must read /root/app (the test package), but /root is mode 0700 (owner uid 0), so a dynamic user cannot pass through it (got true); expected /root/app installed where every user can read it (e.g. under /opt or /srv), made readable (chmod o+rx), or workers running as root`,
    );
  });

  test('permissions along the way, per identity', () => {
    // alice's home is 0750: bob's package is fine for nobody; alice's is not, except for alice herself.
    expect(message({ User: 'nobody' }, opts(['/home/alice/proj/node_modules/unitpool']))).toContain(
      '/home/alice is mode 0750 (owner uid 1000), so nobody (uid 65534) cannot pass through it',
    );
    expect(compile({ User: 'alice' }, opts(['/home/alice/proj/node_modules/unitpool']))).toEqual([
      ['User', 's', 'alice'],
    ]);
    expect(compile({ User: 'nobody' }, opts(['/home/bob/app']))).toEqual([['User', 's', 'nobody']]);
    expect(message({ User: 'nobody' }, opts(['/opt/secret']))).toContain(
      '/opt/secret is mode 0700 (owner uid 0), so nobody (uid 65534) cannot read it',
    );
    // root reads anything.
    expect(compile({ User: 'root' }, opts(['/opt/secret', '/root/app']))).toEqual([['User', 's', 'root']]);
  });

  test('under ProtectHome=tmpfs, the directories leading to the bind are 0755', () => {
    // /home/alice is 0750 on the host, but inside the unit it is a directory systemd made for the mount point.
    expect(compile({ User: 'nobody', ProtectHome: 'tmpfs' }, opts(['/home/alice/proj/node_modules/unitpool']))).toEqual(
      [
        ['User', 's', 'nobody'],
        ['ProtectHome', 's', 'tmpfs'],
        [
          'BindReadOnlyPaths',
          'a(ssbt)',
          [['/home/alice/proj/node_modules/unitpool', '/home/alice/proj/node_modules/unitpool', false, 16384]],
        ],
      ],
    );
  });

  test('a chroot must contain it', () => {
    expect(compile({ RootDirectory: '/srv/chroot' }, opts(['/usr/bin/node']))).toEqual([
      ['RootDirectory', 's', '/srv/chroot'],
    ]);
    expect(message({ RootDirectory: '/srv/chroot' }, opts(['/opt/app']))).toBe(
      `properties.RootDirectory: /srv/chroot has no /opt/app (the test package) inside, and the workers need it there (got "/srv/chroot"); expected a RootDirectory that contains /opt/app (and node's libraries), or BindReadOnlyPaths: ['/opt/app'] to bind it in`,
    );
  });

  test('planReadable on its own', () => {
    const plan = planReadable({
      paths: [{ path: '/home/bob/app', what: 'x' }],
      protectHome: 'yes',
      identity: undefined,
      inaccessible: [],
      tmpfs: [],
      bindDestinations: [],
      rootDirectory: undefined,
      stat: FS,
    });
    expect(plan).toEqual({ binds: ['/home/bob/app'], protectHome: 'tmpfs', problems: [] });
  });
});

describe('Node and the pool', () => {
  test('TasksMax, LimitNOFILE and LimitNPROC leave room for maxWorkers', () => {
    expect(message({ TasksMax: 50 }, { maxWorkers: 4 })).toBe(
      'properties.TasksMax: too small for 4 workers: each Node process runs up to about 11 threads, so 4 workers and the supervisor need 60 (got 50); expected at least 60, or fewer maxWorkers',
    );
    expect(compile({ TasksMax: 60 }, { maxWorkers: 4 })).toEqual([['TasksMax', 't', 60]]);
    expect(message({ LimitNOFILE: 64 }, { maxWorkers: 8 })).toBe(
      'properties.LimitNOFILE: too small for 8 workers: the supervisor holds descriptors for each (96 needed) (got 64); expected at least 96',
    );
    expect(message({ User: 'nobody', LimitNPROC: 32 }, { maxWorkers: 4 })).toBe(
      'properties.LimitNPROC: too small for 4 workers: it counts every thread of the user, and 4 workers and the supervisor run about 60 (got 32); expected at least 60',
    );
    // root is not subject to RLIMIT_NPROC.
    expect(compile({ LimitNPROC: 32 }, { maxWorkers: 4 })).toHaveLength(2);
  });

  test('paths Node needs cannot be hidden', () => {
    expect(message({ InaccessiblePaths: ['/proc'] })).toBe(
      'properties.InaccessiblePaths: /proc would hide /proc, which Node needs (got array of 1); expected paths Node does not need',
    );
    expect(message({ InaccessiblePaths: ['/dev'] })).toBe(
      'properties.InaccessiblePaths: /dev would hide /dev/null, which Node needs (got array of 1); expected paths Node does not need',
    );
  });

  test('ProtectHome=true with a bind below /home: tmpfs is needed', () => {
    expect(message({ ProtectHome: true, BindPaths: ['/tmp:/home/x/data'] })).toBe(
      `properties.ProtectHome: systemd cannot bind /home/x/data under ProtectHome=true (its mount point cannot be created in the inaccessible directory); 'tmpfs' hides the same and lets the bind through (got true); expected ProtectHome: 'tmpfs'`,
    );
    expect(compile({ ProtectHome: 'tmpfs', BindPaths: ['/tmp:/home/x/data'] })).toHaveLength(2);
  });

  test('a bind inside an inaccessible path', () => {
    expect(message({ InaccessiblePaths: ['/srv'], BindPaths: ['/tmp:/srv/data'] }, { checkFiles: false })).toBe(
      `properties.InaccessiblePaths: /srv contains the bind mount point /srv/data, which systemd cannot create there; hide it with TemporaryFileSystem: '/srv:ro' instead (got array of 1); expected TemporaryFileSystem: '/srv:ro'`,
    );
  });

  test('DynamicUser with a writable bind warns', () => {
    const warnings: string[] = [];
    compile({ DynamicUser: true, BindPaths: ['/tmp'] }, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([
      'properties.BindPaths with DynamicUser: files the workers create there outlive the dynamic uid, which systemd may reuse (systemd.exec(5) advises against it)',
    ]);
  });

  test('a WorkingDirectory inside RootDirectory', () => {
    expect(compile({ RootDirectory: '/', WorkingDirectory: '/tmp' })).toHaveLength(2);
    expect(message({ RootDirectory: '/tmp', WorkingDirectory: '/etc' })).toBe(
      `properties.WorkingDirectory: /tmp/etc is not an existing directory; systemd would fail to start the workers; prefix '-' to tolerate it (got "/etc"); expected an absolute path to an existing directory, or '~' for the user's home; prefix '-' to tolerate a missing one (e.g. '/srv/job')`,
    );
  });
});

describe('one compile, assembled again without the properties the host cannot enforce', () => {
  const quiet = { env: 'none' as const, hostCpus: 8, warn: () => {} };
  const drop = (props: UnitProperties, names: PropertyName[]) =>
    Object.fromEntries(Object.entries(props).filter(([n]) => !names.includes(n as PropertyName))) as UnitProperties;

  test('without() gives what compiling the rest alone gives', () => {
    const cases: [UnitProperties, PropertyName[], object][] = [
      [{ MemoryMax: '512M', MemoryHigh: '384M', CPUQuota: '50%' }, ['MemoryHigh'], {}],
      [
        { SystemCallFilter: ['@system-service', '@pkey'], SystemCallErrorNumber: 'EPERM', PrivateNetwork: true },
        ['SystemCallFilter', 'SystemCallErrorNumber'],
        {},
      ],
      [
        { ProtectHome: true, PrivateTmp: true, TasksMax: 100 },
        ['ProtectHome'],
        opts(['/home/alice/proj/node_modules/unitpool', '/tmp/pkg']),
      ],
      [{ User: 'nobody', DynamicUser: false, LimitNPROC: 100 }, ['User'], { ...opts(['/opt/app']), maxWorkers: 4 }],
    ];
    for (const [props, names, extra] of cases) {
      const compiled = new CompiledProperties(props, { ...quiet, ...extra });
      expect(compiled.without(names)).toEqual(compile(drop(props, names), extra));
      expect(compiled.without(names)).not.toEqual(compiled.properties);
    }
  });

  test('what the cross-checks derived is derived again: ProtectHome=yes stays yes once nothing under /home needs a bind', () => {
    const compiled = new CompiledProperties(
      { ProtectHome: true, PrivateTmp: true },
      { ...quiet, ...opts(['/home/alice/proj/node_modules/unitpool', '/tmp/pkg']) },
    );
    expect(compiled.properties).toContainEqual(['ProtectHome', 's', 'tmpfs']);
    expect(compiled.properties).toContainEqual([
      'BindReadOnlyPaths',
      'a(ssbt)',
      [
        ['/home/alice/proj/node_modules/unitpool', '/home/alice/proj/node_modules/unitpool', false, 0x4000],
        ['/tmp/pkg', '/tmp/pkg', false, 0x4000],
      ],
    ]);
    expect(compiled.without(['PrivateTmp'])).toEqual([
      ['ProtectHome', 's', 'tmpfs'],
      [
        'BindReadOnlyPaths',
        'a(ssbt)',
        [['/home/alice/proj/node_modules/unitpool', '/home/alice/proj/node_modules/unitpool', false, 0x4000]],
      ],
    ]);
    expect(compiled.without(['ProtectHome'])).toEqual([
      ['PrivateTmp', 'b', true],
      ['BindReadOnlyPaths', 'a(ssbt)', [['/tmp/pkg', '/tmp/pkg', false, 0x4000]]],
    ]);
  });

  test('a check the rest no longer passes is refused: a WorkingDirectory that only exists inside the RootDirectory', () => {
    const compiled = new CompiledProperties({ RootDirectory: '/usr', WorkingDirectory: '/share' }, quiet);
    expect(compiled.properties).toHaveLength(2);
    expect(optionError(() => compiled.without(['RootDirectory'])).option).toBe('properties.WorkingDirectory');
  });

  test('warnings are not given twice, and the values the pool reads come from the compile', () => {
    const warnings: string[] = [];
    const compiled = new CompiledProperties(
      { CPUQuota: '1600%', MemoryMax: '512M', MemoryHigh: '1G', AllowedCPUs: '0-2' },
      { ...quiet, warn: (m) => warnings.push(m) },
    );
    expect(warnings).toHaveLength(2);
    compiled.without(['AllowedCPUs']);
    expect(warnings).toHaveLength(2);
    expect(compiled.values).toMatchObject({
      CPUQuota: 160000,
      MemoryMax: { bytes: 536870912n },
      MemoryHigh: { bytes: 1073741824n },
      AllowedCPUs: [0, 1, 2],
    });
    expect(compiled.cpus).toBe(3);
    expect(new CompiledProperties({ CPUQuota: '150%' }, quiet).cpus).toBe(2);
  });
});
