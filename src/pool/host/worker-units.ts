// isolation: 'worker': the pool is a transient slice, and every worker is a transient service of its own inside it.
//
//   unitpool-<id>.slice            CPUQuota, MemoryMax, TasksMax, CPUWeight, IO limits: the pool's budget, shared
//    ├─ unitpool-<id>-w1.service   every other property: its own namespaces, /tmp, seccomp filter, and (with
//    ├─ unitpool-<id>-w2.service   DynamicUser=) its own uid, so no worker can read, ptrace or signal another
//    └─ ...                        stdin+stdout = its link to the pool, stderr = its console: AF_UNIX sockets
//                                  of the pool's, connected by systemd itself before the sandbox
//
// There is no supervisor: systemd starts each worker, and tells how it ended. The link needs no key and opens no
// path inside the unit: systemd, as root, connects the worker's stdin to a socket in a directory only root can
// reach, and the pool accepts exactly one connection on it. So the worker needs no socket(2) of its own.
//
// Owns: the slice, the worker units and their stdio sockets, and reading how each ended (AddRef=true keeps a unit
// readable until then; Unref lets systemd collect it). Knows nothing of tasks: it reports to the pool through the
// events of each start.

import { constants } from 'node:os';
import type { Socket } from 'node:net';
import { UnitStartError } from '../../errors.js';
import type { SystemdBus } from '../../unit/bus.js';
import { entryPath } from './launch.js';
import { memoryLimitHits, oomKillCount } from '../../unit/cgroup.js';
import { stdioSockets } from '../../unit/sockets.js';
import { type DBusProperty, TransientUnit } from '../../unit/transient.js';
import { forwardLines } from '../../wire/lines.js';

/** D-Bus properties that belong to the pool's slice (its shared budget), not to each worker. */
const SLICE_PROPERTIES = new Set([
  'CPUQuotaPerSecUSec',
  'CPUWeight',
  'AllowedCPUs',
  'MemoryMax',
  'MemoryMaxScale',
  'MemoryHigh',
  'MemoryHighScale',
  'MemorySwapMax',
  'MemorySwapMaxScale',
  'TasksMax',
  'TasksMaxScale',
  'IOReadBandwidthMax',
  'IOWriteBandwidthMax',
  'IOWeight',
]);

