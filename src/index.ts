// unitpool: a process pool executor whose workers run inside one systemd transient unit.
export { UnitPool } from './pool/pool.js';
export type {
  UnitPoolOptions,
  TaskOptions,
  SubmitOptions,
  StreamOptions,
  MapOptions,
  MapProgress,
  ShutdownOptions,
  PoolUsage,
  PoolStats,
} from './pool/pool.js';
export type { ModuleRef, TaskFunction } from './pool/functions.js';
export type { Isolation } from './pool/options.js';
export type { WorkerState } from './pool/worker.js';
export type { UnitInfo } from './unit/transient.js';
export type { BusChoice } from './unit/bus.js';
export type { Capabilities, PropertyCapability } from './unit/capabilities.js';
export type { HostFacts, ManagerKind } from './unit/host-facts.js';
export type { CgroupLayout } from './unit/cgroup.js';
export * from './errors.js';
export type {
  UnitProperties,
  PropertyName,
  PresetName,
  PresetDoc,
  EnvOption,
  RawProperty,
} from './properties/index.js';
export type { CgroupController, NamespaceNeed } from './properties/index.js';
export { PRESET_NAMES, PRESET_DOCS } from './properties/index.js';
export { startSandbox, SandboxError } from './sandbox/index.js';
export type {
  Sandbox,
  SandboxOptions,
  SandboxSpawnOptions,
  ExecOptions,
  ExecResult,
  StopOptions,
  StopTimes,
  SandboxFailure,
} from './sandbox/index.js';
