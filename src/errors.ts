// Every error unitpool raises is a class with fields a program can act on, and a `cause` chain.
// `code` is stable and greppable; `unit` names the pool's transient unit where there is one.

export interface UnitPoolErrorOptions {
  cause?: unknown;
  unit?: string | undefined;
}

/** Base class of every error raised by unitpool itself (not of errors thrown by your tasks). */
export class UnitPoolError extends Error {
  /** A stable machine-readable code, e.g. `ERR_UNITPOOL_OPTION`. */
  readonly code: string = 'ERR_UNITPOOL';
  /** The pool's transient unit, e.g. `unitpool-1a2b3c.service`, when one exists. */
  readonly unit: string | undefined;

  constructor(message: string, options: UnitPoolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.unit = options.unit;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/** A pool option or a systemd property is wrong: unknown name, wrong type, malformed value. */
export class OptionError extends UnitPoolError {
  override readonly code = 'ERR_UNITPOOL_OPTION';
  /** The option's path as the user wrote it, e.g. `properties.MemoryMax`. */
  readonly option: string;
  /** The value that was refused. */
  readonly value: unknown;
  /** What would be accepted, e.g. `'512M', '1.5G', 536870912 or 'infinity'`. */
  readonly expected: string;

  constructor(option: string, value: unknown, problem: string, expected: string, options: UnitPoolErrorOptions = {}) {
    super(`${option}: ${problem} (got ${describe(value)}); expected ${expected}`, options);
    this.option = option;
    this.value = value;
    this.expected = expected;
  }
}

/** The host cannot enforce a requested property (and it was not marked best-effort). */
export class CapabilityError extends UnitPoolError {
  override readonly code = 'ERR_UNITPOOL_CAPABILITY';
  readonly property: string;
  readonly reason: string;

  constructor(property: string, reason: string, options: UnitPoolErrorOptions = {}) {
    super(
      `${property} cannot be enforced on this host: ${reason}. ` +
        `Remove it, or list it in bestEffort: ['${property}'] to run without it.`,
      options,
    );
    this.property = property;
    this.reason = reason;
  }
}

/** No systemd could be reached over D-Bus (or it refused us). */
export class SystemdUnavailableError extends UnitPoolError {
  override readonly code = 'ERR_UNITPOOL_NO_SYSTEMD';
  /** The bus address that was tried. */
  readonly address: string;

  constructor(address: string, detail: string, options: UnitPoolErrorOptions & { fix?: string } = {}) {
    super(
      `cannot reach systemd at ${address}: ${detail}. ` +
        (options.fix ??
          `Run on a host where systemd is PID 1, inside \`npx unitpool sandbox -- <command>\`, ` +
            `or pass isolation: 'none' to run plain child processes without confinement.`),
      options,
    );
    this.address = address;
  }
}

/** systemd refused to create the pool's unit, or the unit failed while starting. */
export class UnitStartError extends UnitPoolError {
  override readonly code = 'ERR_UNITPOOL_UNIT_START';
  /** The job result (`failed`, `dependency`, ...) or the D-Bus error name. */
  readonly result: string;
  /** What the unit's main process printed before it failed, if anything. */
  readonly output: string;

  constructor(message: string, result: string, output: string, options: UnitPoolErrorOptions = {}) {
    super(output ? `${message}\n--- output of the unit ---\n${output.trimEnd()}` : message, options);
    this.result = result;
    this.output = output;
  }
}

/** Why a worker went away. */
export type ExitReason = 'exit' | 'signal' | 'oom-kill' | 'timeout' | 'unit-stopped' | 'protocol' | 'supervisor-exit';

/** The worker running a task died before the task finished. */
export class WorkerExitedError extends UnitPoolError {
  override readonly code = 'ERR_UNITPOOL_WORKER_EXITED';
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly reason: ExitReason;
  /** The worker's pid as seen inside the unit. */
  readonly pid: number | undefined;

  constructor(
    fields: { exitCode: number | null; signal: string | null; reason: ExitReason; pid?: number | undefined },
    options: UnitPoolErrorOptions = {},
  ) {
    const how =
      fields.reason === 'oom-kill'
        ? `was killed by the kernel's OOM killer (memory limit of the unit reached)`
        : fields.reason === 'supervisor-exit'
          ? `went down with the unit's supervisor`
          : fields.signal
          ? `was killed by ${fields.signal}`
          : `exited with code ${fields.exitCode}`;
    super(`worker ${fields.pid ?? '?'} ${how} while running a task`, options);
    this.exitCode = fields.exitCode;
    this.signal = fields.signal;
    this.reason = fields.reason;
    this.pid = fields.pid;
  }
}

/** The pool can no longer run tasks: a worker died under onWorkerExit: 'break', the unit died, or an initializer threw. */
export class BrokenPoolError extends UnitPoolError {
  override readonly code = 'ERR_UNITPOOL_BROKEN';
}

/** submit() after shutdown() began. */
export class PoolClosedError extends UnitPoolError {
  override readonly code = 'ERR_UNITPOOL_CLOSED';
}

/** A task ran longer than its `timeout`. */
export class TaskTimeoutError extends UnitPoolError {
  override readonly code = 'ERR_UNITPOOL_TIMEOUT';
  readonly timeout: number;

  constructor(timeout: number, options: UnitPoolErrorOptions = {}) {
    super(`task did not finish within its timeout of ${timeout} ms`, options);
    this.timeout = timeout;
  }
}

/** The pool's queue is full (maxQueue) and queueMode is 'reject'. */
export class QueueFullError extends UnitPoolError {
  override readonly code = 'ERR_UNITPOOL_QUEUE_FULL';
  readonly maxQueue: number;

  constructor(maxQueue: number, options: UnitPoolErrorOptions = {}) {
    super(`the pool already has ${maxQueue} pending tasks (maxQueue); wait for some to finish or use queueMode: 'wait'`, options);
    this.maxQueue = maxQueue;
  }
}

/** The unit sent bytes that break the protocol; the offending worker was killed. */
export class ProtocolError extends UnitPoolError {
  override readonly code = 'ERR_UNITPOOL_PROTOCOL';
}

/** A value cannot be sent to a worker (a function, a symbol, a class instance...). */
export class SerializationError extends TypeError {
  readonly code = 'ERR_UNITPOOL_SERIALIZE';
  /** Where in the value the problem is, e.g. `args[1].handler`. */
  readonly path: string;

  constructor(path: string, problem: string, options: { cause?: unknown } = {}) {
    super(`${path} cannot be sent to a worker: ${problem}`, options);
    this.path = path;
  }

  override get name(): string {
    return 'SerializationError';
  }
}

/** Short, safe rendering of a value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 77) + '...' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value === 'symbol') return value.toString();
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `array of ${value.length}`;
  const ctor = Object.getPrototypeOf(value)?.constructor?.name;
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json.length > 80 ? json.slice(0, 77) + '...' : json;
  } catch {
    /* fall through */
  }
  return ctor ? `a ${ctor}` : 'an object';
}

/** A call that cannot be made in this state or this mode (usage() with isolation: 'none', ...). */
export class UsageError extends UnitPoolError {
  override readonly code = 'ERR_UNITPOOL_USAGE';
}

/**
 * Names the pool's unit on an error of ours that names none yet. The pool calls it where its errors leave it
 * (a task settles, the pool breaks), so nothing below it passes the unit's name by hand.
 */
export function attachUnit<E>(err: E, unit: string | undefined): E {
  if (unit !== undefined && err instanceof UnitPoolError && err.unit === undefined) (err as { unit: string | undefined }).unit = unit;
  return err;
}
