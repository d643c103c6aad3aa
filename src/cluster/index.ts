// unitpool/cluster: the same pool across many hosts, on BullMQ and Redis. An agent per host runs jobs in that
// host's own UnitPool (its own systemd unit and confinement); ClusterPool gives callers UnitPool's API.
export { ClusterPool } from './client.js';
export type { ClusterPoolOptions, ClusterStats, PoolCalls, Retention } from './client.js';
export { Agent, startAgent } from './agent.js';
export type { AgentOptions, AgentStats } from './agent.js';
export type { ConnectionOption } from './connection.js';
export { DEFAULT_MAX_PAYLOAD } from './job.js';
export {
  JobFailedError,
  MalformedJobError,
  ModuleRefusedError,
  PayloadTooLargeError,
  SourceRefusedError,
  reviveRemoteError,
  type RemoteErrorFields,
} from './errors.js';
export type { SubmitOptions, MapOptions, ShutdownOptions, UnitPoolOptions } from '../pool/pool.js';
export type { ModuleRef, TaskFunction } from '../pool/functions.js';
