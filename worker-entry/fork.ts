// Forking workers, and the first ones at once: evaluated before the relay (and its codec) is even loaded, so the
// Node start-ups of the supervisor and of its workers overlap.
import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SupervisorConfig } from '../src/wire/messages.js';
import { openLink, readBoot } from './direct.js';

export const config = JSON.parse(process.argv[2] ?? '{}') as SupervisorConfig;
const workerScript = join(dirname(fileURLToPath(import.meta.url)), 'worker.js');

/**
 * Forks worker `id` with its channel on fd 3 (the pool's direct connection, or a pipe to us) and its console on
 * pipes; it inherits the unit's every restriction.
 */
export function forkWorker(id: number, direct?: Socket): ChildProcess {
  return spawn(process.execPath, [...config.workerExecArgv, workerScript], {
    stdio: ['ignore', 'pipe', 'pipe', direct ?? 'pipe'],
    env: {
      ...process.env,
      UNITPOOL_WORKER_ID: String(id),
      UNITPOOL_OOM_SCORE_ADJ: String(config.workerOomScoreAdj),
      UNITPOOL_MAX_FRAME: String(config.maxFrame),
    },
  });
}

/** A fork, or why it failed; `fellBack`: a direct link was asked for and could not be opened, so it is relayed. */
export type Forked = ({ child: ChildProcess; error?: undefined } | { child?: undefined; error: string }) & {
  fellBack?: boolean;
};

/** Workers forked before the relay took over: the initial ones, forked as soon as the pool's boot frame came. */
const early = new Map<number, Forked>();
let onFork: ((id: number, forked: Forked) => void) | undefined;

/** From now on, hand every new fork to `handler` (the relay), after the ones forked so far. */
export function takeForks(handler: (id: number, forked: Forked) => void): void {
  for (const [id, forked] of early) handler(id, forked);
  early.clear();
  onFork = handler;
}

/** Forks worker `id` (on its direct link, or relayed) and hands the fork, or why it failed, to the relay. */
export function fork(id: number, direct?: Socket, fellBack = false): void {
  let forked: Forked;
  try {
    forked = { child: forkWorker(id, direct) };
  } catch (err) {
    forked = { error: String((err as Error).message) };
  } finally {
    // The worker has its own copy of the direct connection; ours must not read a byte of it.
    direct?.destroy();
  }
  if (fellBack) forked.fellBack = true;
  if (onFork) onFork(id, forked);
  else early.set(id, forked);
}

/** Set once a link could not be opened (a path the unit cannot reach, socket(2) denied...): relay from then on. */
let linksFail = false;
const asked = new Set<number>();

/** Opens worker `id`'s direct link with `key`, then forks it on the link; relays it if the link cannot be opened. */
export function forkLinked(id: number, key: Uint8Array): void {
  if (asked.has(id)) return;
  asked.add(id);
  if (linksFail || !config.linkPath) return fork(id, undefined, true);
  openLink(config.linkPath, key, id).then(
    (socket) => fork(id, socket),
    (err: Error) => {
      if (!linksFail)
        process.stderr.write(
          `unitpool supervisor: cannot open a direct link (${err.message}); relaying every worker\n`,
        );
      linksFail = true;
      fork(id, undefined, true);
    },
  );
}

if (config.linkPath) for (const [id, key] of readBoot(config.channelFd ?? 0)) forkLinked(id, key);
else for (let i = 0; i < config.initialWorkers; i++) fork(config.firstWorkerId + i);
