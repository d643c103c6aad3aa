// Every example of playpen's README (the seed of issue 16), run with `unitpool run` in place of `playpen`
// against the real systemd of the sandbox, each with the output that README shows written beside it. The
// interactive ones (python3 at a terminal) are in run-terminal.test.ts, typed into tmux as a person would.
// What differs on purpose is said at the example (and in docs/cli.md).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noSystemd, run, shell } from './helpers.js';

const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => spawnSync(p, ['-c', '0']).status === 0);
const npm = (args: string) => spawnSync('npm', args.split(' '), { encoding: 'utf8' }).stdout.trim();

/**
 * Runs a -m 300K example. 300K is at the edge on this cgroup v1 host, for systemd-run -p MemoryMax=300K as
 * well (the pages systemd's forked child touches before exec are charged to the unit), the more so on a busy
 * machine: date is then OOM-killed, silently under -q, as playpen's README shows for 1K. So an OOM kill is
 * tried again, and 137 with no output is the one other outcome accepted; the cap is not refused, and at 1M
 * (date peaks near 450K here) it must print.
 */
async function under300K(args: string[]) {
  let r = await run(['-q', '-m', '300K', ...args]);
  for (let i = 0; i < 5 && r.code === 137; i++) r = await run(['-q', '-m', '300K', ...args]);
  if (r.code === 137) {
    expect(r).toMatchObject({ stdout: '', stderr: '' });
    r = await run(['-q', '-m', '1M', ...args]);
  }
  return r;
}

/** systemd-run's summary lines, as playpen's README shows them after the command's own output. */
const SUMMARY = [
  /^Finished with result: success$/m,
  /^Main processes terminated with: code=exited\/status=0$/m,
  /^Service runtime: \d+(ms|\.\d{3}s)$/m,
  /^CPU time consumed: \d+(us|ms|\.\d{3}s)$/m,
  /^Memory peak: \d+\.\dK|M$/m,
];

