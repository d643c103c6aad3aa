export { startSandbox, type Sandbox, type StopOptions, type StopTimes } from './launcher.js';
export { systemdIsPid1, preflight, keepPaths, type SandboxOptions } from './preflight.js';
export { getManagerProperty, INNER_BUS_ADDRESS } from './manager-bus.js';
export type { SandboxSpawnOptions, ExecOptions, ExecResult } from './enter.js';
export { runSandboxCommand, parseSandboxArgs, SANDBOX_USAGE, type SandboxCommandOptions } from './command.js';
export { SandboxError, type SandboxFailure } from './errors.js';
export { readCgroupMounts, type CgroupMounts, type Hierarchy } from './cgroups.js';
