// What both systemd hosts do alike: connect to the manager and check the pool's options against what it can
// enforce, read the unit's usage, count its OOM kills, and stop the unit even when the D-Bus connection dropped
// meanwhile.

import type { CompiledUnitOptions } from '../../properties/index.js';
import { type BusChoice, SystemdBus } from '../../unit/bus.js';
import { enforceCapabilities } from '../../unit/capabilities.js';
import type { ExitReason } from '../../errors.js';
import { cgroupUsage, type CgroupUsage, oomKillCount } from '../../unit/cgroup.js';
import type { DBusProperty, TransientUnit } from '../../unit/transient.js';
import type { PoolUsage } from './host.js';

const UINT64_MAX = 2n ** 64n - 1n;

/** A connection to the manager, and the unit's properties as checked against it. */
export interface Manager {
  bus: SystemdBus;
  properties: readonly DBusProperty[];
}

export async function connectManager(choice: BusChoice, compiled: CompiledUnitOptions): Promise<Manager> {
  const bus = await SystemdBus.connect(choice);
  try {
    return { bus, properties: await enforceCapabilities(bus, choice, compiled) };
  } catch (err) {
    bus.close();
    throw err;
  }
}

/** CPU time, memory, tasks and IO bytes: systemd's figures first, the cgroup files for the rest. */
export async function unitUsage(unit: TransientUnit): Promise<PoolUsage> {
  const out: PoolUsage = { source: { dbus: [], cgroup: [] } };
  const props = await unit.properties().catch(() => undefined);
  const set = (key: keyof CgroupUsage, value: unknown, scale = 1) => {
    if (typeof value !== 'bigint' || value === UINT64_MAX) return;
    out[key] = Number(value) / scale;
    out.source.dbus.push(key);
  };
  if (props) {
    set('cpuUsec', props.service.CPUUsageNSec, 1000);
    set('memoryCurrent', props.service.MemoryCurrent);
    set('tasks', props.service.TasksCurrent);
    set('ioReadBytes', props.service.IOReadBytes);
    set('ioWriteBytes', props.service.IOWriteBytes);
  }
  for (const [key, value] of Object.entries(cgroupUsage(unit.controlGroup)) as [keyof CgroupUsage, number][]) {
    if (out[key] !== undefined) continue;
    out[key] = value;
    out.source.cgroup.push(key);
  }
  return out;
}

/** Stops `unit` and closes the connection; reconnects first if it dropped (dbus-daemon restarted). */
export async function stopUnit(bus: SystemdBus, choice: BusChoice, unit: TransientUnit): Promise<void> {
  let live = bus;
  try {
    if (live.isClosed) live = await SystemdBus.connect(choice);
    await unit.stop(live);
  } finally {
    live.close();
    bus.close();
  }
}

/** The OOM kills in a unit's memory cgroup since its start: a worker's SIGKILL with a new one was the OOM killer. */
export class OomKills {
  private seen: number;

  constructor(private readonly controlGroup: string) {
    this.seen = oomKillCount(controlGroup) ?? 0;
  }

  /** Why a worker ended, from its signal: each new OOM kill explains one SIGKILL. */
  reason(signal: string | null): ExitReason {
    if (!signal) return 'exit';
    if (signal === 'SIGKILL' && this.unexplained() > 0) {
      this.seen++;
      return 'oom-kill';
    }
    return 'signal';
  }

  /** OOM kills no worker's exit accounted for. */
  unexplained(): number {
    const kills = oomKillCount(this.controlGroup);
    return kills !== undefined ? Math.max(0, kills - this.seen) : 0;
  }
}
