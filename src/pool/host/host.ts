// Where a pool's workers run, and everything systemd about it: the two hosts behind one interface.
//
//   supervisor-host.ts  isolation 'pool' (one transient service whose supervisor forks every worker) and
//                       'none' (the same supervisor as a plain child process, no systemd)
//   slice-host.ts       isolation 'worker' (a transient slice; each worker a service of its own inside it)
//
// A host starts and signals workers, carries their frames, and reports what happens to them (HostEvents); it
// knows nothing of tasks. The pool wires HostEvents to the worker set.

import type { Socket } from 'node:net';
import type { CgroupUsage } from '../../unit/cgroup.js';
import type { UnitInfo } from '../../unit/transient.js';
import type { WorkerChannel } from '../channel/channel.js';
import type { WorkerStarter } from '../worker-set.js';

/** Resource usage of the pool's unit; fields this host cannot tell are absent. */
export interface PoolUsage extends CgroupUsage {
  /** Where each figure came from. */
  source: { dbus: string[]; cgroup: string[] };
}

/** What a host reports (the pool passes each to the worker set, or decides). */
export interface HostEvents {
  /** Worker `id` runs as `pid`; `relay`: it could not open its direct link, and is relayed from now on. */
  started(id: number, pid: number, relay?: WorkerChannel): void;
  /** Worker `id` is relayed from its start (its frames go through the supervisor). */
  relayed(id: number, channel: WorkerChannel): void;
  /** Worker `id`'s own connection arrived; false: nobody wants it (the host closes it). */
  linked(id: number, channel: WorkerChannel): boolean;
  /** A frame from worker `id` (relayed or on its connection). */
  frame(id: number, payload: Buffer): void;
  /** Worker `id` broke the framing; it is being killed. */
  fault(id: number, what: string): void;
  /** Worker `id`'s own connection closed. */
  linkClosed(id: number): void;
  /** Worker `id` ended, or could not be started (`error`); `oomKilled` when the host knows. */
  exited(id: number, exitCode: number | null, signal: string | null, error?: Error, oomKilled?: boolean): void;
  /** Console output; false when `from` had to be paused until the destination drains. */
  output(fd: 1 | 2, bytes: Uint8Array, from: Socket | undefined): boolean;
  /** The unit lost its supervisor: `why`, and whether the unit was stopped on purpose (then it must not restart). */
  unitGone(why: string, onPurpose: boolean): void;
}

export interface WorkerHost extends WorkerStarter {
  /** The pool's unit (its service, or its slice), once started. */
  readonly unit: UnitInfo | undefined;
  /** Connects to systemd, checks the options against it, and starts the unit; `initial()` names the first workers. */
  open(initial: () => number[]): Promise<void>;
  /** Starts a fresh unit after the supervisor died, unless `wanted()` says no by then. */
  relaunch(wanted: () => boolean, initial: () => number[]): Promise<void>;
  /** The unit's name, for errors (the pool attaches it). */
  readonly unitName: string | undefined;
  usage(): Promise<PoolUsage>;
  /** SIGKILL to every process of the unit at once (kill()). */
  killAll(): Promise<void>;
  /** Ends the control connection (the supervisor then exits with its workers). */
  endControl(): void;
  /** Stops the unit (every process in it) and lets go of systemd. */
  close(): Promise<void>;
}
