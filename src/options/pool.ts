// The schemas of UnitPool's options objects (src/pool/options.ts: UnitPoolOptions, SubmitOptions, StreamOptions,
// MapOptions, ShutdownOptions; UnitOptions from src/properties), for checkOptions(). Shapes only: the property compiler still
// judges properties, presets, env, raw and bestEffort, and the pool still judges options that go together
// (fresh with maxTasksPerWorker, isolation: 'none' with confinement). `satisfies` keeps each schema's keys equal
// to its interface's: a key added to an interface and not here fails the typecheck.

import {
  abortSignal,
  array,
  boolean,
  either,
  func,
  milliseconds,
  nested,
  nonEmptyString,
  object,
  oneOf,
  positiveInteger,
  positiveMilliseconds,
  required,
  type SchemaOf,
  stringArray,
  url,
  wholeNumber,
  writable,
} from './check.js';
import type {
  MapOptions,
  ShutdownOptions,
  StreamOptions,
  SubmitOptions,
  TaskOptions,
  UnitPoolOptions,
} from '../pool/options.js';
import type { UnitOptions } from '../properties/index.js';

/** A task: a function, or a module reference { module, name }. */
export const taskFunction = either(
  [func, nested({ module: required(either([nonEmptyString, url], 'a path or a file: URL')), name: nonEmptyString })],
  "a function or a module reference { module: 'file.mjs', name: 'exportName' }",
);

/** UnitOptions (src/properties/index.ts): what becomes the unit's properties. */
export const UNIT_OPTIONS_SCHEMA = {
  properties: object,
  preset: either([nonEmptyString, stringArray], 'a preset name or an array of them'),
  scratchSize: either(
    [wholeNumber, nonEmptyString],
    "a size: bytes as a number, or a string like '64M', '1G' or '10%'",
  ),
  env: either(
    [nonEmptyString, stringArray, object],
    "'inherit', 'none', an array of variable names or a record of variables",
  ),
  raw: array,
  bestEffort: stringArray,
} satisfies SchemaOf<UnitOptions>;

export const UNIT_POOL_OPTIONS_SCHEMA = {
  ...UNIT_OPTIONS_SCHEMA,
  maxWorkers: positiveInteger,
  bus: either(
    [oneOf('system', 'user'), nested({ address: required(nonEmptyString) })],
    "'system', 'user' or { address: 'unix:path=...' }",
  ),
  isolation: oneOf('pool', 'worker', 'systemd', 'none'),
  maxFrame: positiveInteger,
  callSites: boolean,
  stdout: writable,
  stderr: writable,
  onWorkerExit: oneOf('replace', 'break'),
  initializer: taskFunction,
  initArgs: array,
  maxTasksPerWorker: positiveInteger,
  fresh: boolean,
  idleTimeout: milliseconds,
  maxQueue: wholeNumber,
  queueMode: oneOf('reject', 'wait'),
  startTimeout: milliseconds,
} satisfies SchemaOf<UnitPoolOptions>;

export const TASK_OPTIONS_SCHEMA = {
  timeout: positiveMilliseconds,
  signal: abortSignal,
} satisfies SchemaOf<TaskOptions>;

export const SUBMIT_OPTIONS_SCHEMA = {
  ...TASK_OPTIONS_SCHEMA,
  onProgress: func,
} satisfies SchemaOf<SubmitOptions>;

export const STREAM_OPTIONS_SCHEMA = {
  ...SUBMIT_OPTIONS_SCHEMA,
  window: positiveInteger,
} satisfies SchemaOf<StreamOptions>;

export const MAP_OPTIONS_SCHEMA = {
  ...TASK_OPTIONS_SCHEMA,
  chunksize: positiveInteger,
  onProgress: func,
  ordered: boolean,
} satisfies SchemaOf<MapOptions>;

export const SHUTDOWN_OPTIONS_SCHEMA = {
  wait: boolean,
  cancelPending: boolean,
} satisfies SchemaOf<ShutdownOptions>;
