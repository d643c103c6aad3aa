// The errors of unitpool/cluster, and how errors that crossed the queue become classes again.
//
// An agent encodes a task's failure with the project's codec, which keeps name, message, stack, `cause` and own
// fields, but revives only JavaScript's built-in classes. reviveRemoteError() gives unitpool's own classes
// (WorkerExitedError, TaskTimeoutError, ...) and this module's back their prototype, so `instanceof` works on
// the caller's side as on one machine, and adds `host`: the agent that ran the task. Classes are found by the
// `name` on their prototype (set by named()), which a minifier leaves alone.

import {
  BrokenPoolError,
  CapabilityError,
  DBusCallError,
  named,
  OptionError,
  PoolClosedError,
  ProtocolError,
  QueueFullError,
  ResultTooLargeError,
  SerializationError,
  SystemdUnavailableError,
  TaskTimeoutError,
  UnitPoolError,
  type UnitPoolErrorOptions,
  UnitStartError,
  UsageError,
  WorkerExitedError,
} from '../errors.js';

/**
 * A job's encoded payload (arguments, or a result) is larger than the queue's limit.
 * Code `ERR_UNITPOOL_PAYLOAD_TOO_LARGE`.
 */
export class PayloadTooLargeError extends UnitPoolError {
  static {
    named(this, 'PayloadTooLargeError');
  }
  override readonly code = 'ERR_UNITPOOL_PAYLOAD_TOO_LARGE';
  /** Which payload: `args`, `items`, `result`. */
  readonly what: string;
  readonly size: number;
  readonly limit: number;

  constructor(what: string, size: number, limit: number, options: UnitPoolErrorOptions = {}) {
    super(
      `${what} encode to ${size} bytes, more than the cluster's maxPayload of ${limit} bytes; ` +
        `send a smaller value (e.g. a path or key the task can read), or raise maxPayload on the clients and agents`,
      options,
    );
    this.what = what;
    this.size = size;
    this.limit = limit;
  }
}

/**
 * The agent refuses a function sent as source text: it was not started with --allow-source (allowSource).
 * Code `ERR_UNITPOOL_SOURCE_REFUSED`.
 */
export class SourceRefusedError extends UnitPoolError {
  static {
    named(this, 'SourceRefusedError');
  }
  override readonly code = 'ERR_UNITPOOL_SOURCE_REFUSED';
  /** The agent that refused it. */
  readonly host: string;

  constructor(host: string, options: UnitPoolErrorOptions = {}) {
    super(
      `agent ${host} refuses functions sent as source text (it was not started with --allow-source): ` +
        `send a module reference { module: 'file.mjs', name: 'export' } that resolves in its --modules directory`,
      options,
    );
    this.host = host;
  }
}

/**
 * A module reference names nothing the agent may run: outside its --modules directory, missing, or none given.
 * Code `ERR_UNITPOOL_MODULE_REFUSED`.
 */
export class ModuleRefusedError extends UnitPoolError {
  static {
    named(this, 'ModuleRefusedError');
  }
  override readonly code = 'ERR_UNITPOOL_MODULE_REFUSED';
  /** The module as the job named it. */
  readonly module: string;
  readonly reason: string;

  constructor(module: string, reason: string, options: UnitPoolErrorOptions = {}) {
    super(
      `module ${JSON.stringify(module.length > 120 ? module.slice(0, 117) + '...' : module)} refused: ${reason}`,
      options,
    );
    this.module = module;
    this.reason = reason;
  }
}

/**
 * A job (or a job's outcome) read from the queue is not what a unitpool client or agent writes.
 * Code `ERR_UNITPOOL_MALFORMED_JOB`.
 */
export class MalformedJobError extends UnitPoolError {
  static {
    named(this, 'MalformedJobError');
  }
  override readonly code = 'ERR_UNITPOOL_MALFORMED_JOB';
  /** The BullMQ job id. */
  readonly jobId: string | undefined;

  constructor(jobId: string | undefined, problem: string, options: UnitPoolErrorOptions = {}) {
    super(`job ${jobId ?? '?'}: ${problem}`, options);
    this.jobId = jobId;
  }
}

/**
 * BullMQ failed the job without an outcome from an agent: it stalled more often than maxStalledCount (its agents
 * died or lost Redis while running it), ran out of attempts, or was removed from the queue.
 * Code `ERR_UNITPOOL_JOB_FAILED`.
 */
export class JobFailedError extends UnitPoolError {
  static {
    named(this, 'JobFailedError');
  }
  override readonly code = 'ERR_UNITPOOL_JOB_FAILED';
  readonly jobId: string;
  /** BullMQ's failedReason. */
  readonly failedReason: string;

  constructor(jobId: string, failedReason: string, options: UnitPoolErrorOptions = {}) {
    super(`job ${jobId} failed in the queue: ${failedReason}`, options);
    this.jobId = jobId;
    this.failedReason = failedReason;
  }
}

/** The fields every error from a remote task carries on the caller's side. */
export interface RemoteErrorFields {
  /** The agent that ran the task (its --name, by default its hostname). */
  host: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const CLASSES = new Map<string, { prototype: any }>(
  [
    UnitPoolError,
    OptionError,
    CapabilityError,
    SystemdUnavailableError,
    UnitStartError,
    WorkerExitedError,
    BrokenPoolError,
    PoolClosedError,
    TaskTimeoutError,
    QueueFullError,
    ProtocolError,
    SerializationError,
    ResultTooLargeError,
    UsageError,
    DBusCallError,
    PayloadTooLargeError,
    SourceRefusedError,
    ModuleRefusedError,
    MalformedJobError,
    JobFailedError,
  ].map((c) => [c.prototype.name, c]),
);

/** The error as the caller sees it: unitpool's classes by name, and `host` set. Non-errors are wrapped. */
export function reviveRemoteError(value: unknown, host: string): Error & RemoteErrorFields {
  let error: Error;
  if (value instanceof Error) {
    const Class = CLASSES.get(value.name);
    error = Class ? rebase(value, Class.prototype as object) : value;
  } else {
    error = new Error(`the task threw a non-error value: ${String(value)}`, { cause: value });
  }
  Object.defineProperty(error, 'host', { value: host, writable: true, enumerable: true, configurable: true });
  return error as Error & RemoteErrorFields;
}

/** A copy of a decoded error on another prototype, with its message, stack, cause and fields. */
function rebase(decoded: Error, prototype: object): Error {
  const error = Object.create(prototype) as Error;
  const hidden = { writable: true, enumerable: false, configurable: true };
  Object.defineProperty(error, 'message', { ...hidden, value: decoded.message });
  Object.defineProperty(error, 'stack', { ...hidden, value: decoded.stack });
  if (Object.prototype.hasOwnProperty.call(decoded, 'cause'))
    Object.defineProperty(error, 'cause', { ...hidden, value: decoded.cause });
  for (const key of Object.keys(decoded)) {
    Object.defineProperty(error, key, {
      value: (decoded as unknown as Record<string, unknown>)[key],
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  return error;
}
