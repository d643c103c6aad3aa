// The host must come out of any number of sandbox cycles exactly as it went in: its /tmp, /etc,
// sysctls, mount table, cgroup directories and processes. The cycles include the things that
// damaged these machines when systemd was booted carelessly (systemd-tmpfiles wiping /tmp,
// systemd-sysctl, systemd-sysusers, useradd, units creating cgroups), run inside the sandbox on
// purpose, a command that crashes, and a launcher killed with SIGKILL (its watchdog cleans up).
//
// Other sessions may share this machine: differences that are provably someone else's (cgroups of
// other sessions, sandboxes of other launchers, processes that are not ours) are printed, not failed on.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCgroupMounts } from '../../src/sandbox/cgroups.js';
import { startSandbox } from '../../src/sandbox/launcher.js';
import { CLI, canBoot, force, insideSandbox, runCli, sandboxArgs, skipReason } from './helpers.js';
import {
  diffLists,
  diffRecords,
  inHostMountNamespace,
  readCgroupDirs,
  readProcesses,
  snapshot,
  type HostState,
  type ProcInfo,
} from './host-state.js';

if (skipReason) console.warn(`sandbox host-safety test skipped: ${skipReason}`);

const SANDBOX_NAME_RE = /unitpool-sandbox-(\d+)-[0-9a-f]+/;

/** Run inside the sandbox: refuses to do anything unless the sandbox is really isolated, then does the damage that was seen here. */
const HAZARDS = String.raw`
set -u
# Guards: if any of these fails, the isolation is broken and running the hazards would hurt the host.
[ ! -e "$MARKER" ] || { echo "guard: the host's /tmp is visible"; exit 90; }
[ "$(findmnt -n -o FSTYPE -M /tmp | tail -n 1)" = tmpfs ] || { echo "guard: /tmp is not a tmpfs"; exit 91; }
[ "$(findmnt -n -R -o TARGET /tmp | sort -u | wc -l)" = 1 ] || { echo "guard: something of the host is mounted below /tmp"; exit 92; }
[ "$(findmnt -n -R -o TARGET /var/tmp | sort -u | wc -l)" = 1 ] || { echo "guard: something is mounted below /var/tmp"; exit 93; }
[ "$(findmnt -n -o FSTYPE -M /etc | tail -n 1)" = overlay ] || { echo "guard: /etc is not an overlay"; exit 94; }
[ "$(findmnt -n -o FSTYPE -M /var | tail -n 1)" = overlay ] || { echo "guard: /var is not an overlay"; exit 95; }
findmnt -n -o OPTIONS -M /proc/sys | tail -n 1 | grep -q '^ro' || { echo "guard: /proc/sys is writable"; exit 96; }
# What wiped, changed and edited the host when systemd was booted without a sandbox:
systemd-tmpfiles --create --remove --boot >/dev/null 2>&1
systemd-sysctl >/dev/null 2>&1
systemd-sysusers >/dev/null 2>&1
useradd --system unitpool-evil >/dev/null 2>&1 || echo 'unitpool-evil:x:4242:4242::/:/bin/false' >> /etc/passwd
echo 'unitpool-evil:x:4242:' >> /etc/group
echo "sandbox was here" > /tmp/unitpool-sandbox-wrote-this
hostname unitpool-evil-hostname
mount -t tmpfs unitpool-evil /mnt
# units and their cgroups, a scope, a slice
systemd-run --quiet --wait -p MemoryMax=64M -p CPUQuota=50% -p PrivateTmp=yes -p PrivateNetwork=yes true
systemd-run --quiet --unit=unitpool-left-running --slice=unitpool-evil.slice sleep 600
echo hazards-done
`;

