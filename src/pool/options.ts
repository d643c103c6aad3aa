// The pool's options: their types (documented here, once) and their checks. Everything is checked in the
// constructor, synchronously: a wrong option throws there, naming the option and the fix.

import { availableParallelism } from 'node:os';
import type { Writable } from 'node:stream';
import { OptionError } from '../errors.js';
import type { UnitOptions } from '../properties/index.js';
import type { BusChoice } from '../unit/bus.js';
import type { TaskFunction } from './functions.js';
import type { MapProgress } from './map.js';
import type { WorkerState } from './worker.js';

export interface UnitPoolOptions extends UnitOptions {
  /** Worker processes; default: the CPUs available to the unit (CPUQuota and AllowedCPUs count). */
  maxWorkers?: number;
  /** Which systemd: 'system' (default), 'user', or { address } of a D-Bus socket. */
  bus?: BusChoice;
  /**
   * Where the workers run. 'pool' (the default; 'systemd' is the same): one transient unit for the pool, whose
   * supervisor forks every worker: all its tasks share the unit's uid, namespaces and /tmp. 'worker' (the default
   * with the untrusted preset): the pool is a transient slice that carries CPUQuota, MemoryMax, TasksMax and the IO
   * limits, and every worker is a unit of its own inside it with the other properties (its own uid with
   * DynamicUser=, its own /tmp): no task can read, signal or reach another. 'none': plain child processes with the
   * same API (timeouts and crash handling only), for development machines without systemd; no properties then.
   */
  isolation?: 'pool' | 'worker' | 'systemd' | 'none';
  /** Largest frame accepted from the unit, in bytes (default 64 MiB). */
  maxFrame?: number;
  /**
   * Errors thrown in workers also show where their task was submitted (a "submitted from" part of the stack).
   * Off by default: capturing a stack per task costs about a quarter of the throughput of tiny tasks.
   */
  callSites?: boolean;
  /** Where workers' console output goes (default: this process's stdout / stderr). */
  stdout?: Writable;
  stderr?: Writable;
  /** What a worker's death does to the pool: start a new worker (default), or break the pool like Python does. */
  onWorkerExit?: 'replace' | 'break';
  /** Runs once in every new worker before its first task; if it throws, the pool breaks with that error as cause. */
  initializer?: TaskFunction;
  initArgs?: unknown[];
  /** A worker exits after this many tasks and a fresh one takes its place (no task is lost). */
  maxTasksPerWorker?: number;
  /**
   * Every task runs in a worker process that ran nothing before (nothing an earlier task patched, stored or
   * started survives into it): each worker exits after one task, and `maxWorkers` fresh workers are kept started
   * and waiting, so a task does not wait for a process to start while one is warm. With isolation: 'worker' each
   * task also gets a fresh unit: its own /tmp and, with DynamicUser=, its own uid.
   */
  fresh?: boolean;
  /** Idle workers exit after this many ms, and are forked again when work comes. */
  idleTimeout?: number;
  /** At most this many tasks wait in the queue; beyond it submit() rejects with QueueFullError, or waits. */
  maxQueue?: number;
  queueMode?: 'reject' | 'wait';
  /** How long creating the unit may take, in ms (default 30 s). */
  startTimeout?: number;
}

/** What every task takes: submit()'s, map()'s (per chunk) and stream()'s options. */
export interface TaskOptions {
  /** Reject with TaskTimeoutError after this many ms (counted from submit); a running task's worker is killed. */
  timeout?: number | undefined;
  /** Abort: a queued task is removed, a running task's worker is killed; rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

export interface SubmitOptions extends TaskOptions {
  /**
   * Receives every value the task reports with `progress(value)` (from 'unitpool/worker'), in order, before the
   * result. If it throws, the task rejects with that error.
   */
  onProgress?: ((value: unknown) => void) | undefined;
}

export interface StreamOptions extends SubmitOptions {
  /** Values the worker may send ahead of the loop that consumes them (default 16). */
  window?: number | undefined;
}

export interface MapOptions extends TaskOptions {
  /** Items per task (default 1). Larger chunks amortize the per-task cost for small items. */
  chunksize?: number;
  /** Called as results arrive: items done, the total when `items` has a length or size, and items per second. */
  onProgress?: (progress: MapProgress) => void;
  /**
   * false: results come as their chunks complete (Python's as_completed / imap_unordered), not in input order; a
   * chunk's items stay together and in order. Default true.
   */
  ordered?: boolean;
}

export interface ShutdownOptions {
  /** Wait for running and queued tasks to finish and for the unit to stop (default true). */
  wait?: boolean;
  /** Reject queued tasks that have not started yet (default false). */
  cancelPending?: boolean;
}

/** pool.stats(): counters of the pool right now. */
export interface PoolStats {
  queued: number;
  running: number;
  done: number;
  failed: number;
  workers: {
    id: number;
    pid: number | undefined;
    state: WorkerState;
    tasks: number;
    /** How its frames travel: on its own connection from the pool, or relayed by the unit's supervisor. */
    channel: 'direct' | 'relay' | 'pending';
  }[];
}

export type Isolation = 'pool' | 'worker' | 'none';

/** isolation: as given ('systemd' is the old name of 'pool'); by default 'worker' for the untrusted preset. */
export function resolveIsolation(o: UnitPoolOptions): Isolation {
  checkIsolation(o);
  if (o.isolation === 'none' || o.isolation === 'worker') return o.isolation;
  if (o.isolation === 'pool' || o.isolation === 'systemd') return 'pool';
  const presets: unknown[] = Array.isArray(o.preset) ? o.preset : [o.preset];
  return presets.includes('untrusted') ? 'worker' : 'pool';
}

export function resolveMaxWorkers(requested: number | undefined, unitCpus: number | undefined): number {
  if (requested !== undefined) return requested;
  return Math.max(1, Math.min(availableParallelism(), unitCpus ?? Infinity));
}

/** isolation: 'none' confines nothing, so asking for confinement with it is an error, never silently dropped. */
function checkIsolation(o: UnitPoolOptions): void {
  if (o.isolation !== 'none') return;
  for (const key of ['properties', 'preset', 'raw', 'bestEffort', 'bus'] as const) {
    if (o[key] !== undefined) {
      throw new OptionError(
        key,
        o[key],
        `isolation: 'none' runs plain child processes, which cannot enforce ${key}`,
        `no ${key} with isolation: 'none'; or drop isolation: 'none' and run under systemd (\`npx unitpool sandbox -- <command>\` where systemd is not PID 1)`,
      );
    }
  }
  if (o.env !== undefined && o.env !== 'inherit') {
    throw new OptionError(
      'env',
      o.env,
      `isolation: 'none' workers inherit this process's environment`,
      `env: 'inherit' or no env`,
    );
  }
}

/** Options that go together (each one's own form is checked by the schema in src/options/pool.ts first). */
export function checkPoolOptions(o: UnitPoolOptions): void {
  if (o.fresh && o.maxTasksPerWorker !== undefined && o.maxTasksPerWorker !== 1) {
    throw new OptionError(
      'maxTasksPerWorker',
      o.maxTasksPerWorker,
      'with fresh: true every worker runs exactly one task',
      'no maxTasksPerWorker with fresh: true',
    );
  }
}