export interface WorkerUnitEvents {
  /** The unit runs (Type=exec: its worker was exec'd inside its sandbox). */
  onStarted(pid: number): void;
  /** The worker's link (its stdin and stdout, one connection; the worker moves it to fd 3). */
  onChannel(socket: Socket): void;
  /** Whole lines of its stderr (and of the stdout of programs it starts); false pauses `from` until resumed. */
  onOutput(fd: 1 | 2, bytes: Buffer, from: Socket): boolean;
  /**
   * It ended (after its link and console closed), or could not be started (`error`). `oomKilled`: the kernel's OOM
   * killer killed it (the pool's memory cap).
   */
  onExit(exitCode: number | null, signal: string | null, error?: Error, oomKilled?: boolean): void;
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n as number, name]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class WorkerUnits {
  private readonly units = new Map<number, TransientUnit>();
  /** Kills asked for before the unit existed: sent once it does. */
  private readonly earlyKills = new Map<number, string>();

  /** The slice, once its start job is done (worker units are submitted before: their jobs wait for its job). */
  private started: TransientUnit | undefined;

  private constructor(
    private readonly bus: SystemdBus,
    /** The slice's name, unitpool-<id>.slice. */
    readonly sliceName: string,
    /** Resolves when the slice runs; rejects if it could not be started. */
    readonly sliceStarted: Promise<TransientUnit>,
    private readonly workerProperties: readonly DBusProperty[],
    private readonly startTimeoutMs: number,
    /** The largest frame the pool accepts from a worker (each worker checks what it sends against it). */
    private readonly maxFrame: number,
  ) {
    sliceStarted.then(
      (slice) => (this.started = slice),
      () => {},
    );
  }

  /** The slice, once it runs. */
  get slice(): TransientUnit | undefined {
    return this.started;
  }

  /**
   * Splits the pool's properties between the slice and the workers, and creates the slice: resolves once systemd
   * has it (workers can be started from then on), before its start job is done (`sliceStarted`).
   */
  static async start(
    bus: SystemdBus,
    name: string,
    properties: readonly DBusProperty[],
    maxFrame: number,
    startTimeoutMs = 30_000,
  ): Promise<WorkerUnits> {
    const budget = properties.filter(([key]) => SLICE_PROPERTIES.has(key));
    const rest = properties.filter(([key]) => !SLICE_PROPERTIES.has(key));
    const sliceName = `${name}.slice`;
    const { started } = await TransientUnit.submit(
      bus,
      sliceName,
      [['Description', 's', `unitpool worker pool (${name}, a unit per worker)`], ...budget],
      undefined,
      startTimeoutMs,
    );
    return new WorkerUnits(bus, sliceName, started, rest, startTimeoutMs, maxFrame);
  }

  /** Starts worker `id` in a unit of its own; everything that follows comes through `events`. */
  start(id: number, events: WorkerUnitEvents): void {
    void this.run(id, events).catch((err: unknown) => events.onExit(null, null, err as Error));
  }

  /** Sends `signal` to every process of worker `id`'s unit. */
  kill(id: number, signal: string): void {
    const unit = this.units.get(id);
    const number = constants.signals[signal as NodeJS.Signals] ?? constants.signals.SIGKILL;
    if (unit) void unit.kill(number).catch(() => {});
    else this.earlyKills.set(id, signal);
  }

  /** Stops the slice, and so every worker unit in it. */
  async stop(bus: SystemdBus = this.bus): Promise<void> {
    await (await this.sliceStarted).stop(bus);
  }

  private async run(id: number, events: WorkerUnitEvents): Promise<void> {
    const name = `${this.sliceName.replace(/\.slice$/, '')}-w${id}.service`;
    const stdio = await stdioSockets(['link', 'err'] as const);
    const errTail: Buffer[] = [];
    let unit: TransientUnit;
    try {
      // systemd connects stdin read-write only when stdout names the same socket (then both are one connection):
      // the shell moves it to fd 3, puts /dev/null on 0 and the console's stderr socket on 1, and becomes node.
      const config = JSON.stringify({ id, channelFd: 3, stdoutFrames: true, maxFrame: this.maxFrame });
      const argv = [
        '/bin/sh',
        '-c',
        'exec "$0" "$@" 3<&0 0</dev/null 1>&2',
        process.execPath,
        entryPath('worker.js'),
        config,
      ];
      const own: DBusProperty[] = [
        ['Description', 's', `unitpool worker ${id} (${this.sliceName})`],
        ['Slice', 's', this.sliceName],
        ['Type', 's', 'exec'],
        ['ExecStart', 'a(sasb)', [['/bin/sh', argv, false]]],
        ['StandardInputFile', 's', stdio.paths.link],
        ['StandardOutputFile', 's', stdio.paths.link],
        ['StandardErrorFile', 's', stdio.paths.err],
        ['KillMode', 's', 'control-group'],
        ['SendSIGKILL', 'b', true],
        ['TimeoutStopUSec', 't', 3_000_000],
        // Collected as soon as it ends, but not before we have read how: AddRef holds it until unref().
        ['CollectMode', 's', 'inactive-or-failed'],
        ['AddRef', 'b', true],
      ];
      void stdio.connected.err.then((s) => s.on('data', (c: Buffer) => errTail.length < 64 && errTail.push(c)));
      unit = await TransientUnit.start(
        this.bus,
        name,
        [...own, ...this.workerProperties],
        () => Buffer.concat(errTail).toString('utf8'),
        this.startTimeoutMs,
      );
    } catch (err) {
      stdio.close();
      this.earlyKills.delete(id);
      throw err;
    }
    this.units.set(id, unit);
    events.onStarted(unit.mainPid);
    const early = this.earlyKills.get(id);
    if (early) {
      this.earlyKills.delete(id);
      this.kill(id, early);
    }
    const streams = await within(this.startTimeoutMs, Promise.all([stdio.connected.link, stdio.connected.err]));
    stdio.close();
    if (!streams) {
      await unit.stop().catch(() => {});
      throw new UnitStartError(
        `${name} started but systemd did not connect its stdio within ${this.startTimeoutMs} ms`,
        'timeout',
        '',
        { unit: name },
      );
    }
    const [link, err] = streams;
    // Whether the OOM killer took it is counted in its own memory cgroup, which goes with the unit: read it the
    // moment its link closes (it is gone, systemd has not cleaned up yet). Where the count is lost, the slice's
    // limit hits since its start tell (v1 counts OOM kills only in the victim's cgroup).
    // (Its job waited for the slice's: the slice runs, and is known here a moment after.)
    const slice = await this.sliceStarted;
    const hitsAtStart = memoryLimitHits(slice.controlGroup);
    let ownOomKills: number | undefined;
    link.once('close', () => (ownOomKills = oomKillCount(unit.controlGroup)));
    const closed = [link, err].map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
    for (const s of streams) s.on('error', () => {});
    forwardLines(err, (bytes) => events.onOutput(2, bytes, err));
    events.onChannel(link);
    // All three close when the worker and whatever it started are gone (KillMode=control-group sees to that).
    await Promise.all(closed);
    const [exitCode, signal] = await this.endOf(unit);
    this.units.delete(id);
    void unit.unref();
    const hits = memoryLimitHits(slice.controlGroup);
    const oomKilled =
      ownOomKills !== undefined
        ? ownOomKills > 0
        : signal === 'SIGKILL' && hits !== undefined && hitsAtStart !== undefined && hits > hitsAtStart;
    events.onExit(exitCode, signal, undefined, oomKilled);
  }

  /** How the unit's main process ended, once systemd has seen it end (a few ms after its sockets closed). */
  private async endOf(unit: TransientUnit): Promise<[number | null, string | null]> {
    for (let attempt = 0; attempt < 60; attempt++) {
      const props = await unit.properties().catch(() => undefined);
      if (!props) return [0, null];
      const state = String(props.unit.ActiveState);
      if (state === 'inactive' || state === 'failed') {
        const how = Number(props.service.ExecMainCode);
        const status = Number(props.service.ExecMainStatus);
        // CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3
        return how === 1 ? [status, null] : [null, SIGNAL_NAMES.get(status) ?? `signal ${status}`];
      }
      await sleep(Math.min(2 ** attempt, 100));
    }
    return [null, null];
  }
}

async function within<T>(ms: number, promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