describe.skipIf(!canBoot)('sandbox: host safety', () => {
  let dir: string;
  let marker: string;
  let before: HostState;
  let volatileSysctls: Set<string>;
  const ours = new Set<number>([process.pid]); // launcher pids whose sandbox cgroups are ours

  beforeAll(async () => {
    dir = mkdtempSync(join('/tmp', 'unitpool-safety-'));
    marker = join(dir, 'marker');
    writeFileSync(marker, `host marker ${process.pid}\n`);
    const a = snapshot();
    await sleep(300);
    before = snapshot();
    volatileSysctls = new Set(Object.keys(a.sysctl).filter((k) => a.sysctl[k] !== before.sysctl[k]));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('leaves /tmp, /etc, sysctls, mounts, cgroups and processes as they were', async () => {
    const env = { ...process.env, MARKER: marker };

    // 1. The hazards, inside (cwd / so that nothing of the host is kept visible below /tmp).
    const h = await runCli(sandboxArgs('--', 'sh', '-c', HAZARDS), { cwd: '/', env });
    ours.add(h.pid);
    expect(h.stdout + h.stderr).toMatch(/hazards-done/);
    expect(h.code).toBe(0);

    // 2. A command that fails, and one that is killed by a signal.
    const fail = await runCli(sandboxArgs('--', 'sh', '-c', 'exit 3'));
    ours.add(fail.pid);
    expect(fail.code).toBe(3);
    const killed = await runCli(sandboxArgs('--', 'sh', '-c', 'kill -KILL $$'));
    ours.add(killed.pid);
    expect(killed.code).toBe(128 + 9);

    // 3. Through the API: a plain stop and a graceful one.
    for (const graceful of [false, true]) {
      const sb = await startSandbox({ force });
      await sb.exec('systemd-run', ['--quiet', '--wait', '-p', 'User=nobody', 'true']);
      await sb.stop({ graceful });
    }

    // 4. Two at once.
    const [p, q] = await Promise.all([
      runCli(sandboxArgs('--', 'sh', '-c', 'systemd-run --quiet --wait -p MemoryMax=30M true && echo p')),
      runCli(sandboxArgs('--', 'sh', '-c', 'systemd-run --quiet --wait -p MemoryMax=30M true && echo q')),
    ]);
    ours.add(p.pid).add(q.pid);
    expect([p.code, p.stdout, q.code, q.stdout]).toEqual([0, 'p\n', 0, 'q\n']);

    // 5. A launcher killed with SIGKILL while its command runs: the watchdog must clean up.
    const launcher = spawn(
      process.execPath,
      [
        CLI,
        ...sandboxArgs(
          '--',
          'sh',
          '-c',
          'systemd-run --quiet --unit=unitpool-busy sleep 600; echo ready; exec sleep 600',
        ),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    ours.add(launcher.pid!);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      launcher.stdout!.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        if (out.includes('ready')) resolve();
      });
      launcher.once('exit', (code) => reject(new Error(`launcher exited early (${code})`)));
    });
    const name = `unitpool-sandbox-${launcher.pid}-`;
    expect(readCgroupDirs().some((d) => d.includes(name))).toBe(true);
    const killedAt = performance.now();
    launcher.kill('SIGKILL');
    let gone = false;
    while (performance.now() - killedAt < 15_000) {
      const procs = [...readProcesses().values()].filter((pr) => pr.cgroup.includes(name) || pr.cmdline.includes(name));
      if (procs.length === 0 && !readCgroupDirs().some((d) => d.includes(name))) {
        gone = true;
        break;
      }
      await sleep(50);
    }
    console.log(
      `launcher SIGKILLed: sandbox processes and cgroups gone after ${(performance.now() - killedAt).toFixed(0)} ms`,
    );
    expect(gone, 'the watchdog removed the sandbox of the killed launcher').toBe(true);

    // Let the host's init reap what it inherited.
    await sleep(500);
    const after = snapshot();
    const problems: string[] = [];
    const notes: string[] = [];

    // Files.
    expect(readFileSync(marker, 'utf8')).toBe(`host marker ${process.pid}\n`);
    expect(existsSync('/tmp/unitpool-sandbox-wrote-this')).toBe(false);
    for (const f of diffRecords(before.files, after.files)) problems.push(`file changed: ${f}`);

    // Sysctls.
    for (const d of diffRecords(before.sysctl, after.sysctl)) {
      const key = d.slice(0, d.indexOf(':'));
      if (!volatileSysctls.has(key)) problems.push(`sysctl changed: ${d}`);
    }

    // Mount table of the host's mount namespace.
    if (!inHostMountNamespace())
      notes.push('not in the host mount namespace: the mount table checked is that of PID 1 here');
    const m = diffLists(before.mounts, after.mounts);
    for (const x of m.added) problems.push(`mount added: ${x}`);
    for (const x of m.removed) problems.push(`mount removed: ${x}`);

    // Cgroup directories: ours are the ones under our own cgroups (and at the roots of the
    // hierarchies); sandboxes of launchers that are not ours and other sessions' cgroups are not.
    const ownDirs = readCgroupMounts().hierarchies.map((hh) => hh.ownDir);
    const roots = readCgroupMounts().hierarchies.map((hh) => hh.mountPoint);
    const foreignSandbox = (d: string) => {
      const mm = SANDBOX_NAME_RE.exec(d);
      return mm !== null && !ours.has(Number(mm[1]));
    };
    const c = diffLists(before.cgroups, after.cgroups);
    for (const [kind, list] of [
      ['added', c.added],
      ['removed', c.removed],
    ] as const) {
      for (const d of list) {
        const underOwn = ownDirs.some((o) => d === o || d.startsWith(o + sep));
        const atRoot = roots.some((r) => d.startsWith(r + sep) && !d.slice(r.length + 1).includes(sep));
        if ((underOwn || atRoot) && !foreignSandbox(d)) problems.push(`cgroup ${kind}: ${d}`);
        else notes.push(`cgroup ${kind} (not ours): ${d}`);
      }
    }

    // Processes: nothing new that descends from this test or lives in (or names) our sandboxes' cgroups.
    const isOurs = (pr: ProcInfo) =>
      [...ours].some(
        (pid) => pr.cgroup.includes(`unitpool-sandbox-${pid}-`) || pr.cmdline.includes(`unitpool-sandbox-${pid}-`),
      );
    const descends = (pr: ProcInfo) => {
      for (let x: ProcInfo | undefined = pr, n = 0; x && n < 64; n++) {
        if (x.ppid === process.pid) return true;
        x = [...after.processes.values()].find((y) => y.pid === x!.ppid);
      }
      return false;
    };
    for (const [key, pr] of after.processes) {
      if (before.processes.has(key)) continue;
      if (descends(pr) || isOurs(pr)) problems.push(`process left: ${pr.pid} ${pr.comm} ${pr.cmdline}`);
      else if (/systemd|dbus-daemon|unshare|nsenter|setpriv|watchdog/.test(pr.cmdline))
        notes.push(`new process (not ours): ${pr.pid} ${pr.cmdline.replace(/\s+/g, ' ').slice(0, 120)}`);
    }
    if (before.memoryCgroups !== undefined)
      notes.push(
        `memory cgroups in the kernel (dying ones included): ${before.memoryCgroups} -> ${after.memoryCgroups}`,
      );
    if (insideSandbox) notes.push('ran inside a sandbox: the "host" checked here is the outer sandbox');

    if (notes.length) console.log(`host-safety notes:\n  ${notes.join('\n  ')}`);
    expect(problems).toEqual([]);
  });
});
