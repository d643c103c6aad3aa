import { describe, expect, test } from 'vitest';
import {
  compileUnitOptions,
  mergeProperties,
  preset,
  PRESET_DOCS,
  PRESET_NAMES,
  presetProperties,
  presetPropertyNames,
} from '../../../src/properties/index.js';
import { UNTRUSTED_DENIED_SYSCALLS } from '../../../src/properties/presets.js';
import { scratchInodes } from '../../../src/properties/scratch.js';
import { compile, optionError } from './helpers.js';

describe('presets', () => {
  test('untrusted', () => {
    const p = preset('untrusted');
    expect(p).toMatchObject({
      DynamicUser: true,
      PrivateNetwork: true,
      RestrictAddressFamilies: ['AF_UNIX'],
      ProtectSystem: 'strict',
      ProtectHome: true,
      PrivateTmp: true,
      PrivateDevices: true,
      NoNewPrivileges: true,
      ProtectKernelTunables: true,
      ProtectKernelModules: true,
      ProtectKernelLogs: true,
      ProtectControlGroups: true,
      ProtectClock: true,
      ProtectHostname: true,
      RestrictNamespaces: true,
      LockPersonality: true,
      RestrictSUIDSGID: true,
      TemporaryFileSystem: ['/dev/shm:size=256m,nr_inodes=65536,mode=1777,nosuid,nodev', '/run:ro'],
      BindPaths: [
        { source: '/run/systemd/unit-root/dev/shm', destination: '/tmp' },
        { source: '/run/systemd/unit-root/dev/shm', destination: '/var/tmp' },
      ],
      ReadOnlyPaths: ['-/proc/pressure'],
      InaccessiblePaths: ['-/dev/mqueue', '-/dev/pts'],
      SystemCallFilter: {
        allow: ['@system-service', '@pkey'],
        deny: UNTRUSTED_DENIED_SYSCALLS.map((s) => `${s}:EPERM`),
      },
      SystemCallArchitectures: 'native',
      TasksMax: 1024,
      MemoryMax: '50%',
    });
    expect(p.MemoryDenyWriteExecute).toBeUndefined();
  });

  test('untrusted compiles, and passes the checks Node needs', () => {
    const out = compile(preset('untrusted'), { maxWorkers: 8 });
    const byName = new Map(out.map(([n, s, v]) => [n, [s, v]]));
    expect(byName.get('DynamicUser')).toEqual(['b', true]);
    expect(out.filter(([n]) => n === 'SystemCallFilter')).toEqual([
      ['SystemCallFilter', '(bas)', [true, ['@system-service', '@pkey']]],
      ['SystemCallFilter', '(bas)', [false, UNTRUSTED_DENIED_SYSCALLS.map((s) => `${s}:EPERM`)]],
    ]);
    expect(byName.get('BindPaths')).toEqual([
      'a(ssbt)',
      [
        ['/run/systemd/unit-root/dev/shm', '/tmp', false, 16384],
        ['/run/systemd/unit-root/dev/shm', '/var/tmp', false, 16384],
      ],
    ]);
    expect(byName.get('RestrictAddressFamilies')).toEqual(['(bas)', [true, ['AF_UNIX']]]);
    expect(byName.get('CapabilityBoundingSet')).toEqual(['t', 0]);
    expect(byName.get('MemoryMaxScale')).toEqual(['u', 2147483648]);
    expect(byName.get('UMask')).toEqual(['u', 0o077]);
  });

  test('currentDirOnly opens the working directory only', () => {
    expect(preset('currentDirOnly', { cwd: '/srv/project' })).toEqual({
      ProtectSystem: 'strict',
      ProtectHome: 'tmpfs',
      BindPaths: [{ source: '/srv/project' }],
      WorkingDirectory: '/srv/project',
      PrivateTmp: true,
      PrivateDevices: true,
      ProtectKernelTunables: true,
      ProtectControlGroups: true,
    });
    expect(compile(preset('currentDirOnly', { cwd: '/tmp' }))).toEqual([
      ['ProtectSystem', 's', 'strict'],
      ['ProtectHome', 's', 'tmpfs'],
      ['PrivateTmp', 'b', true],
      ['PrivateDevices', 'b', true],
      ['BindPaths', 'a(ssbt)', [['/tmp', '/tmp', false, 16384]]],
      ['WorkingDirectory', 's', '/tmp'],
      ['ProtectKernelTunables', 'b', true],
      ['ProtectControlGroups', 'b', true],
    ]);
    expect(optionError(() => preset('currentDirOnly', { cwd: '/' })).message).toBe(
      'preset: currentDirOnly opens the working directory, and it must be an absolute path other than / (got "/"); expected a project directory as the working directory (run the program from it)',
    );
  });

  test('batch caps CPU at half the host and memory at half the RAM', () => {
    expect(preset('batch', { cpus: 8 })).toEqual({ CPUQuota: '400%', MemoryMax: '50%' });
    expect(preset('batch', { cpus: 3 })).toEqual({ CPUQuota: '200%', MemoryMax: '50%' });
    expect(preset('batch', { cpus: 1 })).toEqual({ CPUQuota: '100%', MemoryMax: '50%' });
  });

  test('every preset is documented', () => {
    for (const name of PRESET_NAMES) {
      expect(PRESET_DOCS[name].summary.length).toBeGreaterThan(20);
      expect(PRESET_DOCS[name].blocks.length).toBeGreaterThan(0);
      expect(presetPropertyNames(name).length).toBeGreaterThan(0);
    }
  });
});

