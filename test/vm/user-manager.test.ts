// The rootless user manager (`systemd --user`, the pool's `bus: 'user'`), where it can really enforce limits: on
// a pure cgroup v2 host, user@UID.service gets the memory, cpu and pids controllers delegated, so a transient unit
// on the user bus is held to MemoryMax and CPUQuota. On the v1 machines the user manager starts but enforces
// neither (see /work/shared/notes), so this runs only in the VM tier; it creates a user, so only inside the VM.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  inVm,
  type Manager,
  measureCpuShare,
  ROOT,
  run,
  runAsync,
  show,
  systemctl,
  systemdRun,
  unitName,
  userManager,
  v2SkipReason,
  waitFor,
} from './helpers.js';

const reason =
  v2SkipReason ??
  (inVm ? undefined : 'creates a user and enables lingering: runs only inside the VM tier (npm run test:vm)');
if (reason) console.warn(`user manager tests skipped: ${reason}`);
const USER = 'unitpool-vm-user';
const MiB = 1024 * 1024;

let uid = 0;
let gid = 0;
let user: Manager = { args: ['--user'] };
const started: string[] = [];

describe.skipIf(reason !== undefined)(
  `the rootless user manager on cgroup v2${reason ? ` [skipped: ${reason}]` : ''}`,
  () => {
    beforeAll(async () => {
      if (run('id', ['-u', USER]).status !== 0) {
        const add = run('useradd', ['--create-home', '--shell', '/bin/sh', USER]);
        expect(add.status, add.stderr).toBe(0);
      }
      uid = Number(run('id', ['-u', USER]).stdout.trim());
      gid = Number(run('id', ['-g', USER]).stdout.trim());
      const linger = run('loginctl', ['enable-linger', USER]);
      expect(linger.status, linger.stderr).toBe(0);
      const runtime = `/run/user/${uid}`;
      await waitFor(
        `${runtime}/bus (user@${uid}.service and its dbus.socket)`,
        () => existsSync(`${runtime}/bus`),
        120_000,
      );
      user = userManager({ name: USER, uid, gid, home: `/home/${USER}` });
      await waitFor(
        'the user manager to finish starting',
        () => /running|degraded/.test(systemctl(user, ['is-system-running']).stdout),
        120_000,
        500,
      );
    });

    afterAll(() => {
      for (const u of started) {
        systemctl(user, ['stop', u]);
        systemctl(user, ['reset-failed', u]);
      }
    });

    it('loginctl enable-linger starts user@UID.service with memory, cpu and pids delegated', () => {
      const svc = `user@${uid}.service`;
      const props = show(svc, ['ActiveState', 'Delegate', 'DelegateControllers', 'ControlGroup']);
      expect(props.ActiveState).toBe('active');
      expect(props.Delegate).toBe('yes');
      expect(props.DelegateControllers.split(' ')).toEqual(expect.arrayContaining(['cpu', 'memory', 'pids']));
      const dir = `/sys/fs/cgroup${props.ControlGroup}`;
      expect(readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim().split(' ')).toEqual(
        expect.arrayContaining(['cpu', 'memory', 'pids']),
      );
      // The user owns its subtree: that is what the delegation is.
      expect(spawnSync('stat', ['-c', '%u', dir], { encoding: 'utf8' }).stdout.trim()).toBe(String(uid));
    });

    it('MemoryMax=50M on the user bus: a 200 MB allocation ends the unit with Result=oom-kill', () => {
      const unit = unitName('user-oom');
      started.push(unit);
      const r = systemdRun(user, [
        '--unit',
        unit,
        '-p',
        'MemoryMax=50M',
        '-p',
        'MemorySwapMax=0',
        '--wait',
        'dd',
        'if=/dev/zero',
        'of=/dev/null',
        'bs=200M',
        'count=1',
      ]);
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toContain('Finished with result: oom-kill');
      expect(show(unit, ['Result', 'MemoryMax'], user)).toMatchObject({
        Result: 'oom-kill',
        MemoryMax: String(50 * MiB),
      });
    });

    it('CPUQuota=20% on the user bus: a busy loop gets 15-25% of a CPU over 4 s', async () => {
      const unit = unitName('user-cpu');
      started.push(unit);
      const r = systemdRun(user, ['--unit', unit, '-p', 'CPUQuota=20%', 'sh', '-c', 'while :; do :; done']);
      expect(r.status, r.stderr).toBe(0);
      const m = await measureCpuShare(unit, 4000, user);
      systemctl(user, ['stop', unit]);
      console.log(
        `user manager, CPUQuota=20%: CPUUsageNSec share ${(m.systemd * 100).toFixed(1)}%, cpu.stat ${(m.cgroup * 100).toFixed(1)}%`,
      );
      expect(m.cpuMax).toBe('20000 100000');
      expect(m.systemd).toBeGreaterThanOrEqual(0.15);
      expect(m.systemd).toBeLessThanOrEqual(0.25);
      expect(m.cgroup).toBeGreaterThanOrEqual(0.15);
      expect(m.cgroup).toBeLessThanOrEqual(0.25);
    });

    it("UnitPool({ bus: 'user' }) as the user: workers run as the user, under CPUQuota and MemoryMax (oom-kill)", async () => {
      const r = await runAsync(process.execPath, [join(ROOT, 'test/vm/fixtures/user-pool.mjs')], {
        env: user.env,
        uid,
        gid,
      });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      expect(line, `status ${r.status}\n${r.stdout}\n${r.stderr}`).toMatch(/^\{/);
      const seen = JSON.parse(line);
      console.log(`user pool: ${JSON.stringify({ unit: seen.unit, cpuShare: seen.cpuShare, oom: seen.oom?.reason })}`);
      expect(seen.errors).toBeUndefined();
      expect(seen.controlGroup).toContain(`/user.slice/user-${uid}.slice/user@${uid}.service/`);
      expect(seen.worker.uid).toBe(uid);
      expect(seen.worker.cgroup).toContain(seen.unit);
      expect(seen.cpuMaxWorkers).toBe(1); // CPUQuota=20% counts as less than one CPU
      expect(seen.cpuShare).toBeGreaterThanOrEqual(0.15);
      expect(seen.cpuShare).toBeLessThanOrEqual(0.25);
      expect(seen.oom).toMatchObject({ name: 'WorkerExitedError', reason: 'oom-kill', signal: 'SIGKILL' });
      expect(seen.after).toBe('still working');
      expect(r.status).toBe(0);
      // The unit is gone after shutdown.
      expect(show(seen.unit, ['LoadState'], user).LoadState).toBe('not-found');
    });
  },
);