describe.skipIf(noSystemd !== undefined)("playpen's README, with unitpool run", () => {
  let proj: string;
  beforeAll(() => {
    // A project directory outside the shared /tmp, readable by everyone; npm gets nothing to download.
    mkdirSync('/run/unitpool-test', { recursive: true, mode: 0o755 });
    proj = mkdtempSync('/run/unitpool-test/readme-');
    chmodSync(proj, 0o755);
    writeFileSync(
      join(proj, 'package.json'),
      JSON.stringify({
        name: 'proj',
        version: '1.0.0',
        private: true,
        scripts: {
          dev: 'echo dev-server up',
          test: 'cat .env; echo tests-ran; touch /tmp/unitpool-readme-private-tmp',
        },
      }),
    );
    writeFileSync(join(proj, '.env'), 'SECRET=1\n');
    writeFileSync(
      join(proj, 'add_days.py'),
      'import sys\nfrom datetime import datetime as dt\nfrom datetime import timedelta\nfor line in sys.stdin:\n    value = dt.fromisoformat(line.strip())\n    output = value + timedelta(days=int(sys.argv[1]))\n    print(output.isoformat())\n',
    );
    writeFileSync(
      join(proj, 'my-program'),
      '#!/bin/sh\nls /usr/lib > /dev/null && echo read-usr-lib\necho hi > /tmp/unitpool-readme-test-out && echo wrote-tmp\n(echo x > /usr/x) 2>/dev/null || echo usr-read-only\n',
    );
    chmodSync(join(proj, 'my-program'), 0o755);
  });
  afterAll(() => {
    if (proj) rmSync(proj, { recursive: true, force: true });
  });

  // $ playpen -q date
  // Sat Dec 14 05:24:10 PM CET 2024
  it('-q date prints the date and nothing else', async () => {
    const r = await run(['-q', 'date']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^\w{3} \w{3} [ \d]\d .*\d{4}\n$/);
  });

  // $ playpen -q -m 1K date
  // (no output: the process was OOM-killed)
  it('-q -m 1K date prints nothing: date is OOM-killed (status 137)', async () => {
    const r = await run(['-q', '-m', '1K', 'date']);
    expect(r).toMatchObject({ code: 137, stdout: '', stderr: '' });
    // Without -q, the kill is named.
    const loud = await run(['-m', '1K', 'date']);
    expect(loud.code).toBe(137);
    expect(loud.stderr).toMatch(
      /^unitpool run: the command was killed by the kernel's OOM killer: the unit ran out of memory \(MemoryMax=1\.0K\)$/m,
    );
    expect(loud.stderr).toMatch(/^Finished with result: oom-kill$/m);
    expect(loud.stderr).toMatch(/^Main processes terminated with: code=killed\/status=KILL$/m);
  });

  // $ playpen -q -m 300K date
  // Sat Dec 14 05:26:40 PM CET 2024
  it('-q -m 300K date prints the date', async () => {
    const r = await under300K(['date']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^\w{3} \w{3} [ \d]\d .*\d{4}\n$/);
  });

  // $ playpen date                       (the README's "Removing the -q flag" example)
  // Running as unit: run-u821.service; invocation ID: 5577f88c2d304ae3aee5607965cd0eed
  // Sat Dec 14 05:22:31 PM CET 2024
  // Finished with result: success
  // Main processes terminated with: code=exited/status=0
  // Service runtime: 5ms
  // CPU time consumed: 1ms
  // Memory peak: 256.0K
  // Memory swap peak: 0B
  it('date without -q: the unit first, the summary last, on stderr', async () => {
    const r = await run(['date']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\w{3} \w{3} .*\d{4}\n$/);
    expect(r.stderr).toMatch(/^Running as unit: unitpool-run-[0-9a-f]{10}\.service\n/);
    for (const line of SUMMARY) expect(r.stderr).toMatch(line);
    // (No "Press ^] three times": without a terminal there is nothing to disconnect.)
    expect(r.stderr).not.toMatch(/Press \^\]/);
  });

  // $ playpen -q -m 300K -- date --rfc-3339 s
  // 2024-12-14 17:29:40+01:00
  it('-- separates the options from the command', async () => {
    const r = await under300K(['--', 'date', '--rfc-3339', 's']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d\n$/);
  });

  describe.skipIf(PYTHON === undefined)('python3', () => {
    // $ playpen -m 50M -q -- python3 -c "print(123)"
    // 123
    it('-m 50M -q -- python3 -c "print(123)"', async () => {
      expect(await run(['-m', '50M', '-q', '--', PYTHON!, '-c', 'print(123)'])).toMatchObject({
        code: 0,
        stdout: '123\n',
        stderr: '',
      });
    });

    // $ playpen -m 50M -- python3 -c "print(123)"
    // Running as unit: run-u814.service; invocation ID: d0523f2f13df45968dd05a48000dbb67
    // 123
    // Finished with result: success
    // (... the summary)
    it('-m 50M -- python3 -c "print(123)": 123 on stdout, the rest on stderr', async () => {
      const r = await run(['-m', '50M', '--', PYTHON!, '-c', 'print(123)']);
      expect(r.stdout).toBe('123\n');
      expect(r.stderr).toMatch(/^Running as unit: /);
      for (const line of SUMMARY) expect(r.stderr).toMatch(line);
    });

    // $ playpen -m 50M -- python3 -c "print('123 123')" | tr ' ' '+'
    // Running as unit: run-u816.service; invocation ID: 36a565c23f024a3e9b26b79d9695f6be
    // 123+123
    // Finished with result: success
    it("-m 50M -- python3 -c \"print('123 123')\" | tr ' ' '+': tr sees only stdout", async () => {
      const r = await shell(`$UNITPOOL run -m 50M -- ${PYTHON} -c "print('123 123')" | tr ' ' '+'`);
      expect(r.stdout).toBe('123+123\n');
      expect(r.stderr).toMatch(/^Running as unit: .*\n(.*\n)*Finished with result: success$/m);
    });

    // $ echo $(date --rfc-3339 s) | playpen -m 50M -q -- python3 add_days.py 10 | tr '[0-9]' 'X'
    // XXXX-XX-XXTXX:XX:XX+XX:XX
    it('works in a pipeline: add_days.py', async () => {
      const r = await shell(
        `echo $(date --rfc-3339 s) | $UNITPOOL run -m 50M -q -- ${PYTHON} add_days.py 10 | tr '[0-9]' 'X'`,
        { cwd: proj },
      );
      expect(r).toMatchObject({ code: 0, stdout: 'XXXX-XX-XXTXX:XX:XX+XX:XX\n', stderr: '' });
    });
  });

  // $ ABC=123 playpen --capture-env=on -- bash -c 'env'
  // <snip>
  // ABC=123
  // <snip>
  // "But if the option is off, the ABC variable is not passed through."
  it('--capture-env=on passes ABC=123; off, it does not', async () => {
    const env = { ...process.env, ABC: '123' };
    const on = await run(['-q', '--capture-env=on', '--', 'bash', '-c', 'env'], { env });
    expect(on.stdout).toMatch(/^ABC=123$/m);
    for (const off of [[], ['--capture-env=off'], ['--capture-env', 'false', '--']]) {
      const r = await run(['-q', ...off, 'bash', '-c', 'env'], { env });
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(/^ABC=/m);
      // PATH is captured by default (--capture-path defaults to true).
      expect(r.stdout).toMatch(new RegExp(`^PATH=${process.env.PATH!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    }
  });

  describe('npm', () => {
    // $ playpen -m 4G --capture-env=on -- npm run dev
    it('-m 4G --capture-env=on -- npm run dev', async () => {
      const r = await run(['-q', '-m', '4G', '--capture-env=on', '--', 'npm', 'run', 'dev'], { cwd: proj });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^dev-server up$/m);
    });

    // $ playpen --current-dir-only -m 100M -- npm install
    // $ playpen --current-dir-only -m 2G -- npm install
    it('--current-dir-only -m 100M -- npm install (and -m 2G)', async () => {
      for (const m of ['100M', '2G']) {
        const r = await run(['-q', '--current-dir-only', '-m', m, '--', 'npm', 'install'], { cwd: proj });
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^found 0 vulnerabilities$/m);
      }
    });

    // $ playpen --current-dir-only --rw $(npm config get cache) --ro $(npm config get prefix) -m 2G -- npm install
    // $ playpen --current-dir-only --rw ~/.npm -m 2G -- npm install
    it('--current-dir-only --rw <npm cache> --ro <npm prefix> -m 2G -- npm install', async () => {
      for (const extra of [
        ['--rw', npm('config get cache'), '--ro', npm('config get prefix')],
        ['--rw', npm('config get cache')],
      ]) {
        const r = await run(['-q', '--current-dir-only', ...extra, '-m', '2G', '--', 'npm', 'install'], { cwd: proj });
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^found 0 vulnerabilities$/m);
      }
    });

    // $ playpen --current-dir-only --ro (npm config get prefix) --rw (npm config get cache) --ro /run/user -- npm ci
    it('--current-dir-only --ro <prefix> --rw <cache> --ro /run/user -- npm ci', async () => {
      mkdirSync('/run/user', { recursive: true, mode: 0o755 });
      await run(['-q', '--current-dir-only', '--', 'npm', 'install'], { cwd: proj }); // npm ci needs the lock file
      const r = await run(
        [
          '-q',
          '--current-dir-only',
          '--ro',
          npm('config get prefix'),
          '--rw',
          npm('config get cache'),
          '--ro',
          '/run/user',
          '--',
          'npm',
          'ci',
        ],
        { cwd: proj },
      );
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^found 0 vulnerabilities$/m);
    });

    // $ playpen --current-dir-only --inaccessible ./.env -- npm test
    it('--current-dir-only --inaccessible ./.env -- npm test: the tests run, .env reads as empty', async () => {
      const r = await run(['-q', '--current-dir-only', '--inaccessible', './.env', '--', 'npm', 'test'], { cwd: proj });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^tests-ran$/m);
      // Root in the unit reads the mode-000 stand-in as empty (see docs/cli.md, Limits).
      expect(r.stdout).not.toMatch(/SECRET/);
      const plain = await run(['-q', '--current-dir-only', '--', 'npm', 'test'], { cwd: proj });
      expect(plain.stdout).toMatch(/^SECRET=1$/m);
    });

    // $ playpen --current-dir-only --private-tmp -m 1G -- npm test
    it('--current-dir-only --private-tmp -m 1G -- npm test: its /tmp is its own', async () => {
      rmSync('/tmp/unitpool-readme-private-tmp', { force: true });
      const r = await run(['-q', '--current-dir-only', '--private-tmp', '-m', '1G', '--', 'npm', 'test'], {
        cwd: proj,
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^tests-ran$/m);
      expect(spawnSync('test', ['-e', '/tmp/unitpool-readme-private-tmp']).status).toBe(1);
    });
  });

  // $ playpen --current-dir-only --ro /usr/lib --rw /tmp -m 100M -- my-program
  it('--current-dir-only --ro /usr/lib --rw /tmp -m 100M -- my-program', async () => {
    // --rw /tmp binds the sandbox's /tmp over the unit's private one: the file shows up here.
    rmSync('/tmp/unitpool-readme-test-out', { force: true });
    const r = await run(
      ['-q', '--current-dir-only', '--ro', '/usr/lib', '--rw', '/tmp', '-m', '100M', '--', './my-program'],
      { cwd: proj },
    );
    expect(r).toMatchObject({ code: 0, stdout: 'read-usr-lib\nwrote-tmp\nusr-read-only\n', stderr: '' });
    expect(spawnSync('cat', ['/tmp/unitpool-readme-test-out'], { encoding: 'utf8' }).stdout).toBe('hi\n');
    rmSync('/tmp/unitpool-readme-test-out', { force: true });
  });

  // $ playpen -h   (the options listed in the README's usage)
  it("-h lists playpen's options, and -V prints the version", async () => {
    const h = await run(['-h']);
    for (const flag of [
      '--memory-limit',
      '--cpu-limit',
      '--quiet',
      '--capture-env',
      '--capture-path',
      '--rw',
      '--ro',
      '--inaccessible',
      '--private-tmp',
      '--private-devices',
      '--protect-kernel-tunables',
      '--protect-control-groups',
      '--protect-home',
      '--protect-system',
      '--current-dir-only',
      '--help',
      '--version',
    ]) {
      expect(h.stdout).toContain(flag);
    }
    expect(await run(['-V'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^unitpool \d+\.\d+\.\d+\n$/) });
  });
});
