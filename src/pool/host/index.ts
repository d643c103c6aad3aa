// Makes the host for a pool's isolation (see host.ts): the supervisor's unit ('pool'), the same supervisor as a
// child process ('none'), or a slice with a unit per worker ('worker').

import type { CompiledUnitOptions } from '../../properties/index.js';
import { DEFAULT_MAX_FRAME } from '../../wire/frame.js';
import type { Isolation, UnitPoolOptions } from '../options.js';
import type { HostEvents, WorkerHost } from './host.js';
import { SliceHost } from './slice-host.js';
import { SupervisorHost } from './supervisor-host.js';

export function createHost(
  isolation: Isolation,
  o: UnitPoolOptions,
  compiled: CompiledUnitOptions,
  events: HostEvents,
): WorkerHost {
  // Largest frame accepted from the unit: 64 MiB of data plus room for the envelope, unless configured.
  const maxFrame = o.maxFrame ?? DEFAULT_MAX_FRAME + 1024 * 1024;
  const common = { bus: o.bus ?? 'system', compiled, maxFrame, startTimeout: o.startTimeout };
  if (isolation === 'worker') return new SliceHost(common, events);
  const stderr = () => o.stderr ?? process.stderr;
  return new SupervisorHost({ ...common, local: isolation === 'none', stderr }, events);
}
