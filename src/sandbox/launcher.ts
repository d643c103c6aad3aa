// `unitpool sandbox`: boots a private systemd (the machine's own) as PID 1 of fresh pid, mount, uts,
// ipc and cgroup namespaces, with dbus-daemon serving the system bus inside, runs commands in it and
// tears it all down. See docs/sandbox.md for what it does to keep the host safe.
//
// Process chain (host pids):
//   launcher (node) ─ setpriv --pdeathsig KILL ─exec→ unshare ... --fork --kill-child=SIGKILL
//                       └─ boot.sh stage1 = PID 1 ─exec→ unshare --cgroup ─exec→ boot.sh stage2 ─exec→ systemd
//   launcher ─ sh (joins the sandbox cgroups) ─exec→ nsenter --target <PID 1> ... └─ command (in the sandbox)
//   launcher ─ sh watchdog.sh (own session): removes the sandbox cgroups if the launcher dies.
// A SIGKILL of the launcher kills unshare (pdeathsig), which kills PID 1 (pdeathsig from an ancestor
// pid namespace is honoured even by an init), which makes the kernel kill everything in the sandbox.

import { spawn, type ChildProcess, type SpawnOptions, type StdioOptions } from 'node:child_process';
import { accessSync, constants as fsc, existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import dbus from 'dbus-next';
import {
  createSandboxCgroups,
  parseMountInfo,
  readCgroupMounts,
  removeCgroupTrees,
  sweepStaleSandboxCgroups,
  type SandboxCgroups,
} from './cgroups.js';
import { SandboxError } from './errors.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The boot script; found next to this file (copied into dist/ by scripts/copy-assets.mjs). */
export const BOOT_SCRIPT = join(HERE, 'boot.sh');
export const WATCHDOG_SCRIPT = join(HERE, 'watchdog.sh');

/** The system bus inside the sandbox, as processes in it see it. */
export const INNER_BUS_ADDRESS = 'unix:path=/run/dbus/system_bus_socket';
const DEFAULT_SYSTEMD = '/lib/systemd/systemd';
const DBUS_DAEMON = '/usr/bin/dbus-daemon';
const TOOL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Directories that get a private file system inside; keep paths below them are bound back. */
const MASKED = ['/run', '/tmp', '/var', '/var/tmp', '/etc', '/dev'];
const OUTPUT_LIMIT = 256 * 1024;

export interface SandboxOptions {
  /**
   * Paths that must stay visible (and shared with the host) inside the sandbox although they lie
   * below a directory the sandbox makes private (/tmp, /run, /var, /etc, /dev). The current working
   * directory is always kept. Directories not below those are visible anyway.
   */
  keep?: string[];
  /** Boot even if systemd already is PID 1 here. Default false: throws SandboxError('not-needed'). */
  force?: boolean;
  /** Print systemd's console output as it comes (true: to stderr), or hand it to a function. Also turns on debug logging. */
  verbose?: boolean | ((text: string) => void);
  /** Give up when the bus has not answered after this long. Default 10 000 ms. */
  timeoutMs?: number;
  /** Hostname inside (own uts namespace). Default 'unitpool-sandbox'. */
  hostname?: string;
  /** systemd binary. Default /lib/systemd/systemd. */
  systemd?: string;
}

export interface SandboxSpawnOptions {
  /** Working directory inside the sandbox (same path as on the host). Default process.cwd(). */
  cwd?: string;
  /** Environment. Default process.env; DBUS_SYSTEM_BUS_ADDRESS and UNITPOOL_SANDBOX=1 are always added. */
  env?: NodeJS.ProcessEnv;
  stdio?: StdioOptions;
  /**
   * Run the command in a transient scope unit of the sandbox's systemd (`systemd-run --scope`,
   * Delegate=yes), so that it lives in the sandbox's cgroup tree like any other unit and can start
   * a nested sandbox. Default false (it is then in the sandbox's root cgroup).
   */
  scope?: boolean;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface StopOptions {
  /**
   * Ask systemd to exit (Manager.Exit: systemd-shutdown sends SIGTERM, then SIGKILL, to everything
   * and syncs the disks) before killing it. Default false: SIGKILL PID 1 at once, which kills
   * everything inside with it; nothing inside keeps state that would need a clean shutdown.
   */
  graceful?: boolean;
}

export interface Sandbox {
  /** Host pid of the sandbox's systemd (PID 1 inside). */
  readonly pid: number;
  /** The sandbox's system bus, reachable from the host: unix:path=/proc/<pid>/root/run/dbus/system_bus_socket. */
  readonly busAddress: string;
  /** The same bus as seen from inside: unix:path=/run/dbus/system_bus_socket. */
  readonly innerBusAddress: string;
  /** The sandbox's cgroup directories on the host, one per hierarchy. */
  readonly cgroups: readonly string[];
  /** Milliseconds from startSandbox() to the bus answering. */
  readonly bootMs: number;
  /** Resolves when PID 1 is gone (after stop(), or if it died). */
  readonly exited: Promise<void>;
  /** What systemd printed on its console so far (the last 256 KiB). */
  output(): string;
  /** Spawns a command inside, as root, like child_process.spawn. */
  spawn(command: string, args?: readonly string[], options?: SandboxSpawnOptions): ChildProcess;
  /** Runs a command inside and collects its output. */
  exec(command: string, args?: readonly string[], options?: Omit<SandboxSpawnOptions, 'stdio'> & { input?: string }): Promise<ExecResult>;
  /** Stops systemd and everything in the sandbox, and removes the sandbox's cgroups. Idempotent. */
  stop(options?: StopOptions): Promise<StopTimes>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StopTimes {
  /** Milliseconds until PID 1 was gone. */
  killMs: number;
  /** Milliseconds for the whole stop, cgroups removed included. */
  totalMs: number;
}

/** True when systemd is PID 1 of this pid namespace (on the host, or inside a sandbox). */
export function systemdIsPid1(): boolean {
  try {
    return readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd' && existsSync('/run/systemd/system');
  } catch {
    return false;
  }
}

/** True in the initial user namespace, where uid 0 is the real root. */
export function inInitialUserNamespace(): boolean {
  try {
    const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    return map.length === 3 && map[0] === '0' && map[1] === '0' && map[2] === '4294967295';
  } catch {
    return true; // no user namespaces in this kernel
  }
}

/** Where a program is on PATH (plus the sbin directories), or undefined. */
export function which(name: string, pathVar = `${process.env.PATH ?? ''}:${TOOL_PATH}`): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of pathVar.split(':')) {
    if (!dir) continue;
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Checks everything that can be checked before booting; throws SandboxError with what to do. */
export function preflight(options: SandboxOptions = {}): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new SandboxError(
      'not-root',
      `the sandbox must be started as root (uid 0), not uid ${process.getuid()}: it creates namespaces, mounts and cgroups. ` +
        `Run it with sudo, or as root in a container started with --privileged.`,
    );
  }
  if (!inInitialUserNamespace()) {
    throw new SandboxError(
      'namespaces',
      'this process runs in a user namespace (a rootless or unprivileged container?): its root cannot mount the ' +
        "file systems or move into the cgroups the sandbox needs. Run it as the host's real root, or in a container " +
        'started with --privileged.',
    );
  }
  if (!options.force && systemdIsPid1()) {
    throw new SandboxError(
      'not-needed',
      'systemd already is PID 1 here: use it directly (the sandbox is not needed), or pass force to boot a private one anyway.',
    );
  }
  const systemd = options.systemd ?? DEFAULT_SYSTEMD;
  if (!isExecutable(systemd) || !which('systemd-run') || !which('systemctl')) {
    throw new SandboxError(
      'no-systemd',
      `no systemd here (${systemd}, systemd-run and systemctl are needed). Install it: apt-get install systemd dbus`,
    );
  }
  if (!isExecutable(DBUS_DAEMON)) {
    throw new SandboxError('no-dbus', `no ${DBUS_DAEMON}: the sandbox's system bus needs it. Install it: apt-get install dbus`);
  }
  const missing = ['setpriv', 'unshare', 'nsenter', 'mount', 'umount', 'perl', 'bash', 'find', 'sleep'].filter((t) => !which(t));
  if (!existsSync('/bin/bash')) missing.push('/bin/bash');
  if (missing.length) {
    throw new SandboxError(
      'no-tools',
      `missing ${missing.join(', ')}: the sandbox needs util-linux (unshare, setpriv, nsenter), mount, perl-base (perl), ` +
        `bash, findutils and coreutils. Install them: apt-get install util-linux mount perl-base bash findutils coreutils`,
    );
  }
  for (const f of [BOOT_SCRIPT, WATCHDOG_SCRIPT]) {
    if (!existsSync(f)) {
      throw new SandboxError('no-tools', `${f} is missing: build the package (npm run build copies src/sandbox/*.sh into dist/)`);
    }
  }
}

/**
 * The paths to bind back inside: the requested ones (resolved), plus the host's own mounts below
 * /etc and /var (Docker's /etc/resolv.conf, /etc/hosts...), which an overlay would hide.
 */
export function keepPaths(requested: readonly string[], implicitCwd?: string): string[] {
  const out = new Set<string>();
  const check = (p: string, explicit: boolean) => {
    let real: string;
    try {
      real = realpathSync(p);
    } catch (e) {
      throw new SandboxError('keep', `cannot keep ${p} visible in the sandbox: ${(e as Error).message}`);
    }
    if (real === '/proc' || real.startsWith('/proc/') || real === '/sys' || real.startsWith('/sys/')) {
      throw new SandboxError('keep', `cannot keep ${p} visible in the sandbox: /proc and /sys are the sandbox's own`);
    }
    if (MASKED.includes(real)) {
      if (explicit) {
        throw new SandboxError(
          'keep',
          `cannot keep ${real} itself visible in the sandbox: it is private there so that systemd cannot touch the host's. ` +
            `Keep a directory below it instead.`,
        );
      }
      return; // cwd = /tmp: the command starts in the sandbox's own /tmp.
    }
    out.add(real);
  };
  for (const p of requested) check(p, true);
  if (implicitCwd !== undefined) check(implicitCwd, false);
  try {
    for (const m of parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))) {
      const p = m.mountPoint;
      if ((p.startsWith('/etc/') || p.startsWith('/var/')) && !p.startsWith('/var/tmp/') && p !== '/var/tmp') out.add(p);
    }
  } catch {
    /* no mountinfo: nothing to add */
  }
  return [...out].sort((a, b) => a.length - b.length || a.localeCompare(b));
}

