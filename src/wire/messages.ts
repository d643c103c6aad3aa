// The messages of the unitpool protocol. Every message is a msgpack array whose first element is its op code,
// carried in one frame (see frame.ts). Channel 0 is the supervisor's control channel; channel k >= 1 is worker k,
// relayed by the supervisor without decoding, or carried on worker k's own direct connection (see direct.ts).

/** Pool -> worker. */
export const ToWorker = {
  /** [op, fnKey, 'source', sourceText] or [op, fnKey, 'module', moduleUrl, exportName]: compile or import once. */
  Define: 1,
  /** [op, taskId, fnKey, args]: call fn(...args). */
  Call: 2,
  /** [op, taskId, fnKey, items]: call fn(item) for each item; one result array. */
  CallChunk: 3,
  /** [op, fnKey, args]: run the initializer before any task. */
  Init: 4,
  /** [op]: finish the current task, then exit(0). */
  Exit: 5,
} as const;

/** Worker -> pool. */
export const FromWorker = {
  /** [op, taskId, value] */
  Result: 1,
  /** [op, taskId, error] */
  Error: 2,
  /** [op, error]: the initializer threw. */
  InitError: 3,
  /** [op]: the worker is up and reading its channel (a direct channel takes tasks only after this). */
  Ready: 4,
} as const;

/** Pool -> supervisor (channel 0). */
export const ToSupervisor = {
  /** [op, workerId]: fork a worker. */
  Spawn: 1,
  /** [op, workerId, signalName]: signal a worker. */
  Kill: 2,
} as const;

/** Supervisor -> pool (channel 0). */
export const FromSupervisor = {
  /**
   * [op, supervisorPid, token | null]: the token (32 bytes) admits the pool's direct connections to the socket in
   * the unit's runtime directory; null when the supervisor could not listen there (workers are relayed).
   */
  Hello: 1,
  /** [op, workerId, pid] */
  Spawned: 2,
  /** [op, workerId, exitCode | null, signalName | null] — sent after every frame of that worker was relayed. */
  Exited: 3,
  /** [op, workerId, fd (1|2), bytes]: complete lines of a worker's console output. */
  Output: 4,
  /** [op, workerId, message]: the worker could not be started at all. */
  SpawnFailed: 5,
  /** [op, workerId, message]: the worker broke the framing (oversized or cut frame); it is being killed. */
  WorkerFault: 6,
} as const;

/** The configuration the supervisor receives on its command line (JSON). */
export interface SupervisorConfig {
  /** Workers to fork at once, with ids 1..initialWorkers. */
  initialWorkers: number;
  /** Largest frame the supervisor accepts from a worker before killing it. */
  maxFrame: number;
  /** How much each worker raises its oom_score_adj over the supervisor's, so the OOM killer picks workers first. */
  workerOomScoreAdj: number;
  /** The fd of the channel to the pool: 0 (stdin, connected by systemd; the default) or 3 (isolation: 'none'). */
  channelFd?: number;
  /**
   * The name of the unit's RuntimeDirectory= the supervisor listens in for the pool's direct connections, one per
   * worker (see worker-entry/direct.ts); absent: every worker is relayed.
   */
  directDir?: string;
  /** Extra node flags for workers (e.g. --max-old-space-size). */
  workerExecArgv: string[];
}
