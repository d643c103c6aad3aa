// Identity, environment and the working directory, seen from inside a forked worker: User, Group,
// SupplementaryGroups, DynamicUser, UMask, the capability sets (AmbientCapabilities, CapabilityBoundingSet),
// ProtectProc/ProcSubset (which need a non-root user to show), Environment and the env policy, WorkingDirectory,
// RuntimeDirectory.
import { existsSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnitPool } from '../../src/index.js';
import { DEFAULT_ENV_NAMES, FORBIDDEN_ENV, NOT_INHERITED } from '../../src/properties/index.js';
import {
  capNames,
  enforced,
  listenProbe,
  listProbe,
  readProbe,
  scratchDir,
  startPool,
  statusProbe,
  writeProbe,
} from './helpers.js';

const dir = scratchDir('identity');
afterAll(() => dir.remove());

/** The variables systemd itself gives every service (and USER/LOGNAME with User=); the pool adds none. */
function systemdOwn(env: Record<string, string>): string[] {
  return Object.keys(env).filter((k) =>
    ['USER', 'LOGNAME', 'HOME', 'SHELL', 'INVOCATION_ID', 'SYSTEMD_EXEC_PID', 'RUNTIME_DIRECTORY'].includes(k),
  );
}

describe.runIf(enforced('User'))(
  'a pool running as nobody, with groups, a umask, a working and a runtime directory',
  () => {
    let pool: UnitPool;
    beforeAll(async () => {
      process.env.UNITPOOL_TEST_NAMED = 'named and copied';
      process.env.UNITPOOL_TEST_SECRET = 'not named, not copied';
      pool = await startPool({
        maxWorkers: 2,
        env: ['UNITPOOL_TEST_NAMED'],
        properties: {
          User: 'nobody',
          Group: 'nogroup',
          SupplementaryGroups: ['users'],
          UMask: '0027',
          WorkingDirectory: dir.path,
          RuntimeDirectory: 'unitpool-test-identity',
          Environment: { UNITPOOL_FROM_PROPERTY: 'set by Environment', LANG: 'C.UTF-8' },
          CapabilityBoundingSet: ['CAP_NET_BIND_SERVICE'],
          AmbientCapabilities: ['CAP_NET_BIND_SERVICE'],
          PrivateNetwork: true,
          ProtectProc: 'invisible',
          ProcSubset: 'pid',
        },
      });
    });
    afterAll(async () => {
      delete process.env.UNITPOOL_TEST_NAMED;
      delete process.env.UNITPOOL_TEST_SECRET;
      await pool?.shutdown();
    });

    it('User, Group, SupplementaryGroups: uid, gid and groups of the worker', async () => {
      const seen = await pool.submit(async () => {
        const { readFileSync } = await import('node:fs');
        const status = readFileSync('/proc/self/status', 'utf8');
        return { uid: process.getuid!(), gid: process.getgid!(), groups: process.getgroups!(), status };
      });
      expect(seen.uid).toBe(65534);
      expect(seen.gid).toBe(65534);
      expect(seen.status).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
      expect(seen.status).toMatch(/^Gid:\s+65534\s+65534\s+65534\s+65534$/m);
      // users (100) as a supplementary group; nogroup is the primary one.
      expect(
        /^Groups:\s*(.*)$/m
          .exec(seen.status)![1]!
          .trim()
          .split(/\s+/)
          .map(Number)
          .sort((a, b) => a - b),
      ).toEqual([100, 65534]);
    });

    it('UMask: process.umask() and the mode of a new file', async () => {
      const seen = await pool.submit(async () => {
        const fs = await import('node:fs');
        const file = '/run/unitpool-test-identity/umask-probe';
        fs.writeFileSync(file, 'x');
        const mode = fs.statSync(file).mode & 0o777;
        fs.rmSync(file);
        return { umask: process.umask(), mode };
      });
      expect(seen.umask).toBe(0o027);
      expect(seen.mode).toBe(0o640);
    });

    it('WorkingDirectory: process.cwd()', async () => {
      expect(await pool.submit(() => process.cwd())).toBe(dir.path);
    });

    it('RuntimeDirectory: /run/NAME exists, owned by the worker user, named in $RUNTIME_DIRECTORY', async () => {
      const seen = await pool.submit(async () => {
        const fs = await import('node:fs');
        const st = fs.statSync('/run/unitpool-test-identity');
        fs.writeFileSync('/run/unitpool-test-identity/probe', 'x');
        return { dir: st.isDirectory(), uid: st.uid, env: process.env.RUNTIME_DIRECTORY };
      });
      expect(seen).toEqual({ dir: true, uid: 65534, env: '/run/unitpool-test-identity' });
      expect(existsSync('/run/unitpool-test-identity/probe')).toBe(true);
    });

    it('Environment and the default env policy: process.env is exactly PATH and the locale, the named variables, Environment, and what systemd sets', async () => {
      const env = await pool.submit(() => ({ ...process.env }) as Record<string, string>);
      const expected: Record<string, string> = {};
      for (const name of DEFAULT_ENV_NAMES) if (process.env[name] !== undefined) expected[name] = process.env[name]!;
      Object.assign(expected, {
        UNITPOOL_TEST_NAMED: 'named and copied',
        UNITPOOL_FROM_PROPERTY: 'set by Environment',
        LANG: 'C.UTF-8',
      });
      Object.assign(expected, { USER: 'nobody', LOGNAME: 'nobody', RUNTIME_DIRECTORY: '/run/unitpool-test-identity' });
      const own = systemdOwn(env);
      expect(own).toEqual(expect.arrayContaining(['USER', 'LOGNAME', 'INVOCATION_ID', 'SYSTEMD_EXEC_PID']));
      const { INVOCATION_ID, SYSTEMD_EXEC_PID, HOME, SHELL, ...rest } = env;
      expect(rest).toEqual(expected);
      expect(INVOCATION_ID).toMatch(/^[0-9a-f]{32}$/);
      // systemd's exec pid is the unit's main process, the supervisor, which forked this worker.
      expect(Number(SYSTEMD_EXEC_PID)).toBe(await pool.submit(() => process.ppid));
      expect([HOME, SHELL].filter((v) => v !== undefined).every((v) => typeof v === 'string')).toBe(true);
      expect(env.UNITPOOL_TEST_SECRET).toBeUndefined();
    });

    it('CapabilityBoundingSet and AmbientCapabilities: CapBnd and CapAmb, and nobody can bind port 80', async () => {
      const status = await pool.submit(statusProbe);
      expect(capNames(status.CapBnd!)).toEqual(['CAP_NET_BIND_SERVICE']);
      expect(capNames(status.CapAmb!)).toEqual(['CAP_NET_BIND_SERVICE']);
      expect(capNames(status.CapEff!)).toEqual(['CAP_NET_BIND_SERVICE']);
      // A privileged port, on the private loopback (PrivateNetwork): only the ambient capability allows it.
      expect(await pool.submit(listenProbe, ['127.0.0.1', 80])).toBe('listening');
      expect(await pool.submit(listenProbe, ['127.0.0.1', 0])).toBe('listening');
    });

    it("ProtectProc=invisible: other users' processes are not in /proc (not PID 1, not the test process)", async () => {
      const seen = await pool.submit(async () => {
        const fs = await import('node:fs');
        return {
          pid1: fs.existsSync('/proc/1'),
          pids: fs
            .readdirSync('/proc')
            .filter((x) => /^\d+$/.test(x))
            .map(Number),
          self: process.pid,
          parent: process.ppid,
        };
      });
      expect(existsSync(`/proc/${process.pid}`)).toBe(true);
      expect(seen.pid1).toBe(false);
      expect(seen.pids).not.toContain(process.pid);
      // What it still sees: processes of its own user, i.e. the unit's (supervisor and workers).
      expect(seen.pids).toEqual(expect.arrayContaining([seen.self, seen.parent]));
    });

    it('ProcSubset=pid: /proc has only the process directories (no meminfo, no sys)', async () => {
      const entries = (await pool.submit(listProbe, ['/proc'])) as string[];
      expect(entries.filter((e) => !/^\d+$/.test(e)).sort()).toEqual(['self', 'thread-self']);
      expect(await pool.submit(readProbe, ['/proc/meminfo'])).toBe('!ENOENT');
      expect(existsSync('/proc/meminfo')).toBe(true);
    });

    it('the worker cannot write outside what its user owns (nobody, no capabilities)', async () => {
      expect(await pool.submit(writeProbe, ['/etc/unitpool-probe'])).toBe('EACCES');
    });
  },
);

