// Shared by the sandbox tests. These tests need root and boot the machine's real systemd; nothing is mocked.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemdIsPid1 } from '../../src/sandbox/preflight.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI. The tests run the real `unitpool sandbox` (npm test builds first). */
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
/** Inside a sandbox of ours, PID 1 is systemd: the sandbox tests then boot nested sandboxes (force). */
export const insideSandbox = process.env.UNITPOOL_SANDBOX === '1';
export const hostHasSystemd = systemdIsPid1() && !insideSandbox;
/** Whether these tests can boot sandboxes here, and why not. */
export const skipReason = !isRoot
  ? 'the sandbox needs root'
  : hostHasSystemd
    ? 'systemd is PID 1 on this host: the sandbox is not needed here'
    : !existsSync(join(ROOT, 'dist', 'src', 'sandbox', 'boot.sh'))
      ? 'not built: run npm run build first'
      : undefined;
export const canBoot = skipReason === undefined;
/** Pass as `force`: booting inside a sandbox of ours is a nested sandbox. */
export const force = insideSandbox;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/** Runs `node dist/src/cli/main.js ...args` and collects everything. */
export function runCli(
  args: string[],
  opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    p.once('error', reject);
    p.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, pid: p.pid! }));
    p.stdin.end(opts.input ?? '');
  });
}

/** `sandbox` CLI arguments, with --force inside a sandbox (nested). */
export function sandboxArgs(...rest: string[]): string[] {
  return ['sandbox', ...(force ? ['--force'] : []), ...rest];
}
