// One systemd transient service: create it with StartTransientUnit, wait for its start job the race-free way
// (as systemd-run does: match JobRemoved before the call, then filter on the returned job path), read it back,
// stop it, kill it.

import { DBusCallError, UnitStartError } from '../errors.js';
import {
  MANAGER_IFACE,
  MANAGER_PATH,
  SERVICE_IFACE,
  SLICE_IFACE,
  SYSTEMD,
  type SystemdBus,
  UNIT_IFACE,
  Variant,
} from './bus.js';

/** A property as sent to StartTransientUnit: D-Bus name, signature, value in dbus-next's JS form. */
export type DBusProperty = readonly [name: string, signature: string, value: unknown];

/** What a pool exposes as `pool.unit`. */
export interface UnitInfo {
  /** e.g. `unitpool-3f2a9c.service` */
  readonly name: string;
  /** D-Bus object path, e.g. `/org/freedesktop/systemd1/unit/unitpool_2d3f2a9c_2eservice` */
  readonly objectPath: string;
  /** PID of the unit's main process (the supervisor), as the host sees it. */
  readonly mainPid: number;
  /** The unit's control group, e.g. `/system.slice/unitpool-3f2a9c.service` */
  readonly controlGroup: string;
}

export type JobResult = 'done' | 'canceled' | 'timeout' | 'failed' | 'dependency' | 'skipped';

const JOB_REMOVED_RULE = `type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER_IFACE}',member='JobRemoved'`;

/**
 * Calls `start` (which returns a job object path) and resolves with the job's result once systemd removes the job.
 * The JobRemoved match is in place before the call, so a fast job cannot be missed.
 */
export async function runJob(bus: SystemdBus, start: () => Promise<string>, timeoutMs = 30_000): Promise<JobResult> {
  return (await submitJob(bus, start, timeoutMs)).done;
}

/**
 * runJob in two steps: resolves once `start` returned the job (systemd has queued it: a unit it creates exists now),
 * with `done`, its result once systemd removes the job.
 */