/** Ring buffer of text. */
class Tail {
  private chunks: string[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  push(s: string): void {
    this.chunks.push(s);
    this.size += s.length;
    while (this.size > this.limit && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const t = this.chunks.join('');
    return t.length > this.limit ? t.slice(t.length - this.limit) : t;
  }
}

interface ProcStat {
  pid: number;
  ppid: number;
  startTime: string;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(rest[1]), startTime: rest[19]! };
  } catch {
    return undefined;
  }
}

/** Children of `ppid` (this kernel has no /proc/<pid>/task/<tid>/children, so scan /proc). */
export function childrenOf(ppid: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st && st.ppid === ppid) out.push(st);
  }
  return out;
}

/** Waits for the first child of `ppid` to appear (null if `done` resolves or the timeout passes first). */
export async function waitForChild(ppid: number, timeoutMs: number, done?: () => boolean): Promise<ProcStat | null> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const c = childrenOf(ppid)[0];
    if (c) return c;
    if ((done && done()) || Date.now() > deadline) return null;
    await sleep(i < 20 ? 2 : 10);
  }
}

export function stillRunning(st: ProcStat): boolean {
  const now = readStat(st.pid);
  return now !== undefined && now.startTime === st.startTime;
}

function envBlock(layoutDirs: SandboxCgroups, keep: string[], options: SandboxOptions, verbose: boolean): NodeJS.ProcessEnv {
  const { mounts } = layoutDirs;
  return {
    PATH: TOOL_PATH,
    LANG: 'C.UTF-8',
    SHELL: '/bin/sh',
    UNITPOOL_SB_CGROUPS: layoutDirs.dirs.join('\n'),
    UNITPOOL_SB_CGMOUNTS: mounts.hierarchies.map((h) => `${h.name} ${h.version === 2 ? 'cgroup2' : 'cgroup'} ${h.mountOptions}`).join('\n'),
    UNITPOOL_SB_CGLINKS: mounts.links.map(([n, t]) => `${n} ${t}`).join('\n'),
    UNITPOOL_SB_KEEP: keep.join('\n'),
    UNITPOOL_SB_HOSTNAME: options.hostname ?? 'unitpool-sandbox',
    UNITPOOL_SB_VERBOSE: verbose ? '1' : '0',
    ...(options.systemd ? { UNITPOOL_SB_SYSTEMD: options.systemd } : {}),
  };
}

