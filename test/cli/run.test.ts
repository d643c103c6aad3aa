// `unitpool run` end to end against real systemd (the sandbox's, under npm test): exit statuses, pipelines,
// stdio, the summary, OOM kills, confinement flags, signals, environment. Nothing is mocked.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupLayout } from '../../src/unit/cgroup.js';
import { sigtermWhenReady, TRAPS_TERM } from '../support/signals.js';
import { CLI, noSystemd, ROOT, run, shell } from './helpers.js';

if (noSystemd) console.warn(`unitpool run tests skipped: ${noSystemd}`);

/** A program that allocates and touches 200 MB: python3 if there is one (lighter), else node (~40 MB itself). */
const HOG = existsSync('/usr/bin/python3')
  ? ['/usr/bin/python3', '-c', 'x = b"a" * (200 << 20); print("survived")']
  : [process.execPath, '-e', 'Buffer.alloc(200 << 20, 1); console.log("survived")'];

/** Polls `read` until it returns `want` (or 3 s pass); returns the last value. */
async function eventually(read: () => string, want = 'not-found'): Promise<string> {
  let v = read();
  for (let i = 0; i < 30 && v !== want; i++) {
    await new Promise((r) => setTimeout(r, 100));
    v = read();
  }
  return v;
}

describe.skipIf(noSystemd !== undefined)('unitpool run', () => {
  let dir: string;
  beforeAll(() => {
    // Not the shared /tmp: under /run (private inside the sandbox), readable by everyone.
    mkdirSync('/run/unitpool-test', { recursive: true, mode: 0o755 });
    dir = mkdtempSync('/run/unitpool-test/run-');
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'file'), 'hello\n');
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'secret'), 'secret\n');
    mkdirSync(join(dir, 'out'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('exit status', () => {
    it("is the command's status", async () => {
      expect((await run(['-q', '--', 'true'])).code).toBe(0);
      // Repeated: a command that fails at once can also fail systemd's start job (Type=exec races its exit).
      for (let i = 0; i < 8; i++)
        expect(await run(['-q', '--', 'sh', '-c', 'exit 3'])).toMatchObject({ code: 3, stderr: '' });
    });

    it("is 128+N when signal N killed the command, and arguments reach it unexpanded ($$ is not systemd's)", async () => {
      const r = await run(['--', 'sh', '-c', 'kill -9 $$']);
      expect(r.code).toBe(128 + 9);
      expect(r.stderr).toMatch(/^Main processes terminated with: code=killed\/status=KILL$/m);
      const echo = await run(['-q', '--', 'echo', '$HOME', '${PATH}', '$$']);
      expect(echo.stdout).toBe('$HOME ${PATH} $$\n');
    });

    it('is 126 when the command cannot be executed', async () => {
      const bad = join(dir, 'not-a-program');
      writeFileSync(bad, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 0]));
      chmodSync(bad, 0o755);
      const r = await run(['-q', '--', bad]);
      expect(r.code).toBe(126);
      expect(r.stderr).toMatch(/could not execute .*not-a-program: .*exit status 203/);
    });
  });

  describe('stdio', () => {
    it('works in a pipeline: stdin to the command, its stdout to ours, EOF included', async () => {
      const r = await shell('echo hi | $UNITPOOL run -q -- tr a-z A-Z');
      expect(r).toMatchObject({ code: 0, stdout: 'HI\n', stderr: '' });
      const lines = await shell('printf "a\\nb\\nc\\n" | $UNITPOOL run -q -- wc -l | tr -d " "');
      expect(lines.stdout).toBe('3\n');
    });

    it('passes a megabyte through both ways intact', async () => {
      const input = Buffer.alloc(1 << 20);
      for (let i = 0; i < input.length; i++) input[i] = 97 + (i % 26);
      const r = await run(['-q', '--', 'cat'], { input });
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBe(input.length);
      expect(r.stdout === input.toString('latin1')).toBe(true);
    });

    it("passes the command's stderr through, apart from its stdout", async () => {
      const r = await run(['-q', '--', 'sh', '-c', 'echo to-out; echo to-err >&2']);
      expect(r.stdout).toBe('to-out\n');
      expect(r.stderr).toBe('to-err\n');
    });

    it('keeps stdout and stderr in order when they go to the same place (a pipe, a file)', async () => {
      const line = `sh -c 'echo 1; echo 2 >&2; echo 3; echo 4 >&2; echo 5'`;
      expect((await shell(`$UNITPOOL run -q -- ${line} 2>&1 | cat`)).stdout).toBe('1\n2\n3\n4\n5\n');
      // A file opened with > is relayed (a new open would write under the shell's later writes), still in order.
      const file = join(dir, 'out', 'both');
      const r = await shell(`$UNITPOOL run -q -- ${line} > ${file} 2>&1; echo after >> ${file}; cat ${file}`);
      expect(r.stdout).toBe('1\n2\n3\n4\n5\nafter\n');
    });

    it('gives the command our pipes themselves (no copy), and never a socket on stdin', async () => {
      const fds = `sh -c 'for fd in 0 1 2; do readlink /proc/self/fd/$fd | sed "s/:.*//"; done'`;
      expect((await shell(`echo | $UNITPOOL run -q -- ${fds} 2>/dev/null | cat`)).stdout).toBe(
        'pipe\npipe\n/dev/null\n',
      );
      // From a Node parent our stdio are sockets: relayed, and stdin arrives through a FIFO.
      const r = await run(['-q', '--', 'sh', '-c', 'ls -lL /proc/self/fd/0 | grep -c "^p"; cat'], {
        input: 'through\n',
      });
      expect(r.stdout).toBe('1\nthrough\n');
    });

    it('bash -c does not read ~/.bashrc (its stdin is not a socket, so it is no remote shell)', async () => {
      const home = join(dir, 'home');
      mkdirSync(home, { recursive: true });
      writeFileSync(join(home, '.bashrc'), 'echo BASHRC-READ\n');
      const env = { ...process.env, HOME: home };
      expect(await run(['-q', '--env', 'HOME', '--', 'bash', '-c', 'echo ok'], { env })).toMatchObject({
        code: 0,
        stdout: 'ok\n',
      });
      expect((await shell(`echo | HOME=${home} $UNITPOOL run -q --env HOME -- bash -c 'echo ok'`)).stdout).toBe('ok\n');
    });

    it('lets the command die of SIGPIPE when the reader goes away, as in a shell', async () => {
      const r = await shell('$UNITPOOL run -q -- yes | head -2; echo "status ${PIPESTATUS[0]}"');
      expect(r.stdout).toBe(`y\ny\nstatus ${128 + 13}\n`);
      expect(r.stderr).toBe('');
    });
  });

  describe('what it prints', () => {
    it('-q prints nothing of its own', async () => {
      const r = await run(['-q', '--', 'true']);
      expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    });

    it('prints the unit name first, and the result, status, runtime, CPU time and memory peak last', async () => {
      const r = await run([
        '--',
        'sh',
        '-c',
        'echo working >&2; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exit 4',
      ]);
      expect(r.code).toBe(4);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^Running as unit: unitpool-run-[0-9a-f]{10}\.service$/);
      expect(lines[1]).toBe('working');
      expect(lines.slice(2)).toEqual([
        'Finished with result: exit-code',
        'Main processes terminated with: code=exited/status=4',
        expect.stringMatching(/^Service runtime: \d+(ms|\.\d{3}s)$/),
        expect.stringMatching(/^CPU time consumed: \d+(ms|\.\d{3}s)$/),
        expect.stringMatching(/^Memory peak: \d+\.\d[KM]$/),
        // Where this host has the figures (no swap here: 0B; IP accounting by BPF; IO from blkio or io.stat).
        ...['Memory swap peak', 'IP traffic received', 'IP traffic sent', 'IO bytes read', 'IO bytes written'].flatMap(
          (what) =>
            r.stderr.includes(`${what}: `)
              ? [expect.stringMatching(new RegExp(`^${what}: \\d+(\\.\\d[KMG])?B?$`))]
              : [],
        ),
      ]);
      expect(r.stdout).toBe('');
    });

    it('reports an OOM kill under -m 50M distinctly, with status 137', async () => {
      const r = await run(['-m', '50M', '--', ...HOG]);
      expect(r.code).toBe(128 + 9);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        /^unitpool run: the command was killed by the kernel's OOM killer: the unit ran out of memory \(MemoryMax=50\.0M\)$/m,
      );
      expect(r.stderr).toMatch(/^Finished with result: oom-kill$/m);
      expect(r.stderr).toMatch(/^Main processes terminated with: code=killed\/status=KILL$/m);
      const peak = /^Memory peak: ([\d.]+)M$/m.exec(r.stderr);
      expect(Number(peak?.[1])).toBeGreaterThan(45);
      expect(Number(peak?.[1])).toBeLessThanOrEqual(50);
      // The same program without the cap survives.
      const free = await run(['-q', '--', ...HOG]);
      expect(free).toMatchObject({ code: 0, stdout: 'survived\n' });
    });
  });

  describe('confinement flags', () => {
    it('--no-network leaves only a loopback device', async () => {
      const r = await run(['-q', '--no-network', '--', 'cat', '/proc/net/dev']);
      const ifaces = r.stdout
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0]!.trim())
        .filter(Boolean);
      expect(ifaces).toEqual(['lo']);
    });

    it('--ro makes a path read-only', async () => {
      const r = await run(['-q', '--ro', dir, '--', 'sh', '-c', `cat ${dir}/file; echo x > ${dir}/out/new`]);
      expect(r.stdout).toBe('hello\n');
      expect(r.stderr).toMatch(/Read-only file system/);
      expect(r.code).not.toBe(0);
      expect(existsSync(join(dir, 'out', 'new'))).toBe(false);
    });

    it('--rw keeps a path writable under ProtectSystem=strict', async () => {
      // (Without the default ProtectKernelTunables/ProtectControlGroups: in systemd 252 they leave /run, where dir is, writable.)
      const r = await run([
        '-q',
        '--protect-kernel-tunables=false',
        '--protect-control-groups=false',
        '-p',
        'ProtectSystem=strict',
        '--rw',
        join(dir, 'out'),
        '--',
        'sh',
        '-c',
        `echo x > ${dir}/out/new && echo y > ${dir}/elsewhere`,
      ]);
      expect(readFileSync(join(dir, 'out', 'new'), 'utf8')).toBe('x\n');
      expect(r.stderr).toMatch(/elsewhere: Read-only file system/);
      expect(existsSync(join(dir, 'elsewhere'))).toBe(false);
    });

    it('--inaccessible hides a path (root reads an empty stand-in, other users get EACCES)', async () => {
      const asRoot = await run([
        '-q',
        '--inaccessible',
        join(dir, 'sub'),
        '--',
        'sh',
        '-c',
        `ls -A ${dir}/sub; cat ${dir}/file`,
      ]);
      expect(asRoot.stdout).toBe('hello\n');
      const asNobody = await run([
        '-q',
        '-p',
        'User=nobody',
        '--inaccessible',
        join(dir, 'sub'),
        '--',
        'cat',
        `${dir}/sub/secret`,
      ]);
      expect(asNobody.code).toBe(1);
      expect(asNobody.stderr).toMatch(/Permission denied/);
      expect((await run(['-q', '-p', 'User=nobody', '--', 'cat', `${dir}/sub/secret`])).stdout).toBe('secret\n');
    });

    it('takes any table property with -p, in unit-file syntax', async () => {
      const r = await run([
        '-q',
        '-p',
        'ProtectSystem=strict',
        '-p',
        'LimitNOFILE=1024',
        '--',
        'sh',
        '-c',
        'ulimit -n; touch /usr/unitpool-test',
      ]);
      expect(r.stdout).toBe('1024\n');
      expect(r.stderr).toMatch(/Read-only file system/);
    });

    it('refuses, like the pool, what this host cannot enforce', async () => {
      const r = await run(['-q', '-p', 'MemoryHigh=1G', '--', 'true']);
      if (cgroupLayout() === 'v2') expect(r.code).toBe(0);
      else {
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(
          /^unitpool run: -p MemoryHigh=1G: MemoryHigh cannot be enforced on this host: .*cgroup v2/,
        );
      }
    });

    it('--preset currentDirOnly lets the command write only in the working directory', async () => {
      const here = join(dir, 'out');
      const r = await run(
        [
          '-q',
          '--preset',
          'currentDirOnly',
          '--',
          'sh',
          '-c',
          'pwd; echo ok > here-file; touch /usr/unitpool-test /var/lib/unitpool-test',
        ],
        { cwd: here },
      );
      expect(r.stdout).toBe(`${here}\n`);
      expect(readFileSync(join(here, 'here-file'), 'utf8')).toBe('ok\n');
      expect(r.stderr.match(/Read-only file system/g)).toHaveLength(2);
      // (Not /run: ProtectKernelTunables implies MountAPIVFS, whose /run entry keeps /run writable under
      // ProtectSystem=strict in systemd 252.)
    });
  });

  describe('environment and directory', () => {
    it("runs in the caller's working directory", async () => {
      expect((await run(['-q', 'pwd'], { cwd: dir })).stdout).toBe(`${dir}\n`);
    });

    it('passes only PATH, the locale and TZ by default; --env adds one; --capture-env nearly all', async () => {
      const env = { ...process.env, UNITPOOL_A: 'a', UNITPOOL_B: 'b', LANG: 'C.UTF-8' };
      const show = ['--', 'sh', '-c', 'echo "A=$UNITPOOL_A B=$UNITPOOL_B LANG=$LANG"; echo "$PATH"'];
      const def = await run(['-q', ...show], { env });
      expect(def.stdout).toBe(`A= B= LANG=C.UTF-8\n${process.env.PATH}\n`);
      expect((await run(['-q', '--env', 'UNITPOOL_A', '--env', 'C=c', ...show], { env })).stdout.split('\n')[0]).toBe(
        'A=a B= LANG=C.UTF-8',
      );
      expect((await run(['-q', '--capture-env', ...show], { env })).stdout.split('\n')[0]).toBe('A=a B=b LANG=C.UTF-8');
    });
  });

  describe('signals', () => {
    it('stops the unit on SIGTERM and exits with the status of the command', async () => {
      const { code, stdout, stderr } = await sigtermWhenReady([CLI, 'run', '--', ...TRAPS_TERM], ROOT);
      expect(stdout).toBe('ready\ngot-term\n');
      expect(code).toBe(5);
      const unit = /Running as unit: (\S+)/.exec(stderr)?.[1];
      expect(unit).toBeDefined();
      // Collected once we let go of it (AddRef), which systemd does on its next turn.
      expect(
        await eventually(() =>
          spawnSync('systemctl', ['show', '-p', 'LoadState', '--value', unit!], { encoding: 'utf8' }).stdout.trim(),
        ),
      ).toBe('not-found');
    });

    it('passes Ctrl-C on as SIGINT, and kills at once on the third within a second', async () => {
      const once = spawn(
        process.execPath,
        [
          CLI,
          'run',
          '-q',
          '--',
          'sh',
          '-c',
          'trap "echo got-int; exit 7" INT; echo ready; while :; do sleep 0.1; done',
        ],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      const status = await new Promise<number | null>((resolve) => {
        once.stdout.setEncoding('utf8').on('data', (s: string) => {
          out += s;
          if (s.includes('ready')) once.kill('SIGINT');
        });
        once.once('close', (c) => resolve(c));
      });
      expect(out).toBe('ready\ngot-int\n');
      expect(status).toBe(7);

      const p = spawn(
        process.execPath,
        [CLI, 'run', '-q', '--', 'sh', '-c', 'trap "" TERM INT; echo ready; while :; do sleep 0.1; done'],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const started = Date.now();
      const code = await new Promise<number | null>((resolve) => {
        p.stdout.setEncoding('utf8').on('data', (s: string) => {
          if (!s.includes('ready')) return;
          p.kill('SIGINT');
          setTimeout(() => p.kill('SIGINT'), 200);
          setTimeout(() => p.kill('SIGINT'), 400);
        });
        p.once('close', (c) => resolve(c));
      });
      expect(code).toBe(128 + 9);
      expect(Date.now() - started).toBeLessThan(5000);
    });
  });

  it('a socket directory left by a SIGKILLed `unitpool run` is removed by the next one', async () => {
    const runDirs = () =>
      existsSync('/run/unitpool') ? readdirSync('/run/unitpool').filter((d) => d.startsWith('run-')) : [];
    const before = runDirs();
    const p = spawn(process.execPath, [CLI, 'run', '--', 'sh', '-c', 'echo ready; exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let unit = '';
    p.stderr.setEncoding('utf8').on('data', (s: string) => (unit ||= /Running as unit: (\S+)/.exec(s)?.[1] ?? ''));
    await new Promise<void>((resolve) =>
      p.stdout.on('data', (b: Buffer) => b.toString().includes('ready') && resolve()),
    );
    // Its own directory, named by its pid: other test files run `unitpool run` at the same time.
    const orphan = runDirs().filter((d) => !before.includes(d) && new RegExp(`^run-\\d+-${p.pid}-`).test(d));
    expect(orphan).toHaveLength(1);
    p.kill('SIGKILL');
    await new Promise((resolve) => p.once('close', resolve));
    expect(runDirs()).toContain(orphan[0]);
    expect((await run(['-q', '--', 'true'])).code).toBe(0);
    expect(runDirs()).not.toContain(orphan[0]);
    // The orphaned unit itself is systemd's to end (it is collected once it ended: AddRef). Only this one:
    // other test files run units of their own meanwhile.
    expect(unit).toMatch(/^unitpool-run-/);
    spawnSync('systemctl', ['kill', '--signal=KILL', unit]);
  });

  it('leaves no unit and no socket directory behind', async () => {
    // Other test files run units at the same time: look at what these runs left, by unit name and by pid.
    for (const args of [
      ['--', 'true'],
      ['--', 'sh', '-c', 'echo x >&2; exit 3'],
      ['-m', '1K', '--', 'date'],
      ['--', 'cat'],
    ]) {
      const p = spawn(process.execPath, [CLI, 'run', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      p.stdout.resume();
      p.stdin.end('input\n');
      await new Promise((resolve) => p.once('close', resolve));
      const unit = /Running as unit: (\S+)/.exec(stderr)?.[1];
      expect(unit, stderr).toBeDefined();
      expect(
        await eventually(() =>
          spawnSync('systemctl', ['show', '-p', 'LoadState', '--value', unit!], { encoding: 'utf8' }).stdout.trim(),
        ),
      ).toBe('not-found');
      const dirs = existsSync('/run/unitpool')
        ? readdirSync('/run/unitpool').filter((d) => new RegExp(`^run-\\d+-${p.pid}-`).test(d))
        : [];
      expect(dirs).toEqual([]);
    }
  });
});
