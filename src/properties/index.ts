// The systemd properties of a pool's unit, as the rest of unitpool sees them: the typed table (table.ts), the
// compiler (compile.ts, by kind in kinds/), presets, the environment policy, the host requirements of what is
// requested, and the docs rendered from the table. The pool calls compileUnitOptions() (unit-options.ts). Only
// re-exports: each name lives in the module that owns it.

export {
  TABLE,
  PROPERTY_NAMES,
  CATEGORY_TITLES,
  RESERVED,
  HINTS,
  CAPABILITIES,
  ADDRESS_FAMILIES,
  SYSCALL_ARCHITECTURES,
  NAMESPACE_FLAGS,
  specOf,
} from './table.js';
export type {
  UnitProperties,
  PropertyName,
  PropertySpec,
  InputOf,
  Category,
  HostNeeds,
  CgroupController,
  NamespaceNeed,
  Kind,
  RlimitKind,
  Size,
  Percent,
  Duration,
  TimeUnit,
  BindPath,
  BindInput,
  TemporaryFileSystemEntry,
  TmpfsInput,
  RlimitInput,
  SyscallFilterInput,
  SyscallName,
  SyscallGroup,
  AddressFamily,
  AddressFamiliesInput,
  Capability,
  CapabilityName,
  CapabilitiesInput,
  NamespaceName,
  NamespacesInput,
  IpAccessInput,
  IoBandwidthInput,
  EnvironmentInput,
  SyscallArchitecture,
} from './table.js';
export { compileProperties, CompiledProperties, checkRaw, NODE_SYSCALLS } from './compile.js';
export type { CompileOptions, CompiledValues, DBusProperty, RawProperty } from './compile.js';
export { formatExample, suggest } from './names.js';
export {
  preset,
  mergeProperties,
  presetProperties,
  presetPropertyNames,
  PRESET_NAMES,
  PRESET_DOCS,
} from './presets.js';
export type { PresetName, PresetContext, PresetDoc, PropertyOverrides } from './presets.js';
export {
  environmentFromPolicy,
  environmentFromProperty,
  DEFAULT_ENV_NAMES,
  NOT_INHERITED,
  FORBIDDEN_ENV,
  isValidEnvName,
} from './env.js';
export type { EnvOption } from './env.js';
export { planReadable } from './readable.js';
export type { ReadablePath, ReadablePlan, ReadableInput, ReadableProblem, FileInfo, StatFn } from './readable.js';
export { propertiesMarkdown, propertiesHelpLines, presetsMarkdown, describeNeeds, unitFileForm } from './docs.js';
export type { MarkdownOptions } from './docs.js';
export { nssLookup } from './users.js';
export type { IdentityLookup, UserEntry, GroupEntry } from './users.js';
export { SYSCALL_GROUPS, KNOWN_SYSCALLS, groupMembers } from './syscalls.js';
export type { SyscallGroupName } from './syscalls.js';
export { compileUnitOptions, defaultReadablePaths, packageRoot } from './unit-options.js';
export type { CompiledUnitOptions, UnitOptions } from './unit-options.js';
export { hostRequirements } from './requirements.js';
export type { Requirement } from './requirements.js';