describe('merging', () => {
  test('the user wins, property by property; null removes', () => {
    const merged = mergeProperties(preset('untrusted'), {
      MemoryMax: '2G',
      PrivateNetwork: false,
      SystemCallFilter: null,
    });
    expect(merged.MemoryMax).toBe('2G');
    expect(merged.PrivateNetwork).toBe(false);
    expect('SystemCallFilter' in merged).toBe(false);
    expect(merged.DynamicUser).toBe(true);
  });

  test('layers apply left to right; undefined is skipped', () => {
    expect(mergeProperties({ Nice: 1 }, undefined, { Nice: 2, CPUQuota: '10%' }, { CPUQuota: undefined })).toEqual({
      Nice: 2,
      CPUQuota: '10%',
    });
  });

  test('the preset option: one name or several', () => {
    expect(presetProperties('batch', { cpus: 4 })).toEqual({ CPUQuota: '200%', MemoryMax: '50%' });
    const both = presetProperties(['untrusted', 'batch'], { cpus: 4 });
    expect(both.CPUQuota).toBe('200%');
    expect(both.DynamicUser).toBe(true);
    expect(optionError(() => presetProperties('paranoid')).message).toBe(
      `preset: unknown preset "paranoid" (got "paranoid"); expected one of 'untrusted', 'currentDirOnly', 'batch'`,
    );
    expect(optionError(() => presetProperties(['batch', 'x'])).option).toBe('preset[1]');
  });

  test('compileUnitOptions merges preset, properties and env, and reports the CPUs', () => {
    const c = compileUnitOptions(
      { preset: 'batch', properties: { CPUQuota: '150%' }, env: 'none', bestEffort: ['MemoryMax'] },
      { presetContext: { cpus: 8 }, hostCpus: 8, warn: () => {} },
    );
    expect(c.properties).toEqual([
      ['CPUQuotaPerSecUSec', 't', 1500000],
      ['MemoryMaxScale', 'u', 2147483648],
    ]);
    expect(c.cpus).toBe(2);
    expect(c.requested).toEqual({ CPUQuota: '150%', MemoryMax: '50%' });
    expect(c.bestEffort).toEqual(['MemoryMax']);
  });

  test('CPUs from AllowedCPUs, the smaller of the two', () => {
    expect(
      compileUnitOptions({ properties: { AllowedCPUs: '0-2', CPUQuota: '400%' }, env: 'none' }, { hostCpus: 8 }).cpus,
    ).toBe(3);
    expect(compileUnitOptions({ properties: {}, env: 'none' }).cpus).toBeUndefined();
  });

  test('bestEffort names must be set properties', () => {
    expect(
      optionError(() => compileUnitOptions({ properties: { CPUQuota: '50%' }, bestEffort: ['MemoryMax'], env: 'none' }))
        .message,
    ).toBe(
      `bestEffort[0]: MemoryMax is not set in properties (or the preset) (got "MemoryMax"); expected an array of property names that are set, e.g. ['MemoryMax']`,
    );
    expect(
      optionError(() =>
        compileUnitOptions({ properties: { CPUQuota: '50%' }, bestEffort: ['CPUQuta' as never], env: 'none' }),
      ).message,
    ).toBe(
      `bestEffort[0]: unknown property; did you mean CPUQuota? (got "CPUQuta"); expected an array of property names that are set, e.g. ['MemoryMax']`,
    );
  });
});

