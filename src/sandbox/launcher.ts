// `unitpool sandbox`: boots a private systemd (the machine's own) as PID 1 of fresh pid, mount, uts,
// ipc and cgroup namespaces, with dbus-daemon serving the system bus inside, runs commands in it and
// tears it all down. See docs/sandbox.md for what it does to keep the host safe.
//
// This module owns a sandbox's life: boot (cgroups, watchdog, setpriv/unshare/boot.sh), waiting for the bus,
// and stop (kill PID 1, remove the cgroups). It leans on preflight.ts (host checks, keep paths), cgroups.ts,
// proc.ts (finding PID 1), manager-bus.ts (asking systemd) and enter.ts (running commands inside).
//
// Process chain (host pids):
//   launcher (node) ─ setpriv --pdeathsig KILL ─exec→ unshare ... --fork --kill-child=SIGKILL
//                       └─ boot.sh stage1 = PID 1 ─exec→ unshare --cgroup ─exec→ boot.sh stage2 ─exec→ systemd
//   launcher ─ sh (joins the sandbox cgroups) ─exec→ nsenter --target <PID 1> ... └─ command (in the sandbox)
//   launcher ─ sh watchdog.sh (own session): removes the sandbox cgroups if the launcher dies.
// A SIGKILL of the launcher kills unshare (pdeathsig), which kills PID 1 (pdeathsig from an ancestor
// pid namespace is honoured even by an init), which makes the kernel kill everything in the sandbox.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { boolean, refusalOf, type SchemaOf } from '../options/check.js';
import {
  createSandboxCgroups,
  readCgroupMounts,
  removeCgroupTrees,
  sweepStaleSandboxCgroups,
  type SandboxCgroups,
} from './cgroups.js';
import { execInside, type ExecOptions, type ExecResult, type SandboxSpawnOptions, spawnInside } from './enter.js';
import { SandboxError } from './errors.js';
import { callManager, getManagerProperty, INNER_BUS_ADDRESS } from './manager-bus.js';
import { BOOT_SCRIPT, keepPaths, preflight, type SandboxOptions, TOOL_PATH, WATCHDOG_SCRIPT } from './preflight.js';
import { describeExit, isSystemd, stillRunning, waitForChild } from './proc.js';

const OUTPUT_LIMIT = 256 * 1024;

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
  exec(command: string, args?: readonly string[], options?: ExecOptions): Promise<ExecResult>;
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

const STOP_OPTIONS_SCHEMA = { graceful: boolean } satisfies SchemaOf<StopOptions>;

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

function envBlock(
  layoutDirs: SandboxCgroups,
  keep: string[],
  options: SandboxOptions,
  verbose: boolean,
): NodeJS.ProcessEnv {
  const { mounts } = layoutDirs;
  return {
    PATH: TOOL_PATH,
    LANG: 'C.UTF-8',
    SHELL: '/bin/sh',
    UNITPOOL_SB_CGROUPS: layoutDirs.dirs.join('\n'),
    UNITPOOL_SB_CGMOUNTS: mounts.hierarchies
      .map((h) => `${h.name} ${h.version === 2 ? 'cgroup2' : 'cgroup'} ${h.mountOptions}`)
      .join('\n'),
    UNITPOOL_SB_CGLINKS: mounts.links.map(([n, t]) => `${n} ${t}`).join('\n'),
    UNITPOOL_SB_KEEP: keep.join('\n'),
    UNITPOOL_SB_HOSTNAME: options.hostname ?? 'unitpool-sandbox',
    UNITPOOL_SB_VERBOSE: verbose ? '1' : '0',
    ...(options.systemd ? { UNITPOOL_SB_SYSTEMD: options.systemd } : {}),
  };
}

/** Reasons the boot script or the kernel gave, turned into the error a user can act on. */
function bootFailure(output: string, detail: string): SandboxError {
  if (
    /unshare failed: Operation not permitted|cannot (?:change root filesystem propagation|unshare)|Permission denied.*mount|mount: .*permission denied/i.test(
      output,
    )
  ) {
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
        '--pdeathsig',
        'KILL',
        '--',
        'unshare',
        '--pid',
        '--mount',
        '--uts',
        '--ipc',
        '--fork',
        '--kill-child=SIGKILL',
        '--propagation',
        'private',
        '--',
        '/bin/bash',
        BOOT_SCRIPT,
        'stage1',
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
    const refused = refusalOf('sandbox.stop()', stopOptions, STOP_OPTIONS_SCHEMA);
    if (refused) return Promise.reject(refused);
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

  const target = { pid: pid1.pid, cgroups: cg.dirs };
  const running = (): void => {
    if (exitInfo || stopping) throw new SandboxError('boot', 'the sandbox is not running');
  };
  const spawnIn = (command: string, args: readonly string[] = [], o: SandboxSpawnOptions = {}): ChildProcess => {
    running();
    return spawnInside(target, command, args, o);
  };

  const sandbox: Sandbox = {
    pid: pid1.pid,
    busAddress,
    innerBusAddress: INNER_BUS_ADDRESS,
    cgroups: cg.dirs,
    bootMs,
    exited,
    output: () => tail.text(),
    spawn: spawnIn,
    exec: (command, args = [], o = {}) => {
      try {
        running();
        return execInside((spawnOptions) => spawnInside(target, command, args, spawnOptions), o);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
  return sandbox;
}