describe.runIf(enforced('DynamicUser'))("DynamicUser, with env: 'none'", () => {
  let pool: UnitPool;
  beforeAll(async () => {
    pool = await startPool({
      maxWorkers: 1,
      env: 'none',
      properties: { DynamicUser: true, Environment: { ONLY: 'this' } },
    });
  });
  afterAll(() => pool?.shutdown());

  it("DynamicUser: a uid and gid from systemd's dynamic range (61184-65519), the same for the whole unit", async () => {
    const seen = await pool.submit(async () => {
      const { readFileSync } = await import('node:fs');
      const parentStatus = readFileSync(`/proc/${process.ppid}/status`, 'utf8');
      return {
        uid: process.getuid!(),
        gid: process.getgid!(),
        parentUid: Number(/^Uid:\s+(\d+)/m.exec(parentStatus)![1]),
      };
    });
    expect(seen.uid).toBeGreaterThanOrEqual(61184);
    expect(seen.uid).toBeLessThanOrEqual(65519);
    expect(seen.gid).toBe(seen.uid);
    expect(seen.parentUid).toBe(seen.uid);
  });

  it('DynamicUser implies ProtectSystem=strict, PrivateTmp and NoNewPrivileges', async () => {
    const status = await pool.submit(statusProbe);
    expect(status.NoNewPrivs).toBe('1');
    expect(await pool.submit(writeProbe, ['/usr/unitpool-probe'])).toBe('EROFS');
    expect(await pool.submit(writeProbe, ['/tmp/unitpool-probe'])).toBe('written');
  });

  it("env: 'none': nothing from this process, only Environment and what systemd sets", async () => {
    const env = await pool.submit(() => ({ ...process.env }) as Record<string, string>);
    const { INVOCATION_ID, SYSTEMD_EXEC_PID, USER, LOGNAME, HOME, SHELL, PATH, LANG, ...rest } = env;
    expect(rest).toEqual({ ONLY: 'this' });
    // systemd's own PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin, plus :/sbin:/bin on split-usr builds), not this process's.
    expect(PATH).toMatch(/^\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin(:\/sbin:\/bin)?$/);
    expect(USER).toMatch(/^[a-z][a-z0-9-]*$/);
    expect(LOGNAME).toBe(USER);
    expect(INVOCATION_ID).toMatch(/^[0-9a-f]{32}$/);
    expect(SYSTEMD_EXEC_PID).toMatch(/^\d+$/);
    expect([HOME, SHELL, LANG].every((v) => v === undefined || typeof v === 'string')).toBe(true);
  });
});

