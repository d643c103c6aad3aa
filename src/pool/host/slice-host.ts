// isolation 'worker': the pool is a transient slice, unitpool-<id>.slice, carrying its budget, and every worker
// is a service of its own inside it (worker-units.ts starts them). There is no supervisor and no control socket:
// systemd starts each worker and connects its link, and tells how it ended.
//
// Owns: the D-Bus connection and the slice (through WorkerUnits). It knows nothing of tasks: it reports to
// HostEvents.

import { randomBytes } from 'node:crypto';
import { debuglog } from 'node:util';
import type { ExitReason } from '../../errors.js';
import type { CompiledUnitOptions } from '../../properties/index.js';
import type { BusChoice, SystemdBus } from '../../unit/bus.js';
import type { TransientUnit } from '../../unit/transient.js';
import { DirectChannel } from '../channel/direct.js';
import type { HostEvents, PoolUsage, WorkerHost } from './host.js';
import { connectManager, OomKills, stopUnit, unitUsage } from './systemd.js';
import { WorkerUnits } from './worker-units.js';

const debug = debuglog('unitpool');

export interface SliceHostOptions {
  bus: BusChoice;
  compiled: CompiledUnitOptions;
  maxFrame: number;
  startTimeout: number | undefined;
}

export class SliceHost implements WorkerHost {
  private bus: SystemdBus | undefined;
  private units: WorkerUnits | undefined;
  private oomKills: OomKills | undefined;

  constructor(
    private readonly options: SliceHostOptions,
    private readonly events: HostEvents,
  ) {}

  get unit(): TransientUnit | undefined {
    return this.units?.slice;
  }

  get unitName(): string | undefined {
    return this.units?.sliceName;
  }

  get canSpawn(): boolean {
    return this.units !== undefined;
  }

  /**
   * The slice, and the first workers' units (`initial()`) as soon as systemd has created it: their start jobs wait
   * in systemd for the slice's, so the slice's start does not delay theirs. Resolves once the slice runs.
   */
  async open(initial: () => number[]): Promise<void> {
    const manager = await connectManager(this.options.bus, this.options.compiled);
    this.bus = manager.bus;
    const name = `unitpool-${randomBytes(5).toString('hex')}`;
    let slice: TransientUnit;
    try {
      this.units = await WorkerUnits.start(
        manager.bus,
        name,
        manager.properties,
        this.options.maxFrame,
        this.options.startTimeout,
      );
      for (const id of initial()) this.spawn(id);
      slice = await this.units.sliceStarted;
    } catch (err) {
      // The workers already asked for fail with the slice (systemd's job dependency) and report it; the pool breaks.
      this.units = undefined;
      manager.bus.close();
      throw err;
    }
    this.oomKills = new OomKills(slice.controlGroup);
    debug('slice started: %s', name);
  }

  spawn(id: number): void {
    this.units!.start(id, {
      onStarted: (pid) => this.events.started(id, pid),
      onChannel: (socket) => {
        const channel = new DirectChannel(socket, Buffer.alloc(0), id, this.options.maxFrame, {
          onFrame: (payload) => this.events.frame(id, payload),
          onFault: (err) => this.events.fault(id, `a bad frame (${err.message})`),
          onClose: () => this.events.linkClosed(id),
        });
        if (!this.events.linked(id, channel)) socket.destroy();
      },
      onOutput: (fd, bytes, from) => this.events.output(fd, bytes, from),
      onExit: (code, signal, error, oomKilled) => this.events.exited(id, code, signal, error, oomKilled),
    });
  }

  signal(id: number, signal: string): void {
    this.units?.kill(id, signal);
  }

  forget(): void {}

  /** worker-units.ts reads each worker's own OOM kills; the slice's count (hierarchical on cgroup v2) too. */
  exitReason(signal: string | null, oomKilled?: boolean): ExitReason {
    if (oomKilled) return 'oom-kill';
    return this.oomKills?.reason(signal) ?? (signal ? 'signal' : 'exit');
  }

  usage(): Promise<PoolUsage> {
    return unitUsage(this.units!.slice!);
  }

  /** A slice has no supervisor to lose. */
  relaunch(): Promise<void> {
    return Promise.resolve();
  }

  async killAll(): Promise<void> {
    await this.units?.slice?.kill(9).catch(() => {});
  }

  endControl(): void {}

  async close(): Promise<void> {
    const slice = this.units?.slice;
    if (!slice || !this.bus) return this.bus?.close();
    await stopUnit(this.bus, this.options.bus, slice);
  }
}
