// Forking workers, and the first ones at once: evaluated before the relay (and its codec) is even loaded, so the
// Node start-ups of the supervisor and of its workers overlap.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSupervisorHello } from '../src/wire/direct.js';
import { FromSupervisor, type SupervisorConfig } from '../src/wire/messages.js';
import { listenForPool } from './direct.js';

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

/** A fork, or why it failed. */
export type Forked = { child: ChildProcess; error?: undefined } | { child?: undefined; error: string };

/** Workers forked before the relay took over: the initial relayed ones, and those the pool connected for. */
const early = new Map<number, Forked>();
let onFork: ((id: number, forked: Forked) => void) | undefined;

/** From now on, hand every new fork to `handler` (the relay), after the ones forked so far. */
export function takeForks(handler: (id: number, forked: Forked) => void): void {
  for (const [id, forked] of early) handler(id, forked);
  early.clear();
  onFork = handler;
}

/** Forks worker `id` (on a direct connection, or relayed) and hands the fork, or why it failed, to the relay. */
export function fork(id: number, direct?: Socket): void {
  let forked: Forked;
  try {
    forked = { child: forkWorker(id, direct) };
  } catch (err) {
    forked = { error: String((err as Error).message) };
  } finally {
    // The worker has its own copy of the direct connection; ours must not read a byte of it.
    direct?.destroy();
  }
  if (onFork) onFork(id, forked);
  else early.set(id, forked);
}

const asked = new Set<number>();
/** The token of direct connections, if the supervisor listens for them (its Hello is on its way then). */
export const directToken = config.directDir
  ? listenForPool(config.directDir, (id, channel) => {
      if (asked.has(id)) return void channel.destroy();
      asked.add(id);
      fork(id, channel);
    })
  : undefined;
// Said at once, by hand (the codec is not loaded yet), so the pool connects for the first workers now.
if (directToken) writeSync(config.channelFd ?? 0, encodeSupervisorHello(FromSupervisor.Hello, process.pid, directToken));

for (let id = 1; id <= config.initialWorkers; id++) fork(id);
