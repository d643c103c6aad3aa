export {
  startSandbox,
  systemdIsPid1,
  preflight,
  keepPaths,
  getManagerProperty,
  INNER_BUS_ADDRESS,
  type Sandbox,
  type SandboxOptions,
  type SandboxSpawnOptions,
  type ExecResult,
  type StopOptions,
  type StopTimes,
} from './launcher.js';
export { runSandboxCommand, parseSandboxArgs, SANDBOX_USAGE, type SandboxCommandOptions } from './command.js';
export { SandboxError, type SandboxFailure } from './errors.js';
export { readCgroupMounts, type CgroupMounts, type Hierarchy } from './cgroups.js';
