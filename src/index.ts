// unitpool: a process pool executor whose workers run inside one systemd transient unit.
export { UnitPool } from './pool/pool.js';
export type { UnitPoolOptions, SubmitOptions, MapOptions, ShutdownOptions } from './pool/pool.js';
export type { ModuleRef, TaskFunction } from './pool/functions.js';
export type { UnitInfo } from './unit/transient.js';
export type { BusChoice } from './unit/bus.js';
export * from './errors.js';