/** Reasons the boot script or the kernel gave, turned into the error a user can act on. */
function bootFailure(output: string, detail: string): SandboxError {
  if (/unshare failed: Operation not permitted|cannot (?:change root filesystem propagation|unshare)|Permission denied.*mount|mount: .*permission denied/i.test(output)) {
    return new SandboxError(
      'namespaces',
      `the kernel refused to create the sandbox's namespaces or mounts (${detail}). The sandbox needs root with ` +
        `CAP_SYS_ADMIN in the initial user namespace: on Docker, run the container with --privileged.`,
      output,
    );
  }
  const line = /^unitpool-sandbox: (.*)$/m.exec(output);
  return new SandboxError('boot', `the sandbox did not boot: ${line ? line[1] : detail}`, output);
}

/** Boots a sandbox and resolves when its systemd answers on the bus. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const t0 = performance.now();
  preflight(options);
  const verbose = options.verbose ?? false;
  const print = typeof verbose === 'function' ? verbose : verbose ? (s: string) => process.stderr.write(s) : undefined;
  const keep = keepPaths(options.keep ?? [], process.cwd());

  const mounts = readCgroupMounts();
  await sweepStaleSandboxCgroups(mounts);
  const cg = createSandboxCgroups(mounts);

  // The watchdog: in our own cgroups, in a session of its own, blocked on a pipe only we write to.
  const watchdog = spawn('/bin/sh', [WATCHDOG_SCRIPT, ...cg.dirs], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { PATH: TOOL_PATH },
  });
  watchdog.on('error', () => {}); // no /bin/sh: nothing to clean up with, the launcher still cleans up itself
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  const releaseWatchdog = () => {
    try {
      watchdog.stdin?.end();
    } catch {
      /* already gone */
    }
  };

  const tail = new Tail(OUTPUT_LIMIT);
  const onOutput = (text: string) => {
    // unshare prints this when its child (PID 1) was killed by SIGKILL: expected at every stop.
    const s = text.replace(/\r/g, '').replace(/^unshare: sigprocmask unblock failed: Invalid argument\n/m, '');
    tail.push(s);
    print?.(s);
  };

  let child: ChildProcess;
  try {
    child = spawn(
      'setpriv',
      [
        '--pdeathsig', 'KILL', '--',
        'unshare', '--pid', '--mount', '--uts', '--ipc', '--fork', '--kill-child=SIGKILL', '--propagation', 'private', '--',
        '/bin/bash', BOOT_SCRIPT, 'stage1',
      ],
      // detached: a session and process group of its own, so that the terminal's (or anyone's)
      // signals to our process group never reach the sandbox's processes.
      { stdio: ['ignore', 'pipe', 'pipe'], env: envBlock(cg, keep, options, !!verbose), detached: true },
    );
  } catch (e) {
    await removeCgroupTrees(cg.dirs);
    releaseWatchdog();
    throw new SandboxError('boot', `cannot start setpriv/unshare: ${(e as Error).message}`, '', { cause: e });
  }
  // Keep draining systemd's console for the sandbox's whole life: if the pipe filled, PID 1 would block.
  child.stdout!.setEncoding('utf8').on('data', onOutput);
  child.stderr!.setEncoding('utf8').on('data', onOutput);
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (e) => {
      spawnError = e;
      exitInfo ??= { code: null, signal: null };
      resolve();
    });
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve();
    });
  });

  const fail = async (detail: string): Promise<never> => {
    if (!exitInfo) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    await Promise.race([exited, sleep(3000)]);
    await sleep(20); // let the last output arrive
    await removeCgroupTrees(cg.dirs);
    releaseWatchdog();
    throw bootFailure(tail.text(), spawnError ? `${spawnError.message}` : detail);
  };

  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  const pid1 = child.pid === undefined ? null : await waitForChild(child.pid, timeoutMs, () => exitInfo !== undefined);
  if (!pid1) return fail(exitInfo ? `unshare exited (${describeExit(exitInfo)})` : 'PID 1 did not appear');

  const busPath = `/proc/${pid1.pid}/root/run/dbus/system_bus_socket`;
  const busAddress = `unix:path=${busPath}`;
  let lastError = 'the bus socket did not appear';
  for (let i = 0; ; i++) {
    if (exitInfo) return fail(`PID 1 exited (${describeExit(exitInfo)}) before the bus answered`);
    if (Date.now() > deadline) {
      return fail(`systemd's bus did not answer within ${timeoutMs} ms (${lastError})`);
    }
    // Until PID 1 has become systemd, /proc/<pid>/root/run may still be the /run the sandbox was
    // started from (whose bus may well answer: a sandbox in a sandbox, a host running dbus-daemon).
    // Once it is systemd, boot.sh has mounted everything, and the path is the sandbox's own.
    if (isSystemd(pid1.pid) && existsSync(busPath)) {
      try {
        await getManagerProperty(busAddress, 'Version', Math.max(100, deadline - Date.now()));
        break;
      } catch (e) {
        lastError = (e as Error).message;
      }
    }
    await sleep(i < 50 ? 10 : 50);
  }
  const bootMs = performance.now() - t0;

  let stopping: Promise<StopTimes> | undefined;
  const stop = (stopOptions: StopOptions = {}): Promise<StopTimes> => {
    stopping ??= (async () => {
      const s0 = performance.now();
      if (stopOptions.graceful && !exitInfo) {
        try {
          await callManager(busAddress, 'Exit', 1000);
        } catch {
          /* we kill it below */
        }
        await Promise.race([exited, sleep(2000)]);
      }
      if (!exitInfo && stillRunning(pid1)) {
        try {
          process.kill(pid1.pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
      await Promise.race([exited, sleep(5000)]);
      if (!exitInfo) child.kill('SIGKILL');
      await exited;
      const killMs = performance.now() - s0;
      const left = await removeCgroupTrees(cg.dirs);
      releaseWatchdog();
      if (left.length) {
        throw new SandboxError('cleanup', `could not remove the sandbox cgroups ${left.join(', ')}`, tail.text());
      }
      return { killMs, totalMs: performance.now() - s0 };
    })();
    return stopping;
  };

  const spawnInside = (command: string, args: readonly string[] = [], o: SandboxSpawnOptions = {}): ChildProcess => {
    if (exitInfo || stopping) throw new SandboxError('boot', 'the sandbox is not running');
    const env: NodeJS.ProcessEnv = { ...(o.env ?? process.env), DBUS_SYSTEM_BUS_ADDRESS: INNER_BUS_ADDRESS, UNITPOOL_SANDBOX: '1' };
    return spawn('/bin/sh', ['-c', ENTER_SCRIPT, 'unitpool-sandbox-enter', String(pid1.pid), o.cwd ?? process.cwd(), o.scope ? '1' : '0', command, ...args], {
      stdio: o.stdio ?? 'pipe',
      env: { ...env, UNITPOOL_SB_JOIN: cg.dirs.join('\n'), INSIDE: INSIDE_SCRIPT, PATH: `${env.PATH ?? ''}:${TOOL_PATH}` },
    } satisfies SpawnOptions);
  };

  const sandbox: Sandbox = {
    pid: pid1.pid,
    busAddress,
    innerBusAddress: INNER_BUS_ADDRESS,
    cgroups: cg.dirs,
    bootMs,
    exited,
    output: () => tail.text(),
    spawn: spawnInside,
    exec: (command, args = [], o = {}) =>
      new Promise<ExecResult>((resolve, reject) => {
        const p = spawnInside(command, args, { ...o, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        p.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
        p.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
        p.once('error', reject);
        p.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
        p.stdin!.on('error', () => {}); // EPIPE: the command did not read its input
        p.stdin!.end(o.input ?? '');
      }),
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
  return sandbox;
}

/**
 * Run on the host by spawnInside: moves itself into the sandbox's cgroups (so the command is
 * accounted and killed with the sandbox), then enters its namespaces. nsenter forks for the pid
 * namespace; the child cds to the same path inside and runs the command (in a scope if asked).
 * Not --net: the sandbox shares the host's network (units make their own with PrivateNetwork=).
 */
const ENTER_SCRIPT = `
pid=$1 cwd=$2 scope=$3
shift 3
IFS='
'
for cg in $UNITPOOL_SB_JOIN; do
  echo 0 > "$cg/cgroup.procs" 2>/dev/null || :
done
unset UNITPOOL_SB_JOIN IFS
exec nsenter --target "$pid" --mount --uts --ipc --pid --cgroup -- /bin/sh -c "$INSIDE" "$cwd" "$scope" "$@"
`;

/** Run inside the sandbox by ENTER_SCRIPT (passed in $INSIDE). */
const INSIDE_SCRIPT = `
cd "$0" || { echo "unitpool sandbox: cannot enter $0 inside the sandbox" >&2; exit 125; }
scope=$1
shift
unset INSIDE
command -v "$1" >/dev/null 2>&1 || { echo "unitpool sandbox: $1: command not found" >&2; exit 127; }
if [ "$scope" = 1 ]; then
  exec systemd-run --scope --quiet --collect --property=Delegate=yes --description="unitpool sandbox command" -- "$@"
fi
exec "$@"
`;

function isSystemd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'systemd' && existsSync(`/proc/${pid}/root/run/unitpool-sandbox/units`);
  } catch {
    return false;
  }
}

function describeExit(e: { code: number | null; signal: NodeJS.Signals | null }): string {
  return e.signal ? `signal ${e.signal}` : `status ${e.code}`;
}

/** Reads a property of org.freedesktop.systemd1.Manager over the bus at `address`. */
export async function getManagerProperty(address: string, name: string, timeoutMs = 2000): Promise<unknown> {
  const reply = await busCall(
    address,
    {
      destination: 'org.freedesktop.systemd1',
      path: '/org/freedesktop/systemd1',
      interface: 'org.freedesktop.DBus.Properties',
      member: 'Get',
      signature: 'ss',
      body: ['org.freedesktop.systemd1.Manager', name],
    },
    timeoutMs,
  );
  const v = reply?.body?.[0] as { value?: unknown } | undefined;
  return v?.value;
}

async function callManager(address: string, member: string, timeoutMs: number): Promise<void> {
  await busCall(
    address,
    { destination: 'org.freedesktop.systemd1', path: '/org/freedesktop/systemd1', interface: 'org.freedesktop.systemd1.Manager', member },
    timeoutMs,
  );
}

async function busCall(address: string, msg: dbus.MessageLike, timeoutMs: number): Promise<dbus.Message | null> {
  const bus = dbus.sessionBus({ busAddress: address });
  let timer: NodeJS.Timeout | undefined;
  const call = bus.call(new dbus.Message(msg));
  call.catch(() => {}); // a late failure after the race is settled must not be an unhandled rejection
  try {
    return await Promise.race([
      call,
      new Promise<never>((_, reject) => {
        bus.on('error', (e: Error) => reject(e));
        timer = setTimeout(() => reject(new Error(`no answer on ${address} within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
    try {
      bus.disconnect();
    } catch {
      /* already closed */
    }
  }
}
