// Forking workers, and the first ones at once: evaluated before the relay (and its codec) is even loaded.
import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SupervisorConfig } from '../src/wire/messages.js';

export const config = JSON.parse(process.argv[2] ?? '{}') as SupervisorConfig;
const workerScript = join(dirname(fileURLToPath(import.meta.url)), 'worker.js');

/**
 * Forks worker `id` with its channel on fd 3 (the pool's direct connection, or a pipe to us) and its console on
 * pipes; it inherits the unit's every restriction.
 */
export function forkWorker(id: number, direct?: Socket): ChildProcess {
  return spawn(process.execPath, [...config.workerExecArgv, workerScript], {
    stdio: ['ignore', 'pipe', 'pipe', direct ?? 'pipe'],
    env: { ...process.env, UNITPOOL_WORKER_ID: String(id), UNITPOOL_OOM_SCORE_ADJ: String(config.workerOomScoreAdj) },
  });
}

/** The initial workers, forked before the relay is loaded. */
export const early = new Map<number, ChildProcess>();
for (let id = 1; id <= config.initialWorkers; id++) {
  try {
    early.set(id, forkWorker(id));
  } catch {
    // The relay forks it again and reports the failure to the pool.
  }
}

