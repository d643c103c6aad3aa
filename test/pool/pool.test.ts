// The pool end to end, against the real systemd of the sandbox (or the host): every check runs in a forked worker.
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolClosedError, SerializationError, UnitPool, UnitPoolError } from '../../src/index.js';
import { privateTmpEntries, unitExists } from '../support/systemd.js';

const fixture = new URL('../fixtures/math.mjs', import.meta.url);

describe('a confined pool', () => {
  let pool: UnitPool;
  beforeAll(async () => {
    pool = new UnitPool({
      maxWorkers: 2,
      properties: {
        User: 'nobody',
        PrivateNetwork: true,
        PrivateTmp: true,
        ProtectSystem: 'strict',
        NoNewPrivileges: true,
        SystemCallFilter: '~@mount',
      },
    });
    await pool.ready();
  });
  afterAll(() => pool.shutdown());

  it('runs a function and returns its result', async () => {
    expect(await pool.submit((a: number, b: number) => a + b, [1, 2])).toBe(3);
  });

  it('runs workers as the unit user, in the unit cgroup', async () => {
    const seen = await pool.submit(async () => {
      const { readFileSync } = await import('node:fs');
      return { uid: process.getuid!(), cgroup: readFileSync('/proc/self/cgroup', 'utf8'), ppid: process.ppid };
    });
    expect(seen.uid).toBe(65534);
    expect(seen.cgroup).toContain(pool.unit!.name);
    // A forked worker, not the supervisor (the unit's main process).
    expect(seen.ppid).not.toBe(0);
  });

  // scripts/node22.mjs sets UNITPOOL_TEST_NODE_VERSION, so that a run meant for Node 22 fails if any link
  // (npm, npx, the sandbox's environment, the unit's ExecStart, the supervisor's fork) fell back to another node.
  it('runs workers on the node binary that made the pool (and the version the run asked for)', async () => {
    const seen = await pool.submit(() => ({ version: process.version, execPath: process.execPath }));
    expect(seen).toEqual({ version: process.version, execPath: process.execPath });
    const wanted = process.env.UNITPOOL_TEST_NODE_VERSION;
    if (wanted !== undefined) expect(seen.version).toBe(wanted);
  });

  it('cannot open a TCP connection (PrivateNetwork)', async () => {
    const result = await pool.submit(async () => {
      const net = await import('node:net');
      const { readFileSync } = await import('node:fs');
      const ifaces = readFileSync('/proc/net/dev', 'utf8')
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0]!.trim())
        .filter(Boolean);
      const outcome = await new Promise<string>((resolve) => {
        const s = net.connect({ host: '1.1.1.1', port: 53, timeout: 2000 });
        s.on('connect', () => resolve('connected'));
        s.on('timeout', () => resolve('timeout'));
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      });
      return { ifaces, outcome };
    });
    expect(result.ifaces).toEqual(['lo']);
    expect(result.outcome).toBe('ENETUNREACH');
  });

  it('cannot write /usr (ProtectSystem=strict) and has its own /tmp (PrivateTmp)', async () => {
    const result = await pool.submit(async () => {
      const fs = await import('node:fs');
      let usr = 'written';
      try {
        fs.writeFileSync('/usr/unitpool-probe', 'x');
      } catch (e) {
        usr = (e as NodeJS.ErrnoException).code!;
      }
      fs.writeFileSync('/tmp/unitpool-private-probe', 'x');
      return { usr, tmp: fs.readdirSync('/tmp') };
    });
    expect(result.usr).toBe('EROFS');
    expect(result.tmp.sort()).toEqual([...privateTmpEntries(), 'unitpool-private-probe'].sort());
  });

  it('applies exec-time restrictions to forked workers: seccomp filter and NoNewPrivileges', async () => {
    const status = await pool.submit(async () => {
      const { readFileSync } = await import('node:fs');
      return readFileSync('/proc/self/status', 'utf8');
    });
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m);
    // The filter denies mount(2) even before permission checks: EPERM from seccomp.
    const mount = await pool.submit(async () => {
      const { execFileSync } = await import('node:child_process');
      try {
        execFileSync('/bin/mount', ['-t', 'tmpfs', 'none', '/mnt'], { stdio: 'pipe' });
        return 'mounted';
      } catch (e) {
        return String((e as { stderr?: Buffer }).stderr);
      }
    });
    expect(mount).not.toBe('mounted');
  });

  it('runs a module reference', async () => {
    expect(await pool.submit({ module: fixture, name: 'square' }, [7])).toBe(49);
    const who = (await pool.submit({ module: fixture.pathname }, [])) as { uid: number };
    expect(who.uid).toBe(65534);
  });

  it('maps in order, in chunks', async () => {
    const out: number[] = [];
    for await (const y of pool.map(
      (x: number) => x * x,
      Array.from({ length: 1000 }, (_, i) => i),
      { chunksize: 64 },
    ))
      out.push(y);
    expect(out).toEqual(Array.from({ length: 1000 }, (_, i) => i * i));
  });

  it('pulls map input lazily and cancels when the loop is left', async () => {
    let pulled = 0;
    function* items() {
      for (let i = 0; i < 1_000_000; i++) {
        pulled++;
        yield i;
      }
    }
    let seen = 0;
    for await (const _ of pool.map((x: number) => x, items(), { chunksize: 10 })) {
      if (++seen === 25) break;
    }
    // Bounded: at most 256 chunks in flight, far from the million items offered.
    expect(pulled).toBeLessThanOrEqual(256 * 10 + 25);
    expect(await pool.submit(() => 'still fine')).toBe('still fine');
  });

  it('rejects with the remote error: name, message, fields, remote stack; the local one with callSites', async () => {
    const thrower = () => {
      const e = new RangeError('too far') as RangeError & { code: string };
      e.code = 'E_FAR';
      throw e;
    };
    const err = await pool.submit(thrower).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(err).toMatchObject({ message: 'too far', code: 'E_FAR' });
    expect((err as Error).stack).toMatch(/^RangeError: too far\n/);
    expect((err as Error).stack).not.toContain('submitted from');
    await using traced = new UnitPool({ maxWorkers: 1, callSites: true });
    const tracedErr = await traced.submit(thrower).catch((e: unknown) => e);
    expect(tracedErr).toMatchObject({ name: 'RangeError', message: 'too far', code: 'E_FAR' });
    expect((tracedErr as Error).stack).toContain('submitted from');
    expect((tracedErr as Error).stack).toContain('pool.test.ts');
  });

  it('explains a free variable', async () => {
    const outside = 41;
    const err = (await pool.submit(() => outside + 1).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ReferenceError);
    expect(err.message).toMatch(/outside is not defined in the worker.*sent as source text/s);
  });

  it('refuses arguments that cannot be sent, and nothing else is affected', async () => {
    const bad = pool.submit((f: unknown) => f, [() => 1]);
    const good = pool.submit((x: number) => x + 1, [1]);
    await expect(bad).rejects.toBeInstanceOf(SerializationError);
    await expect(bad).rejects.toBeInstanceOf(UnitPoolError);
    await expect(bad).rejects.toThrow(/args\[0\]/);
    expect(await good).toBe(2);
  });

  it('round-trips rich values', async () => {
    const value = {
      d: new Date(5),
      m: new Map([[1, 'a']]),
      s: new Set([1, 2]),
      b: 2n ** 70n,
      buf: Buffer.from('hi'),
      u: new Uint16Array([1, 2]),
    };
    const back = await pool.submit((v: unknown) => v, [value]);
    expect(back).toEqual(value);
  });
});

