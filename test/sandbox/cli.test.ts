// `unitpool sandbox` as a command: exit statuses, stdio, working directory, environment, signals,
// errors, a sandbox inside a sandbox. Runs the built CLI (dist/), as `npm test` does.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sigtermWhenReady, TRAPS_TERM } from '../support/signals.js';
import { CLI, ROOT, canBoot, insideSandbox, isRoot, runCli, sandboxArgs, skipReason } from './helpers.js';

if (skipReason) console.warn(`sandbox CLI tests skipped: ${skipReason}`);

describe('unitpool sandbox: arguments', () => {
  it('prints its usage with --help', async () => {
    const r = await runCli(['sandbox', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: unitpool sandbox \[options\]/);
  });

  it('refuses a missing command or an unknown option with status 2', async () => {
    expect((await runCli(['sandbox'])).code).toBe(2);
    const r = await runCli(['sandbox', '--bogus', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option --bogus/);
    expect((await runCli(['no-such-command'])).code).toBe(2);
  });
});

describe.skipIf(!canBoot)('unitpool sandbox: running a command', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join('/tmp', 'unitpool-cli-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("exits with the command's status, or 128+signal", async () => {
    expect((await runCli(sandboxArgs('--', 'sh', '-c', 'exit 7'))).code).toBe(7);
    expect((await runCli(sandboxArgs('--', 'sh', '-c', 'kill -TERM $$'))).code).toBe(128 + 15);
    const missing = await runCli(sandboxArgs('--', 'no-such-program-unitpool'));
    expect(missing.code).toBe(127);
  });

  it('passes stdin and stdout through (pipelines work)', async () => {
    const r = await runCli(sandboxArgs('--', 'tr', 'a-z', 'A-Z'), { input: 'hello sandbox\n' });
    expect(r.stdout).toBe('HELLO SANDBOX\n');
    expect(r.code).toBe(0);
  });

  it('runs in the same directory, kept visible even below /tmp, and with the environment plus the bus address', async () => {
    writeFileSync(join(dir, 'from-host'), 'host\n');
    const r = await runCli(
      sandboxArgs(
        '--',
        'sh',
        '-c',
        'pwd; cat from-host; echo sandbox > from-sandbox; echo "$MY_VAR $UNITPOOL_SANDBOX $DBUS_SYSTEM_BUS_ADDRESS"',
      ),
      {
        cwd: dir,
        env: { ...process.env, MY_VAR: 'mine' },
      },
    );
    expect(r.stdout.split('\n')).toEqual([dir, 'host', 'mine 1 unix:path=/run/dbus/system_bus_socket', '']);
    expect(readFileSync(join(dir, 'from-sandbox'), 'utf8')).toBe('sandbox\n');
  });

  it('refuses to keep a private directory itself visible', async () => {
    const r = await runCli(sandboxArgs('--keep', '/tmp', '--', 'true'));
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/cannot keep \/tmp itself visible/);
  });

  it('forwards SIGTERM to the command and exits with its status', async () => {
    const { code, stdout } = await sigtermWhenReady([CLI, ...sandboxArgs('--', ...TRAPS_TERM)], ROOT);
    expect(stdout).toBe('ready\ngot-term\n');
    expect(code).toBe(5);
  });

  it('says when it is not needed, and --if-needed runs the command directly', async () => {
    // Inside a sandbox PID 1 is systemd: exactly the situation of a host with systemd.
    const r = await runCli(
      sandboxArgs(
        '--',
        'sh',
        '-c',
        `node ${CLI} sandbox -- true; echo "status $?"; node ${CLI} sandbox --if-needed -- sh -c 'echo direct; exit 4'; echo "status $?"`,
      ),
    );
    expect(r.stdout).toBe('status 2\ndirect\nstatus 4\n');
    expect(r.stdout + r.stderr).toMatch(/not needed: systemd already is PID 1/);
  });

  // Sandboxes nest one level (overlayfs stacks two deep): not from inside a sandbox already.
  it.skipIf(insideSandbox)('boots a sandbox inside a sandbox (--force)', async () => {
    const inner = `node ${CLI} sandbox --force -- sh -c 'systemd-run --wait --pipe --quiet -p User=nobody -p MemoryMax=40M id -un; cat /proc/1/comm'`;
    const r = await runCli(sandboxArgs('--', 'sh', '-c', inner));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('nobody\nsystemd\n');
    expect(r.code).toBe(0);
  });

  it('--verbose prints how long booting and stopping took', async () => {
    const r = await runCli(sandboxArgs('--verbose', '--', 'true'));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/systemd answered on the bus \d+ ms after start/);
    expect(r.stderr).toMatch(/stopped in \d+ ms/);
  });
});

describe.skipIf(!isRoot || !canBoot)('unitpool sandbox: errors', () => {
  it('says that namespaces are refused in a user namespace (an unprivileged container)', () => {
    const r = spawnSync(
      'unshare',
      ['--user', '--map-root-user', process.execPath, CLI, 'sandbox', '--force', '--', 'true'],
      { encoding: 'utf8', cwd: '/' },
    );
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/runs in a user namespace/);
  });

  /**
   * Runs `sh -c script` in a private mount namespace (nothing it mounts reaches the host), where the checkout is
   * also bound at /mnt: reachable by nobody even when the checkout lies below a 0700 directory (mktemp -d).
   */
  const inPrivateMounts = (script: string) =>
    spawnSync(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', `mount --bind "$1" /mnt && ${script}`, 'sh', ROOT],
      {
        encoding: 'utf8',
        cwd: '/',
      },
    );
  const cliAtMnt = `${process.execPath} /mnt/dist/src/cli/main.js sandbox --force -- true`;

  it('says that it needs root', () => {
    const r = inPrivateMounts(`exec setpriv --reuid=65534 --regid=65534 --clear-groups ${cliAtMnt}`);
    expect(r.stderr).toMatch(
      /^unitpool sandbox: the sandbox must be started as root \(uid 0\), not uid 65534: .* Run it with sudo/m,
    );
    expect(r.status).toBe(125);
  });

  it('says that systemd or dbus-daemon is missing, and how to install them', () => {
    const noSystemd = inPrivateMounts(`mount --bind /dev/null /lib/systemd/systemd && exec ${cliAtMnt}`);
    expect(noSystemd.stderr).toMatch(
      /no systemd here \(\/lib\/systemd\/systemd, .*\)\. Install it: apt-get install systemd dbus/,
    );
    expect(noSystemd.status).toBe(125);
    const noDbus = inPrivateMounts(`mount --bind /dev/null /usr/bin/dbus-daemon && exec ${cliAtMnt}`);
    expect(noDbus.stderr).toMatch(/no \/usr\/bin\/dbus-daemon: .* Install it: apt-get install dbus/);
    expect(noDbus.status).toBe(125);
  });
});
