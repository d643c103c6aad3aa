// Every error unitpool raises is a class under UnitPoolError, with fields a program can act on and a `cause`
// chain. `code` is stable and greppable: 'ERR_UNITPOOL_' + the class's subject in capitals (docs/errors.md lists
// them all); `unit` names the pool's transient unit where there is one. `name` is set on each class's prototype
// by named(), from a string literal, so that it survives minifiers that rename classes (constructor.name would not).
// This module owns the classes of the core (pool, unit, wire, CLI); src/cluster/errors.ts and src/sandbox/errors.ts
// add their own, under the same base.

export interface UnitPoolErrorOptions {
  cause?: unknown;
  unit?: string | undefined;
}

/**
 * Sets `name` on an error class's prototype (not enumerable, like Error.prototype.name). Called from each class's
 * static block with the class's name as a literal, so it is right even when a minifier renamed the class.
 */
export function named(Class: { prototype: Error }, name: string): void {
  Object.defineProperty(Class.prototype, 'name', {
    value: name,
    writable: true,
    enumerable: false,
    configurable: true,
  });
}

/**
 * Base class of every error raised by unitpool itself (not of errors thrown by your tasks).
 * `code` is `ERR_UNITPOOL` for a failure of the host no subclass describes (e.g. a user database that cannot be read).
 */
export class UnitPoolError extends Error {
  static {
    named(this, 'UnitPoolError');
  }
  /** A stable machine-readable code, e.g. `ERR_UNITPOOL_OPTION`: compare it rather than the message. */
  readonly code: string = 'ERR_UNITPOOL';
  /** The pool's transient unit, e.g. `unitpool-1a2b3c.service`, when one exists. */
  readonly unit: string | undefined;

  constructor(message: string, options: UnitPoolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.unit = options.unit;
  }
}

export interface OptionErrorOptions extends UnitPoolErrorOptions {
  /** The whole message, when the default `option: problem (got value); expected ...` reads worse. */
  message?: string;
}

/**
 * A pool option, an argument of a call or a systemd property is wrong: unknown name, wrong type, malformed value.
 * Code `ERR_UNITPOOL_OPTION`. Not a TypeError: test `instanceof OptionError` or `code`.
 */
export class OptionError extends UnitPoolError {
  static {
    named(this, 'OptionError');
  }
  override readonly code = 'ERR_UNITPOOL_OPTION';
  /** The option's path as the user wrote it, e.g. `properties.MemoryMax`. */
  readonly option: string;
  /** The value that was refused. */
  readonly value: unknown;
  /** What would be accepted, e.g. `'512M', '1.5G', 536870912 or 'infinity'`. */
  readonly expected: string;

  constructor(option: string, value: unknown, problem: string, expected: string, options: OptionErrorOptions = {}) {
    super(options.message ?? `${option}: ${problem} (got ${describe(value)}); expected ${expected}`, options);
    this.option = option;
    this.value = value;
    this.expected = expected;
  }
}

/** The host cannot enforce a requested property (and it was not marked best-effort). Code `ERR_UNITPOOL_CAPABILITY`. */
export class CapabilityError extends UnitPoolError {
  static {
    named(this, 'CapabilityError');
  }
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

/** No systemd could be reached over D-Bus (or it refused us). Code `ERR_UNITPOOL_NO_SYSTEMD`. */
export class SystemdUnavailableError extends UnitPoolError {
  static {
    named(this, 'SystemdUnavailableError');
  }
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

/** systemd refused to create the pool's unit, or the unit failed while starting. Code `ERR_UNITPOOL_UNIT_START`. */
export class UnitStartError extends UnitPoolError {
  static {
    named(this, 'UnitStartError');
  }
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
export type ExitReason =
  /** It exited by itself (exitCode is set). */
  | 'exit'
  /** A signal killed it (signal is set), other than an OOM kill. */
  | 'signal'
  /** The kernel's OOM killer killed it: the unit's memory limit was reached. */
  | 'oom-kill'
  /** The unit's supervisor (the worker's parent) died, and its workers with it. */
  | 'supervisor-exit';

/** The worker running a task died before the task finished. Code `ERR_UNITPOOL_WORKER_EXITED`. */
export class WorkerExitedError extends UnitPoolError {
  static {
    named(this, 'WorkerExitedError');
  }
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

/**
 * The pool can no longer run tasks: a worker died under onWorkerExit: 'break', the unit died, or an initializer threw.
 * Code `ERR_UNITPOOL_BROKEN`.
 */
export class BrokenPoolError extends UnitPoolError {
  static {
    named(this, 'BrokenPoolError');
  }
  override readonly code = 'ERR_UNITPOOL_BROKEN';
}

/** submit() after shutdown() began. Code `ERR_UNITPOOL_CLOSED`. */
export class PoolClosedError extends UnitPoolError {
  static {
    named(this, 'PoolClosedError');
  }
  override readonly code = 'ERR_UNITPOOL_CLOSED';
}

/** A task ran longer than its `timeout`. Code `ERR_UNITPOOL_TIMEOUT`. */
export class TaskTimeoutError extends UnitPoolError {
  static {
    named(this, 'TaskTimeoutError');
  }
  override readonly code = 'ERR_UNITPOOL_TIMEOUT';
  readonly timeout: number;