describe('pool lifecycle', () => {
  it('forwards worker console output line by line', async () => {
    const lines: string[] = [];
    const stdout = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    const pool = new UnitPool({ maxWorkers: 1, stdout });
    await pool.submit(() => {
      console.log('hello from a worker');
      process.stdout.write('partial ');
      process.stdout.write('line\n');
    });
    await pool.shutdown();
    expect(lines).toEqual(['hello from a worker', 'partial line']);
  });

  it('stops its unit on shutdown; shutdown is idempotent; submit afterwards rejects', async () => {
    const pool = new UnitPool({ maxWorkers: 1 });
    await pool.ready();
    const name = pool.unit!.name;
    expect(await unitExists(name)).toBe(true);
    await Promise.all([pool.shutdown(), pool.shutdown()]);
    await pool.shutdown();
    expect(await unitExists(name)).toBe(false);
    await expect(pool.submit(() => 1)).rejects.toBeInstanceOf(PoolClosedError);
  });

  it('is disposed by await using', async () => {
    let name: string;
    {
      await using pool = new UnitPool({ maxWorkers: 1 });
      expect(await pool.submit(() => 2 * 21)).toBe(42);
      name = pool.unit!.name;
    }
    expect(await unitExists(name)).toBe(false);
  });

  it('defaults maxWorkers to the CPUs the unit may use', () => {
    const pool = new UnitPool({ properties: { CPUQuota: '100%' } });
    expect(pool.maxWorkers).toBe(1);
    return pool.shutdown();
  });

  it('throws at once on a wrong option, naming it', () => {
    expect(() => new UnitPool({ properties: { MemoryMax: '12 apples' } as never })).toThrow(/MemoryMax/);
  });
});

// A worker's /proc/self/cgroup names the unit; this checks the same from the host side for the supervisor.
describe('pool.unit', () => {
  it('exposes name, object path, main pid and control group', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    await pool.ready();
    const unit = pool.unit!;
    expect(unit.name).toMatch(/^unitpool-[0-9a-f]+\.service$/);
    expect(unit.objectPath).toMatch(/^\/org\/freedesktop\/systemd1\/unit\//);
    expect(unit.controlGroup).toContain(unit.name);
    expect(readFileSync(`/proc/${unit.mainPid}/cgroup`, 'utf8')).toContain(unit.name);
  });
});
