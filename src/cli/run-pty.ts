// A terminal for the command of `unitpool run` when we have one (stdin and stdout are terminals), as
// systemd-run --pty gives one: a fresh pseudo-terminal whose slave is the command's controlling terminal, so
// that it sees a TTY of our size, keys reach it as typed, and Ctrl-C is SIGINT to its foreground process
// group. This module owns that pty and the process that forwards it; it never touches the unit.
//
// Node cannot allocate a pty (no posix_openpt, no ioctl), so script(1) from util-linux does: it puts our
// terminal in raw mode, forwards keys and output both ways, passes window size changes on (SIGWINCH), and
// restores our terminal at the end. Its child is a shell that reports its pty (tty) and sleeps. The unit
// then gets TTYPath= that pty with StandardInput=tty-force (systemd makes it the command's controlling
// terminal, taking it from the sleeping shell's session), StandardOutput=tty, StandardError=tty. When the
// unit has ended, we end the sleeper; script drains what the command wrote last and exits.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { named, UnitPoolError } from '../errors.js';
import { join } from 'node:path';
import type { DBusProperty } from '../unit/transient.js';
import { privateSocketDir } from '../unit/sockets.js';
import { streamInfo } from './run-stdio.js';

const SCRIPT = ['/usr/bin/script', '/bin/script'];

/** Whether the command gets a terminal: our stdin and stdout are terminals, and script(1) is here. */
export function wantsPty(): boolean {
  return streamInfo(0).kind === 'terminal' && streamInfo(1).kind === 'terminal' && SCRIPT.some((p) => existsSync(p));
}

export interface Pty {
  readonly path: string;
  /** TTYPath and the Standard* settings for the unit; stderr only if ours is the same terminal as stdout. */
  readonly properties: DBusProperty[];
  /** Whether the command's stderr is the terminal too. */
  readonly stderr: boolean;
  /** The unit has ended: let script drain the last output and restore our terminal (once; later calls wait for it). */
  finish(): Promise<void>;
}

/** script(1) gave no terminal: the command then runs without one. Code `ERR_UNITPOOL_RUN_PTY`. */
export class PtyError extends UnitPoolError {
  static {
    named(this, 'PtyError');
  }
  override readonly code = 'ERR_UNITPOOL_RUN_PTY';
}

export async function openPty(bus: 'system' | 'user', timeoutMs = 5000): Promise<Pty> {
  const dir = privateSocketDir('run', bus);
  const report = join(dir, 'tty');
  const exe = SCRIPT.find((p) => existsSync(p))!;
  // -q: no start/done lines; -e: script's status is its child's; -f: flush at once. /dev/null: no typescript.
  const child: ChildProcess = spawn(
    exe,
    [
      '-qefc',
      `echo "$$ $(tty)" > '${report}.new' && mv '${report}.new' '${report}' && exec sleep 2147483647`,
      '/dev/null',
    ],
    {
      stdio: 'inherit',
      env: { ...process.env, SHELL: '/bin/sh' },
    },
  );
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  let pid = 0;
  let path = '';
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(report)) {
      const m = /^(\d+) (\/dev\/pts\/\d+)\n$/.exec(readFileSync(report, 'utf8'));
      if (m && Number(m[1]) > 1) [pid, path] = [Number(m[1]), m[2]!];
      break;
    }
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  if (!path) {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw new PtyError(`script(1) gave no terminal within ${timeoutMs} ms`);
  }
  const stderr = streamInfo(2).id === streamInfo(1).id;
  const properties: DBusProperty[] = [
    ['TTYPath', 's', path],
    ['StandardInput', 's', 'tty-force'],
    ['StandardOutput', 's', 'tty'],
    ...(stderr ? ([['StandardError', 's', 'tty']] as DBusProperty[]) : []),
  ];
  if (process.env.TERM) properties.push(['Environment', 'as', [`TERM=${process.env.TERM}`]]);
  let finished: Promise<void> | undefined;
  return {
    path,
    properties,
    stderr,
    finish() {
      finished ??= (async () => {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
        await exited;
        rmSync(dir, { recursive: true, force: true });
      })();
      return finished;
    },
  };
}