  constructor(timeout: number, options: UnitPoolErrorOptions = {}) {
    super(`task did not finish within its timeout of ${timeout} ms`, options);
    this.timeout = timeout;
  }
}

/** The pool's queue is full (maxQueue) and queueMode is 'reject'. Code `ERR_UNITPOOL_QUEUE_FULL`. */
export class QueueFullError extends UnitPoolError {
  static {
    named(this, 'QueueFullError');
  }
  override readonly code = 'ERR_UNITPOOL_QUEUE_FULL';
  readonly maxQueue: number;

  constructor(maxQueue: number, options: UnitPoolErrorOptions = {}) {
    super(
      `the pool already has ${maxQueue} pending tasks (maxQueue); wait for some to finish or use queueMode: 'wait'`,
      options,
    );
    this.maxQueue = maxQueue;
  }
}

/** The unit sent bytes that break the protocol; the offending worker was killed. Code `ERR_UNITPOOL_PROTOCOL`. */
export class ProtocolError extends UnitPoolError {
  static {
    named(this, 'ProtocolError');
  }
  override readonly code = 'ERR_UNITPOOL_PROTOCOL';
}

/**
 * A value cannot be sent to a worker (a function, a symbol, a class instance...). Code `ERR_UNITPOOL_SERIALIZE`.
 * It used to extend TypeError; like every error of unitpool it is a UnitPoolError now (test its class or `code`).
 */
export class SerializationError extends UnitPoolError {
  static {
    named(this, 'SerializationError');
  }
  override readonly code = 'ERR_UNITPOOL_SERIALIZE';
  /** Where in the value the problem is, e.g. `args[1].handler` or `result.rows[3]`. */
  readonly path: string;
  /** Which way it could not go: the task's input to a worker, or what the task sent back from it. */
  readonly direction: 'to-worker' | 'from-worker';

  constructor(path: string, problem: string, options: UnitPoolErrorOptions = {}) {
    const fromWorker = /^(result|item|progress)\b/.test(path);
    super(
      `${path} cannot be sent ${fromWorker ? 'from the worker back to the pool' : 'to a worker'}: ${problem}`,
      options,
    );
    this.path = path;
    this.direction = fromWorker ? 'from-worker' : 'to-worker';
  }
}

/**
 * What a task sent back is larger than the pool accepts (`maxFrame`): its task rejects with this, and the worker
 * and the pool go on. Code `ERR_UNITPOOL_TOO_LARGE`.
 */
export class ResultTooLargeError extends UnitPoolError {
  static {
    named(this, 'ResultTooLargeError');
  }
  override readonly code = 'ERR_UNITPOOL_TOO_LARGE';
  /** What was too large: the task's result, a value a stream yielded, or a progress report. */
  readonly what: 'result' | 'item' | 'progress';
  /** Its size encoded, in bytes. */
  readonly size: number;
  /** The pool's limit, in bytes. */
  readonly maxFrame: number;

  constructor(
    what: 'result' | 'item' | 'progress',
    size: number,
    maxFrame: number,
    options: UnitPoolErrorOptions = {},
  ) {
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    const name =
      what === 'item' ? 'a value the stream yielded' : what === 'progress' ? 'a progress report' : 'the result';
    super(
      `${name} is ${mib(size)} encoded, more than the pool's maxFrame of ${mib(maxFrame)}: raise maxFrame in the pool's ` +
        `options, or send less (pool.stream() to send it in parts, or a file the caller reads)`,
      options,
    );
    this.what = what;
    this.size = size;
    this.maxFrame = maxFrame;
  }
}

/**
 * A command line is wrong: an unknown flag, a missing value, no command. Code `ERR_UNITPOOL_USAGE`. The message
 * names the problem and the fix; the CLI prints it with the command's usage and exits with status 2.
 */
export class UsageError extends UnitPoolError {
  static {
    named(this, 'UsageError');
  }
  override readonly code = 'ERR_UNITPOOL_USAGE';
}

/**
 * systemd (or the bus daemon) answered a D-Bus call with an error, did not answer in time, or the connection
 * closed. Code `ERR_UNITPOOL_DBUS`. `dbusName` is the D-Bus error name, e.g. `org.freedesktop.systemd1.NoSuchUnit`,
 * `org.freedesktop.DBus.Error.Timeout`, or `org.freedesktop.DBus.Error.Disconnected` for a closed connection.
 */
export class DBusCallError extends UnitPoolError {
  static {
    named(this, 'DBusCallError');
  }
  override readonly code = 'ERR_UNITPOOL_DBUS';
  /** The method (or signal) that was waited for, e.g. `StartTransientUnit`. */
  readonly member: string;
  readonly dbusName: string;

  constructor(member: string, dbusName: string, detail: string, options: UnitPoolErrorOptions = {}) {
    super(`${member}: ${dbusName}: ${detail}`, options);
    this.member = member;
    this.dbusName = dbusName;
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
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  const ctor = proto?.constructor?.name;
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json.length > 80 ? json.slice(0, 77) + '...' : json;
  } catch {
    /* fall through */
  }
  return ctor ? `a ${ctor}` : 'an object';
}

/**
 * Names the pool's unit on an error of ours that names none yet. The pool calls it where its errors leave it
 * (a task settles, the pool breaks), so nothing below it passes the unit's name by hand.
 */
export function attachUnit<E>(err: E, unit: string | undefined): E {
  if (unit !== undefined && err instanceof UnitPoolError && err.unit === undefined)
    (err as { unit: string | undefined }).unit = unit;
  return err;
}
