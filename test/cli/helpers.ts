// Shared by the `unitpool run` tests: they run the built CLI (dist/, as `npm test` builds it) against the real
// systemd of the sandbox (or of the host when systemd is PID 1 there). Nothing is mocked.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { systemdIsPid1 } from '../../src/sandbox/preflight.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
/** Why the tests that start units cannot run here, if they cannot. */
export const noSystemd = !existsSync(CLI)
  ? 'not built: run npm run build first'
  : !systemdIsPid1()
    ? 'systemd is not PID 1 here: run them inside `unitpool sandbox` (npm test does)'
    : !isRoot
      ? 'they use the system manager and need root'
      : undefined;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/src/cli/main.js run ...args` and collects everything. */
export function run(
  args: string[],
  opts: { input?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, 'run', ...args], {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    collect(p, resolve, reject);
    p.stdin.on('error', () => {});
    p.stdin.end(opts.input ?? '');
  });
}

/** Runs a bash command line (for real pipelines), with $UNITPOOL set to the CLI. */
export function shell(line: string, opts: { cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-c', line], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, UNITPOOL: `${process.execPath} ${CLI}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    collect(p, resolve, reject);
  });
}

/** Collects a child's stdout and stderr; settles when it closes (or cannot start). */
function collect(
  p: ChildProcessByStdio<Writable | null, Readable, Readable>,
  resolve: (r: RunResult) => void,
  reject: (e: Error) => void,
): void {
  let stdout = '';
  let stderr = '';
  p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  p.once('error', reject);
  p.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
}