describe('scratchSize (the untrusted scratch space)', () => {
  const tmpfsOf = (o: Parameters<typeof compileUnitOptions>[0]) =>
    compileUnitOptions({ env: 'none', ...o }).requested.TemporaryFileSystem;
  test('sizes the one tmpfs behind /tmp, /var/tmp and /dev/shm (and its inodes, one per 4 KiB); default 256M', () => {
    expect(tmpfsOf({ preset: 'untrusted' })).toEqual([
      '/dev/shm:size=256m,nr_inodes=65536,mode=1777,nosuid,nodev',
      '/run:ro',
    ]);
    expect(tmpfsOf({ preset: 'untrusted', scratchSize: '1G' })).toEqual([
      '/dev/shm:size=1g,nr_inodes=262144,mode=1777,nosuid,nodev',
      '/run:ro',
    ]);
    expect(tmpfsOf({ preset: ['batch', 'untrusted'], scratchSize: 65536 })).toEqual([
      '/dev/shm:size=65536,nr_inodes=1024,mode=1777,nosuid,nodev',
      '/run:ro',
    ]);
    expect(tmpfsOf({ preset: 'untrusted', scratchSize: '10%' })![0]).toMatch(
      /^\/dev\/shm:size=10%,nr_inodes=\d+,mode=1777,nosuid,nodev$/,
    );
    expect(scratchInodes('10%', 8 * 1024 ** 3)).toBe(Math.floor((0.8 * 1024 ** 3) / 4096));
  });
  test('bad sizes, and a size without the untrusted preset, are errors', () => {
    expect(optionError(() => compileUnitOptions({ preset: 'untrusted', scratchSize: '1 GB' })).message).toMatch(
      /^scratchSize: not a size \(got "1 GB"\); expected a size: bytes/,
    );
    expect(optionError(() => compileUnitOptions({ preset: 'untrusted', scratchSize: 12 })).message).toMatch(
      /^scratchSize: not a whole number of bytes of at least 4096/,
    );
    expect(optionError(() => compileUnitOptions({ preset: 'untrusted', scratchSize: '200%' })).message).toMatch(
      /more than 100% of RAM/,
    );
    expect(optionError(() => compileUnitOptions({ preset: 'batch', scratchSize: '64M' })).message).toMatch(
      /^scratchSize: only preset 'untrusted' has a scratch space to size/,
    );
  });
  test('a checkout under /tmp is still bound in over the scratch space (the workers load unitpool from it)', () => {
    const stat = () => ({ mode: 0o755, uid: 0, gid: 0, isDirectory: true });
    const out = compile(preset('untrusted'), {
      readablePaths: [{ path: '/tmp/ci/checkout', what: "unitpool's package directory" }],
      stat,
    });
    expect(out).toContainEqual([
      'BindReadOnlyPaths',
      'a(ssbt)',
      [['/tmp/ci/checkout', '/tmp/ci/checkout', false, 16384]],
    ]);
  });
  test("a bind from the unit's own tree must come from one of its TemporaryFileSystem mounts, mounted before it", () => {
    const src = '/run/systemd/unit-root/dev/shm';
    expect(optionError(() => compile({ BindPaths: [{ source: src, destination: '/tmp' }] })).message).toMatch(
      /^properties\.BindPaths: source \/run\/systemd\/unit-root\/dev\/shm must lie in one of the unit's own TemporaryFileSystem mounts/,
    );
    expect(
      optionError(() =>
        compile({
          TemporaryFileSystem: '/var/x',
          BindPaths: [{ source: '/run/systemd/unit-root/var/x', destination: '/tmp' }],
        }),
      ).message,
    ).toMatch(/that systemd mounts before \/tmp/);
    expect(
      optionError(() =>
        compile({
          TemporaryFileSystem: '/dev/shm',
          RootDirectory: '/',
          BindPaths: [{ source: src, destination: '/tmp' }],
        }),
      ).message,
    ).toMatch(/does not work with RootDirectory/);
    expect(
      compile({ TemporaryFileSystem: '/dev/shm', BindPaths: [{ source: src, destination: '/tmp' }] }),
    ).toContainEqual(['BindPaths', 'a(ssbt)', [[src, '/tmp', false, 16384]]]);
  });
});
