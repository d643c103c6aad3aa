// `unitpool sandbox [options] -- command [args...]`: the CLI side of the sandbox.

import { spawn } from 'node:child_process';
import { constants as osc } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../errors.js';
import { SandboxError } from './errors.js';
import { startSandbox, type Sandbox } from './launcher.js';
import { systemdIsPid1 } from './preflight.js';
import { stillRunning, waitForChild } from './proc.js';

export const SANDBOX_USAGE = `Usage: unitpool sandbox [options] [--] command [args...]

Boots a private systemd (this machine's /lib/systemd/systemd) as PID 1 of fresh pid, mount, uts, ipc
and cgroup namespaces, with dbus-daemon serving the system bus at /run/dbus/system_bus_socket,
runs the command inside as root (same working directory, same environment plus
DBUS_SYSTEM_BUS_ADDRESS and UNITPOOL_SANDBOX=1), tears everything down and exits with the
command's exit status (128+N if it was killed by signal N; 125 if the sandbox itself failed).

Options:
  --if-needed    if systemd already is PID 1 here, just run the command directly
  --force        boot a private systemd even if systemd already is PID 1
  --keep PATH    keep PATH (below /tmp, /run, /var, /etc or /dev, which are private inside)
                 visible and shared with the host; may be repeated. The working directory is
                 always kept.
  --verbose, -v  print systemd's console output (debug level) and the boot/teardown times
  --timeout SEC  give up when systemd's bus has not answered after SEC seconds (default 10)
  --help, -h     this text

Must run as root. See docs/sandbox.md.`;

export interface SandboxCommandOptions {
  ifNeeded: boolean;
  force: boolean;
  keep: string[];
  verbose: boolean;
  timeoutMs: number;
  help: boolean;
  command: string[];
}

export function parseSandboxArgs(argv: readonly string[]): SandboxCommandOptions {
  const o: SandboxCommandOptions = {
    ifNeeded: false,
    force: false,
    keep: [],
    verbose: false,
    timeoutMs: 10_000,
    help: false,
    command: [],
  };
  let i = 0;
  const value = (flag: string): string => {
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    if (a === '--if-needed') o.ifNeeded = true;
    else if (a === '--force') o.force = true;
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--help' || a === '-h') o.help = true;
    else if (a === '--keep') o.keep.push(value(a));
    else if (a.startsWith('--keep=')) o.keep.push(a.slice('--keep='.length));
    else if (a === '--timeout' || a.startsWith('--timeout=')) {
      const v = a === '--timeout' ? value(a) : a.slice('--timeout='.length);
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--timeout: not a positive number of seconds: ${v}`);
      o.timeoutMs = n * 1000;
    } else throw new UsageError(`unknown option ${a}; see the options below`);
  }
  o.command = argv.slice(i);
  if (!o.help && o.command.length === 0) throw new UsageError('no command given');
  return o;
}

const log = (s: string) => process.stderr.write(`unitpool sandbox: ${s}\n`);

function statusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return 128 + (osc.signals[signal] ?? 0);
  return code ?? 1;
}

/** Runs `unitpool sandbox ...`; resolves to the exit status for the process. */
export async function runSandboxCommand(argv: readonly string[]): Promise<number> {
  let o: SandboxCommandOptions;
  try {
    o = parseSandboxArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      log(e.message);
      process.stderr.write(`\n${SANDBOX_USAGE}\n`);
      return 2;
    }
    throw e;
  }
  if (o.help) {
    process.stdout.write(`${SANDBOX_USAGE}\n`);
    return 0;
  }

  if (!o.force && systemdIsPid1()) {
    if (o.ifNeeded) return runDirect(o.command);
    log(
      'not needed: systemd already is PID 1 here, so run the command directly (or pass --if-needed to do that, --force to boot a private systemd anyway)',
    );
    return 2;
  }

  // Signals that arrive while booting: stop and leave.
  let interrupted: NodeJS.Signals | undefined;
  let forward: ((sig: NodeJS.Signals) => void) | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (forward) forward(sig);
    else interrupted ??= sig;
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);

  let sandbox: Sandbox | undefined;
  try {
    try {
      sandbox = await startSandbox({ keep: o.keep, force: o.force, verbose: o.verbose, timeoutMs: o.timeoutMs });
    } catch (e) {
      if (e instanceof SandboxError) {
        log(e.message);
        return 125;
      }
      throw e;
    }
    if (o.verbose)
      log(`systemd answered on the bus ${sandbox.bootMs.toFixed(0)} ms after start (PID 1 is host pid ${sandbox.pid})`);
    if (interrupted) return 128 + (osc.signals[interrupted] ?? 0);

    const child = sandbox.spawn(o.command[0]!, o.command.slice(1), { stdio: 'inherit', scope: true });
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('error', () => resolve({ code: 125, signal: null }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    let finished = false;
    void done.then(() => (finished = true));
    // The command is the child of nsenter (which forks into the pid namespace).
    const inner = child.pid === undefined ? null : await waitForChild(child.pid, 5000, () => finished);
    forward = (sig) => {
      // Ctrl-C on a terminal reaches the command directly (same process group): do not send it twice.
      if (sig === 'SIGINT' && process.stdin.isTTY) return;
      if (inner && stillRunning(inner)) {
        try {
          process.kill(inner.pid, sig);
        } catch {
          /* gone */
        }
      }
    };
    if (interrupted) forward(interrupted);
    const r = await done;
    // nsenter re-raises the command's fatal signal on itself; but it also dies itself of a
    // Ctrl-C or SIGHUP from the terminal while the command may still be handling it: give the
    // command time to finish.
    if (r.signal && inner) {
      for (let i = 0; i < 200 && stillRunning(inner); i++) await sleep(50);
    }
    return statusOf(r.code, r.signal);
  } finally {
    if (sandbox) {
      try {
        const t = await sandbox.stop();
        if (o.verbose) log(`stopped in ${t.totalMs.toFixed(0)} ms (PID 1 gone after ${t.killMs.toFixed(0)} ms)`);
      } catch (e) {
        log(`teardown: ${(e as Error).message}`);
      }
    }
    for (const s of signals) process.off(s, onSignal);
  }
}

/** --if-needed on a host whose PID 1 is systemd: run the command as it is. */
function runDirect(command: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit' });
    const fwd = (sig: NodeJS.Signals) => {
      if (sig === 'SIGINT' && process.stdin.isTTY) return;
      child.kill(sig);
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of signals) process.on(s, fwd);
    child.once('error', (e) => {
      log(`cannot run ${command[0]}: ${e.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => {
      for (const s of signals) process.off(s, fwd);
      resolve(statusOf(code, signal));
    });
  });
}
