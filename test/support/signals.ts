// A command that traps SIGTERM, for the tests of commands that must pass SIGTERM on (`unitpool run`, `unitpool
// sandbox`): it prints "ready", and on SIGTERM prints "got-term" and exits 5.
import { spawn } from 'node:child_process';

export const TRAPS_TERM = ['sh', '-c', 'trap "echo got-term; exit 5" TERM; echo ready; while :; do sleep 0.1; done'];

/** Runs `node ...args`, sends it SIGTERM once its stdout says "ready", and collects what it wrote. */
export function sigtermWhenReady(
  args: readonly string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => {
    p.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      if (s.includes('ready')) p.kill('SIGTERM');
    });
    p.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
