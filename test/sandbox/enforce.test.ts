// Boots the real sandbox and checks, from inside transient units, that its systemd enforces what
// unitpool relies on: User=, PrivateNetwork=, PrivateTmp=, ProtectSystem=strict, CPUQuota=, MemoryMax=.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import dbus from 'dbus-next';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/launcher.js';
import { canBoot, force, skipReason } from './helpers.js';

if (skipReason) console.warn(`sandbox enforcement tests skipped: ${skipReason}`);

/** `systemd-run --wait --pipe --quiet -p ... -- cmd...` inside the sandbox. */
async function run(sb: Sandbox, props: string[], cmd: string[]) {
  return sb.exec('systemd-run', ['--wait', '--pipe', '--quiet', ...props.flatMap((p) => ['-p', p]), '--', ...cmd]);
}

/** The sandbox's cgroup2 directory on the host (cpu.stat lives there whatever v1 does). */
function cgroup2Dir(sb: Sandbox): string {
  const d = sb.cgroups.find((c) => existsSync(join(c, 'cgroup.controllers')));
  if (!d) throw new Error(`no cgroup2 hierarchy among ${sb.cgroups.join(', ')}`);
  return d;
}

function usageUsec(statFile: string): number {
  const m = /^usage_usec (\d+)$/m.exec(readFileSync(statFile, 'utf8'));
  if (!m) throw new Error(`no usage_usec in ${statFile}`);
  return Number(m[1]);
}