export async function submitJob(
  bus: SystemdBus,
  start: () => Promise<string>,
  timeoutMs = 30_000,
): Promise<{ done: Promise<JobResult> }> {
  // Not awaited before the call: the bus daemon handles our messages in order, so the match is in place before
  // systemd even sees the call (one round trip less); its failure still fails the start.
  const match = ensureJobMatch(bus);
  const seen = new Map<string, JobResult>();
  let wanted: string | undefined;
  let settle: ((r: JobResult) => void) | undefined;
  const off = bus.onSignal((msg) => {
    if (msg.member !== 'JobRemoved' || msg.interface !== MANAGER_IFACE) return;
    const [, job, , result] = msg.body as [number, string, string, JobResult];
    if (wanted === undefined) seen.set(job, result);
    else if (job === wanted) settle?.(result);
  });
  let job: string;
  try {
    [job] = await Promise.all([start(), match]);
  } catch (err) {
    off();
    throw err;
  }
  const done = waitJob(job);
  done.then(off, off);
  return { done };

  async function waitJob(job: string): Promise<JobResult> {
    const early = seen.get(job);
    if (early) return early;
    wanted = job;
    return new Promise<JobResult>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new DBusCallError(
              'JobRemoved',
              'org.freedesktop.DBus.Error.Timeout',
              `systemd job ${job} did not finish within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      const offClose = bus.onClose((err) => {
        clearTimeout(timer);
        reject(err);
      });
      settle = (r) => {
        clearTimeout(timer);
        offClose();
        resolve(r);
      };
    });
  }
}

const matched = new WeakMap<SystemdBus, Promise<void>>();
function ensureJobMatch(bus: SystemdBus): Promise<void> {
  let match = matched.get(bus);
  if (!match) {
    match = bus.addMatch(JOB_REMOVED_RULE);
    matched.set(bus, match);
    // A failed AddMatch is tried again by the next start.
    match.catch(() => matched.delete(bus));
  }
  return match;
}

/** The D-Bus interface of a unit's type: services and slices (the only types unitpool creates). */
function typeInterface(name: string): string {
  return name.endsWith('.slice') ? SLICE_IFACE : SERVICE_IFACE;
}

export class TransientUnit implements UnitInfo {
  private constructor(
    private readonly bus: SystemdBus,
    readonly name: string,
    readonly objectPath: string,
    readonly mainPid: number,
    readonly controlGroup: string,
  ) {}

  /**
   * Creates and starts the transient service. Resolves once the start job is done, which with Type=exec means the
   * main process has been exec'd inside its finished sandbox. `describeFailure` is asked for extra output to attach
   * to the error (e.g. what the main process printed) when the start fails.
   */
  static async start(
    bus: SystemdBus,
    name: string,
    properties: readonly DBusProperty[],
    describeFailure: () => string = () => '',
    timeoutMs = 30_000,
  ): Promise<TransientUnit> {
    return (await TransientUnit.submit(bus, name, properties, describeFailure, timeoutMs)).started;
  }

  /**
   * start() in two steps: resolves once systemd has created the unit and queued its start job (units that name it,
   * as their Slice= say, can be submitted from then on: their jobs wait for its job), with `started`, what start()
   * resolves with.
   */
  static async submit(
    bus: SystemdBus,
    name: string,
    properties: readonly DBusProperty[],
    describeFailure: () => string = () => '',
    timeoutMs = 30_000,
  ): Promise<{ started: Promise<TransientUnit> }> {
    const props = properties.map(([k, sig, v]) => [k, new Variant(sig, v)]);
    const refused = (err: unknown) => {
      const detail = err instanceof DBusCallError ? err.message : String(err);
      return new UnitStartError(
        `systemd refused to create ${name}: ${detail}`,
        err instanceof DBusCallError ? err.dbusName : 'error',
        describeFailure(),
        {
          cause: err,
          unit: name,
        },
      );
    };
    let job: { done: Promise<JobResult> };
    try {
      job = await submitJob(
        bus,
        async () => {
          const [path] = await bus.call(MANAGER_PATH, MANAGER_IFACE, 'StartTransientUnit', 'ssa(sv)a(sa(sv))', [
            name,
            'fail',
            props,
            [],
          ]);
          return path as string;
        },
        timeoutMs,
      );
    } catch (err) {
      throw refused(err);
    }
    const started = job.done.then(
      async (result) => {
        if (result !== 'done') {
          const why = await explainFailedStart(bus, name);
          throw new UnitStartError(
            `${name} failed to start (job ${result}${why ? `; ${why}` : ''})`,
            result,
            describeFailure(),
            { unit: name },
          );
        }
        const [objectPath] = (await bus.call(MANAGER_PATH, MANAGER_IFACE, 'GetUnit', 's', [name])) as [string];
        const own = await bus.getAllProperties(objectPath, typeInterface(name));
        return new TransientUnit(
          bus,
          name,
          objectPath,
          Number(own.MainPID ?? 0),
          typeof own.ControlGroup === 'string' ? own.ControlGroup : '',
        );
      },
      (err: unknown) => {
        throw refused(err);
      },
    );
    return { started };
  }

  /**
   * Stops the unit and waits until it is gone. A unit that no longer exists counts as stopped. `bus` replaces the
   * connection the unit was created on, when that one dropped.
   */
  async stop(bus: SystemdBus = this.bus, timeoutMs = 30_000): Promise<void> {
    try {
      await runJob(
        bus,
        async () =>
          (await bus.call(MANAGER_PATH, MANAGER_IFACE, 'StopUnit', 'ss', [this.name, 'replace']))[0] as string,
        timeoutMs,
      );
    } catch (err) {
      if (err instanceof DBusCallError && err.dbusName === 'org.freedesktop.systemd1.NoSuchUnit') return;
      throw err;
    }
  }

  /** Sends a signal to the unit's processes (`whom`: main, control or all). */
  async kill(signal: number, whom: 'main' | 'all' = 'all'): Promise<void> {
    try {
      await this.bus.call(MANAGER_PATH, MANAGER_IFACE, 'KillUnit', 'ssi', [this.name, whom, signal]);
    } catch (err) {
      if (err instanceof DBusCallError && err.dbusName === 'org.freedesktop.systemd1.NoSuchUnit') return;
      throw err;
    }
  }

  /**
   * The unit's Unit properties and those of its type (Service or Slice: `service`), or undefined when systemd no
   * longer knows the unit.
   */
  async properties(): Promise<{ unit: Record<string, unknown>; service: Record<string, unknown> } | undefined> {
    return readUnit(this.bus, this.objectPath, typeInterface(this.name));
  }

  /** Drops the reference AddRef=true took: systemd may garbage-collect the unit once it is inactive. */
  async unref(): Promise<void> {
    await this.bus.call(this.objectPath, UNIT_IFACE, 'Unref', '', []).catch(() => {});
  }
}

async function readUnit(bus: SystemdBus, path: string, typeIface = SERVICE_IFACE) {
  try {
    const [unit, service] = await Promise.all([
      bus.getAllProperties(path, UNIT_IFACE),
      bus.getAllProperties(path, typeIface),
    ]);
    if (unit.LoadState === 'not-found') return undefined;
    return { unit, service };
  } catch (err) {
    if (err instanceof DBusCallError && /UnknownObject|NoSuchUnit|UnknownMethod/.test(err.dbusName)) return undefined;
    throw err;
  }
}

/** Best effort: why did the start job fail? (The unit may already be garbage-collected.) */
async function explainFailedStart(bus: SystemdBus, name: string): Promise<string> {
  try {
    const [path] = (await bus.call(MANAGER_PATH, MANAGER_IFACE, 'GetUnit', 's', [name])) as [string];
    const props = await readUnit(bus, path);
    if (!props) return '';
    const { Result, ExecMainCode, ExecMainStatus } = props.service;
    const how =
      ExecMainCode === 1
        ? `exit status ${String(ExecMainStatus)}`
        : ExecMainCode
          ? `signal ${String(ExecMainStatus)}`
          : '';
    return [`result ${String(Result)}`, how].filter(Boolean).join(', ');
  } catch {
    return '';
  }
}
