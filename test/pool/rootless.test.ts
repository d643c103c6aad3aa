// Rootless pools (bus: 'user') inside the v1 sandbox: a test user, its own user manager (user@UID.service of the
// sandbox's systemd), and a pool started by that user with no privilege at all. On cgroup v1 the user manager
// enforces no cgroup limit, and without PrivateUsers=yes it sets up no namespace: the capability check must say so,
// and what it does enforce must show from inside the workers. (The v2 side, where it enforces MemoryMax and
// CPUQuota, is test/vm/user-manager.test.ts.)
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupLayout } from '../../src/unit/cgroup.js';
import { removeSandboxUser, type SandboxUser, sandboxUserSkipReason, startSandboxUser } from '../support/rootless.js';
import { runAsync, show, systemdRun } from '../vm/helpers.js';

const reason = sandboxUserSkipReason();
if (reason) console.warn(`rootless tests skipped: ${reason}`);
const layout = cgroupLayout();
const v1 = layout === 'hybrid' || layout === 'v1';
const NAME = 'unitpool-rootless';
const BASE = `/run/${NAME}-${randomBytes(3).toString('hex')}`;

let user: SandboxUser;
// What the fixture saw, as the user; see test/fixtures/rootless-pool.mjs.
let seen: Record<string, any>;

