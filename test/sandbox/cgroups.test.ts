// Parsing of /proc/self/cgroup and /proc/self/mountinfo into the hierarchies the sandbox mirrors.
// Plain data in, plain data out: these run anywhere, as any user.
import { describe, expect, it } from 'vitest';
import { parseMountInfo, parseProcCgroup, readCgroupMounts } from '../../src/sandbox/cgroups.js';
import { SandboxError } from '../../src/sandbox/errors.js';

// Taken from the machines this project runs on (hybrid: v1 controllers, cpu and cpuacct apart,
// name=systemd, cgroup2 on unified; memory confined to /process_api/<id>).
const HYBRID_CGROUP = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/0f15dde0bec1ce8cc6ae7e1ce7f6062a
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`;
const HYBRID_MOUNTS = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

describe('cgroup layout', () => {
  it('parses mountinfo, including escaped paths', () => {
    const [m] = parseMountInfo('36 25 0:32 / /mnt/a\\040b rw,nosuid shared:1 - tmpfs none rw,size=4k\n');
    expect(m).toMatchObject({
      mountId: 36,
      parentId: 25,
      root: '/',
      mountPoint: '/mnt/a b',
      fsType: 'tmpfs',
      superOptions: ['rw', 'size=4k'],
    });
  });

  it('parses /proc/self/cgroup', () => {
    expect(parseProcCgroup(HYBRID_CGROUP)[0]).toEqual({ hierarchyId: 9, controllers: ['name=systemd'], path: '/' });
    expect(parseProcCgroup(HYBRID_CGROUP).at(-1)).toEqual({ hierarchyId: 0, controllers: [], path: '/' });
  });

  it('mirrors this hybrid host: every hierarchy, the sandbox under our own cgroup', () => {
    const layout = readCgroupMounts(HYBRID_CGROUP, HYBRID_MOUNTS, () => []);
    expect(layout.layout).toBe('hybrid');
    const byName = Object.fromEntries(layout.hierarchies.map((h) => [h.name, h]));
    expect(Object.keys(byName).sort()).toEqual([
      'blkio',
      'cpu',
      'cpuacct',
      'cpuset',
      'devices',
      'freezer',
      'memory',
      'pids',
      'systemd',
      'unified',
    ]);
    expect(byName.memory!.ownDir).toBe('/sys/fs/cgroup/memory/process_api/0f15dde0bec1ce8cc6ae7e1ce7f6062a');
    expect(byName.cpu!.ownDir).toBe('/sys/fs/cgroup/cpu');
    expect(byName.systemd!.mountOptions).toBe('name=systemd');
    expect(byName.unified).toMatchObject({ version: 2, mountOptions: '-' });
    expect(byName.cpu!.mountOptions).toBe('cpu');
  });

  it('handles co-mounted controllers and the links next to them (systemd hosts with v1)', () => {
    const cg = '3:cpu,cpuacct:/docker/abc\n2:name=systemd:/docker/abc\n1:memory:/docker/abc\n0::/\n';
    const mounts = `31 23 0:28 / /sys/fs/cgroup ro - tmpfs tmpfs rw
32 31 0:29 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu
33 31 0:30 /docker/abc /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
34 31 0:31 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
`;
    const layout = readCgroupMounts(cg, mounts, () => [
      ['cpu', 'cpu,cpuacct'],
      ['cpuacct', 'cpu,cpuacct'],
    ]);
    expect(layout.layout).toBe('v1');
    const cpu = layout.hierarchies.find((h) => h.name === 'cpu,cpuacct')!;
    // The mount's root is our own cgroup (a container's cgroup namespace): ownDir is the mount point.
    expect(cpu.ownDir).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(cpu.mountOptions).toBe('cpuacct,cpu');
    expect(layout.hierarchies.find((h) => h.name === 'systemd')!.mountOptions).toBe('xattr,name=systemd');
    expect(layout.links).toEqual([
      ['cpu', 'cpu,cpuacct'],
      ['cpuacct', 'cpu,cpuacct'],
    ]);
  });

  it('handles pure cgroup v2', () => {
    const layout = readCgroupMounts(
      '0::/user.slice/x.scope\n',
      '40 23 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n',
      () => [],
    );
    expect(layout).toEqual({
      layout: 'v2',
      links: [],
      hierarchies: [
        {
          version: 2,
          controllers: [],
          mountPoint: '/sys/fs/cgroup',
          name: '.',
          mountOptions: 'nsdelegate,memory_recursiveprot',
          ownDir: '/sys/fs/cgroup/user.slice/x.scope',
        },
      ],
    });
  });

  it('refuses layouts it cannot mirror, saying why', () => {
    const noName = '1:memory:/\n';
    const mounts = `31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw
34 31 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
`;
    expect(() => readCgroupMounts(noName, mounts, () => [])).toThrow(SandboxError);
    expect(() => readCgroupMounts(noName, mounts, () => [])).toThrow(/name=systemd/);
    expect(() => readCgroupMounts('0::/\n', '23 1 0:22 / /sys rw - sysfs sysfs rw\n', () => [])).toThrow(
      /nothing is mounted on \/sys\/fs\/cgroup/,
    );
    try {
      readCgroupMounts('0::/../../x\n', '40 23 0:38 /a /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n', () => []);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SandboxError);
      expect((e as SandboxError).reason).toBe('cgroup-layout');
      expect((e as SandboxError).message).toMatch(/outside the part of the hierarchy/);
    }
  });
});