describe.skipIf(!canBoot)('sandbox: a real systemd that enforces', () => {
  let sb: Sandbox;

  beforeAll(async () => {
    sb = await startSandbox({ force });
    console.log(`sandbox booted: bus answered after ${sb.bootMs.toFixed(0)} ms (PID 1 = host pid ${sb.pid})`);
  });

  afterAll(async () => {
    if (!sb) return;
    const t = await sb.stop();
    // How fast (the goals: boot < 2 s, stop < 1 s) is measured by `npm run bench:sandbox`, not asserted here.
    console.log(`sandbox stopped in ${t.totalMs.toFixed(0)} ms (PID 1 gone after ${t.killMs.toFixed(0)} ms)`);
    for (const d of sb.cgroups) expect(existsSync(d), d).toBe(false);
  });

  it('serves org.freedesktop.systemd1 on the system bus; StartTransientUnit works over it', async () => {
    const bus = dbus.sessionBus({ busAddress: sb.busAddress });
    try {
      const obj = await bus.getProxyObject('org.freedesktop.systemd1', '/org/freedesktop/systemd1');
      const mgr = obj.getInterface('org.freedesktop.systemd1.Manager');
      const props = obj.getInterface('org.freedesktop.DBus.Properties');
      const version = (await props.Get('org.freedesktop.systemd1.Manager', 'Version')) as dbus.Variant<string>;
      expect(version.value).toMatch(/^25\d/);
      await mgr.Subscribe();
      const unit = `unitpool-sandbox-test-${process.pid}.service`;
      const removed = new Promise<[string, string]>((resolve) => {
        mgr.on('JobRemoved', (_id: number, job: string, name: string, result: string) => {
          if (name === unit) resolve([job, result]);
        });
      });
      const marker = `/run/unitpool-sandbox-test-${process.pid}`;
      const job = await mgr.StartTransientUnit(
        unit,
        'fail',
        [
          ['Type', new dbus.Variant('s', 'oneshot')],
          ['RemainAfterExit', new dbus.Variant('b', true)],
          ['ExecStart', new dbus.Variant('a(sasb)', [['/bin/sh', ['/bin/sh', '-c', `echo hello > ${marker}`], false]])],
        ],
        [],
      );
      const [doneJob, result] = await removed;
      expect(doneJob).toBe(job);
      expect(result).toBe('done');
      expect((await sb.exec('cat', [marker])).stdout).toBe('hello\n');
      expect(existsSync(marker), 'the unit wrote to the sandbox /run, not the host one').toBe(false);
      await sb.exec('systemctl', ['stop', unit]);
    } finally {
      bus.disconnect();
    }
  });

  it('runs commands as root in the same directory, with the bus address set', async () => {
    const r = await sb.exec('sh', [
      '-c',
      'id -u; pwd; echo $DBUS_SYSTEM_BUS_ADDRESS $UNITPOOL_SANDBOX; hostname; systemctl is-system-running',
    ]);
    expect(r.stdout.split('\n')).toEqual([
      '0',
      process.cwd(),
      'unix:path=/run/dbus/system_bus_socket 1',
      'unitpool-sandbox',
      'running',
      '',
    ]);
  });

  it('User=nobody: the unit runs as nobody', async () => {
    const r = await run(sb, ['User=nobody'], ['id', '-un']);
    expect(r.stdout).toBe('nobody\n');
    expect(r.code).toBe(0);
  });

  it('PrivateNetwork=yes: the unit sees only lo', async () => {
    // /proc/net/dev follows the reader's network namespace (sysfs's /sys/class/net follows the
    // mounter's, so it would list the host's interfaces whatever the unit's namespace).
    const r = await run(sb, ['PrivateNetwork=yes'], ['cat', '/proc/net/dev']);
    const ifaces = r.stdout
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.split(':')[0]!.trim());
    expect(ifaces).toEqual(['lo']);
    const outside = await run(sb, [], ['cat', '/proc/net/dev']);
    expect(
      outside.stdout.split('\n').slice(2).filter(Boolean).length,
      'without it the host network is there',
    ).toBeGreaterThan(1);
  });

  it('ProtectSystem=strict: a write to /usr fails', async () => {
    const r = await run(
      sb,
      ['ProtectSystem=strict'],
      ['sh', '-c', 'touch /usr/unitpool-sandbox-test 2>&1; echo "rc=$?"'],
    );
    expect(r.stdout).toMatch(/Read-only file system/);
    expect(r.stdout).toMatch(/rc=1/);
    expect(existsSync('/usr/unitpool-sandbox-test')).toBe(false);
  });

  it('PrivateTmp=yes: the unit gets a /tmp of its own', async () => {
    await sb.exec('sh', ['-c', 'echo outside > /tmp/unitpool-private-tmp-test']);
    const r = await run(sb, ['PrivateTmp=yes'], ['sh', '-c', 'ls -A /tmp; echo inside > /tmp/x']);
    expect(r.stdout).toBe('');
    const after = await sb.exec('ls', ['-A', '/tmp']);
    expect(after.stdout.split('\n')).toContain('unitpool-private-tmp-test');
    expect(after.stdout.split('\n')).not.toContain('x');
  });

  it('CPUQuota=20%: a busy loop gets 15-25% of one CPU over 3.5 s', async () => {
    const unit = 'unitpool-busy.service';
    const start = await sb.exec('systemd-run', [
      '--quiet',
      `--unit=${unit}`,
      '-p',
      'CPUQuota=20%',
      '--',
      '/bin/sh',
      '-c',
      'while :; do :; done',
    ]);
    expect(start.code, start.stderr).toBe(0);
    try {
      // systemd 252 never sets CPUUsageNSec when cpu and cpuacct are mounted apart (as here):
      // read the unit's cgroup2 cpu.stat, which the kernel keeps whatever v1 does.
      const stat = join(cgroup2Dir(sb), 'system.slice', unit, 'cpu.stat');
      await sleep(300);
      const u0 = usageUsec(stat);
      const t0 = performance.now();
      await sleep(3500);
      const u1 = usageUsec(stat);
      const t1 = performance.now();
      const share = (u1 - u0) / ((t1 - t0) * 1000);
      console.log(`CPUQuota=20%: measured ${(share * 100).toFixed(1)}% of one CPU`);
      expect(share).toBeGreaterThan(0.15);
      expect(share).toBeLessThan(0.25);
    } finally {
      await sb.exec('systemctl', ['stop', unit]);
    }
  });

  it('MemoryMax=50M: a process allocating 200 MB is killed by the kernel', async () => {
    // A shell that reads 200 MB into a variable. The control run proves 10 MB fit under the cap.
    // ($$ is a literal $ for systemd, which expands ${...} in ExecStart= itself.)
    const alloc = (mb: number) => `x=$(head -c ${mb * 1024 * 1024} /dev/zero | tr '\\0' a); echo "survived $\${#x}"`;
    const ok = await run(sb, ['MemoryMax=50M'], ['sh', '-c', alloc(10)]);
    expect(ok.stdout).toBe(`survived ${10 * 1024 * 1024}\n`);

    const unit = 'unitpool-oom.service';
    const r = await sb.exec('systemd-run', [
      '--wait',
      '--pipe',
      `--unit=${unit}`,
      '-p',
      'MemoryMax=50M',
      '--',
      'sh',
      '-c',
      alloc(200),
    ]);
    expect(r.stdout).not.toMatch(/survived/);
    expect(r.code).not.toBe(0);
    const show = await sb.exec('systemctl', [
      'show',
      unit,
      '-p',
      'Result',
      '-p',
      'ExecMainCode',
      '-p',
      'ExecMainStatus',
    ]);
    // On this host's cgroup v1 memory controller systemd reports Result=signal (SIGKILL), not
    // oom-kill; on cgroup v2 it is oom-kill. Either way the kernel killed it (code 2 = killed, 9 = KILL).
    expect(show.stdout).toMatch(/^Result=(signal|oom-kill)$/m);
    if (/Result=signal/.test(show.stdout)) {
      expect(show.stdout).toMatch(/^ExecMainCode=2$/m);
      expect(show.stdout).toMatch(/^ExecMainStatus=9$/m);
    }
    await sb.exec('systemctl', ['reset-failed', unit]);
  });
});

describe.skipIf(!canBoot)('sandbox: two at once', () => {
  it('runs two sandboxes side by side, each with its own systemd and /run', async () => {
    const [a, b] = await Promise.all([startSandbox({ force }), startSandbox({ force })]);
    try {
      expect(a.pid).not.toBe(b.pid);
      expect(a.cgroups).not.toEqual(b.cgroups);
      await a.exec('sh', ['-c', 'echo a > /run/which']);
      await b.exec('sh', ['-c', 'echo b > /run/which']);
      expect((await a.exec('cat', ['/run/which'])).stdout).toBe('a\n');
      expect((await b.exec('cat', ['/run/which'])).stdout).toBe('b\n');
      const [ra, rb] = await Promise.all([
        run(a, ['User=nobody'], ['id', '-un']),
        run(b, ['User=nobody'], ['id', '-un']),
      ]);
      expect([ra.stdout, rb.stdout]).toEqual(['nobody\n', 'nobody\n']);
      // Stopping one leaves the other running.
      await a.stop();
      expect((await b.exec('systemctl', ['is-system-running'])).stdout).toBe('running\n');
    } finally {
      await Promise.allSettled([a.stop(), b.stop()]);
    }
    for (const d of [...a.cgroups, ...b.cgroups]) expect(existsSync(d), d).toBe(false);
  });
});