describe.skipIf(reason !== undefined)(
  `a rootless pool on the sandbox's user manager${reason ? ` [skipped: ${reason}]` : ''}`,
  () => {
    beforeAll(async () => {
      user = await startSandboxUser(NAME, BASE, ['test/fixtures/rootless-pool.mjs']);
      const script = join(user.pkg, 'test/fixtures/rootless-pool.mjs');
      const entry = pathToFileURL(join(user.pkg, 'dist/src/index.js')).href;
      const r = await runAsync(process.execPath, [script, entry], {
        env: user.manager.env,
        uid: user.uid,
        gid: user.gid,
      });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      expect(line, `status ${r.status}\n${r.stdout}\n${r.stderr}`).toMatch(/^\{/);
      seen = JSON.parse(line);
    }, 120_000);

    afterAll(async () => {
      await removeSandboxUser(NAME, BASE);
    }, 60_000);

    it('the user manager runs as the user, in user@UID.service of the sandbox, with its bus in XDG_RUNTIME_DIR', () => {
      const svc = show(`user@${user.uid}.service`, ['ActiveState', 'ControlGroup', 'MainPID']);
      expect(svc.ActiveState).toBe('active');
      expect(svc.ControlGroup).toBe(`/user.slice/user-${user.uid}.slice/user@${user.uid}.service`);
      expect(readFileSync(`/proc/${svc.MainPID}/status`, 'utf8')).toMatch(
        new RegExp(`^Uid:\\s+${user.uid}\\s+${user.uid}\\s`, 'm'),
      );
      expect(statSync(`/run/user/${user.uid}/bus`).uid).toBe(user.uid);
    });

    it("UnitPool.capabilities({ bus: 'user' }) judges the user's manager", () => {
      expect(seen.capabilities.failed).toBeUndefined();
      expect(seen.capabilities.host).toEqual({
        manager: 'user',
        managerCgroup: `/user.slice/user-${user.uid}.slice/user@${user.uid}.service`,
        cgroup: layout,
        root: false,
      });
      const p = seen.capabilities.properties;
      for (const n of ['NoNewPrivileges', 'UMask', 'LimitNOFILE', 'RestrictAddressFamilies', 'Environment'])
        expect(p[n].enforced, n).toBe(true);
      expect(p.LimitNOFILE.note).toMatch(/user manager runs without CAP_SYS_RESOURCE, so it can only lower limits/);
      for (const n of ['PrivateTmp', 'PrivateNetwork']) {
        expect(p[n], n).toEqual({
          enforced: false,
          reason: expect.stringMatching(/user manager sets up none for a unit without PrivateUsers=yes/),
        });
      }
    });

    it.runIf(v1)(
      'on cgroup v1, capabilities() reports MemoryMax, CPUQuota and TasksMax as not enforceable, saying why',
      () => {
        for (const n of ['MemoryMax', 'CPUQuota', 'TasksMax']) {
          expect(seen.capabilities.properties[n], n).toEqual({
            enforced: false,
            reason: expect.stringMatching(
              /^the user manager can enforce no cgroup limit on cgroup v1 .*systemd delegates no v1 controller to user@\.service/,
            ),
          });
        }
        // And that is so: in the v1 memory, cpu and pids hierarchies the workers sit in user@UID.service's cgroup or
        // above it, never in one of the unit's own, where a limit of the unit would be set.
        const service = `/user.slice/user-${user.uid}.slice/user@${user.uid}.service`;
        const v1Lines = (seen.pool.seen.cgroup as string[]).filter((l) =>
          /^\d+:(memory|pids|cpu|cpu,cpuacct):/.test(l),
        );
        expect(v1Lines.length).toBeGreaterThan(0);
        for (const l of v1Lines) expect(service.startsWith(l.slice(l.indexOf(':/') + 1)), l).toBe(true);
      },
    );

    it('tasks run as the user, in a unit of the user manager, and their results come back', () => {
      const { pool } = seen;
      expect(pool.failed, pool.stack).toBeUndefined();
      expect(pool.squares).toEqual([1, 4, 9, 16]);
      // Direct links work under a user manager too: its RuntimeDirectory= is in the user's $XDG_RUNTIME_DIR.
      expect(pool.channels.length).toBeGreaterThan(0);
      expect(new Set(pool.channels)).toEqual(new Set(['direct']));
      expect(pool.seen.uid).toBe(user.uid);
      expect(pool.seen.euid).toBe(user.uid);
      expect(pool.controlGroup).toBe(
        `/user.slice/user-${user.uid}.slice/user@${user.uid}.service/app.slice/${pool.unit}`,
      );
      // The worker's own cgroup (cgroup2 line on hybrid and v2, name=systemd on legacy v1) is the unit's.
      expect(pool.seen.cgroup).toContainEqual(
        expect.stringMatching(new RegExp(`:${pool.controlGroup.replace(/[.@]/g, '\\$&')}$`)),
      );
    });

    it('what the user manager enforces shows inside the workers: NoNewPrivileges, UMask, LimitNOFILE, Environment, a seccomp filter', () => {
      const { seen: w } = seen.pool;
      expect(w.noNewPrivs).toBe('1');
      expect(w.umask).toBe('0077');
      expect(w.nofile).toEqual([512, 512]);
      expect(w.env).toBe('from-the-unit');
      expect(w.tcp).toBe('EAFNOSUPPORT'); // RestrictAddressFamilies=AF_UNIX
    });

    it('the pool leaves no unit behind on the user manager', () => {
      expect(show(seen.pool.unit, ['LoadState'], user.manager).LoadState).toBe('not-found');
    });

    it.runIf(v1)('MemoryMax is a CapabilityError naming it and why; bestEffort runs without it and warns once', () => {
      expect(seen.memoryMax).toMatchObject({
        name: 'CapabilityError',
        property: 'MemoryMax',
        reason: expect.stringContaining('cgroup v1'),
      });
      expect(seen.memoryMax.message).toMatch(
        /^MemoryMax cannot be enforced on this host: .* list it in bestEffort: \['MemoryMax'\] to run without it\.$/,
      );
      const b = seen.bestEffort;
      expect(b.failed, b.stack).toBeUndefined();
      expect(b.result).toBe('ran without MemoryMax');
      expect(b.memoryMax).toBe(String(2n ** 64n - 1n)); // not set on the unit
      expect(b.noNewPrivileges).toBe(true); // the rest is kept
      expect(b.warnings).toEqual([
        expect.objectContaining({
          code: 'UNITPOOL_BEST_EFFORT',
          message: expect.stringMatching(/^MemoryMax is not enforced on this host/),
        }),
      ]);
    });

    it('PrivateTmp is a CapabilityError: the user manager would skip it silently', () => {
      expect(seen.privateTmp).toMatchObject({
        name: 'CapabilityError',
        property: 'PrivateTmp',
        reason: expect.stringContaining('PrivateUsers=yes'),
      });
      // The refusal is right: systemd-run --user accepts PrivateTmp=yes and runs the unit in the manager's own mount
      // namespace, with the sandbox's /tmp.
      const managerPid = show(`user@${user.uid}.service`, ['MainPID']).MainPID;
      const r = systemdRun(user.manager, [
        '--wait',
        '--pipe',
        '--quiet',
        '-p',
        'PrivateTmp=yes',
        'readlink',
        '/proc/self/ns/mnt',
      ]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(readlinkSync(`/proc/${managerPid}/ns/mnt`));
    });

    it('with no user manager to reach: SystemdUnavailableError, saying how to get one', () => {
      expect(seen.noBus).toMatchObject({
        name: 'SystemdUnavailableError',
        address: `unix:path=${user.home}/no-runtime-dir/bus`,
      });
      expect(seen.noBus.message).toContain('no D-Bus socket there');
      expect(seen.noBus.message).toContain('loginctl enable-linger');
      expect(seen.noBus.message).toContain('XDG_RUNTIME_DIR=/run/user/<uid>');
    });
  },
);