describe("env: 'inherit'", () => {
  let pool: UnitPool;
  beforeAll(async () => {
    process.env.UNITPOOL_TEST_INHERITED = 'inherited';
    pool = await startPool({ maxWorkers: 1, env: 'inherit' });
  });
  afterAll(async () => {
    delete process.env.UNITPOOL_TEST_INHERITED;
    await pool?.shutdown();
  });

  it("copies this process's environment except what describes this process, plus what systemd sets", async () => {
    const env = await pool.submit(() => ({ ...process.env }) as Record<string, string>);
    const expected: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !NOT_INHERITED.includes(k) && !FORBIDDEN_ENV.includes(k)) expected[k] = v;
    }
    const rest = Object.fromEntries(
      Object.entries(env).filter(([k]) => !['INVOCATION_ID', 'SYSTEMD_EXEC_PID'].includes(k)),
    );
    expect(rest).toEqual(expected);
    expect(env.UNITPOOL_TEST_INHERITED).toBe('inherited');
    expect(env.INVOCATION_ID).toMatch(/^[0-9a-f]{32}$/);
  });

  it('runs as root by default (the system manager), in its own unit, with the host namespaces', async () => {
    const seen = await pool.submit(async () => {
      const fs = await import('node:fs');
      return {
        uid: process.getuid!(),
        mnt: fs.readlinkSync('/proc/self/ns/mnt'),
        ipc: fs.readlinkSync('/proc/self/ns/ipc'),
      };
    });
    expect(seen.uid).toBe(0);
    expect(seen.mnt).toBe(readlinkSync('/proc/self/ns/mnt'));
    expect(seen.ipc).toBe(readlinkSync('/proc/self/ns/ipc'));
  });
});
