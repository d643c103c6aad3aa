// What environment the workers get. systemd starts a unit with a clean environment of its own (PATH, LANG
// from locale.conf, USER/HOME when User= is set, INVOCATION_ID, ...), not the caller's. unitpool adds to it,
// through the unit's Environment property, only what the `env` policy copies from the parent process
// plus what `properties.Environment` sets; like playpen, it copies no secrets by default.
//
//   env: undefined (default)  PATH and the locale and time zone (LANG, LANGUAGE, LC_*, TZ) of the parent.
//   env: ['NAME', ...]        the default, plus these variables of the parent (those that are set).
//   env: { NAME: 'value' }    the default, plus exactly these variables.
//   env: 'inherit'            the whole environment of the parent, except what describes the parent's own
//                             process (systemd's per-unit variables, Node's IPC channel) and NODE_OPTIONS /
//                             NODE_V8_COVERAGE, which carry this process's debugger, loader and coverage
//                             settings into every worker; name them to copy them anyway.
//   env: 'none'               nothing from the parent: systemd's own environment only.
//
// properties.Environment is applied last and wins.
//
// Why PATH: tasks that spawn programs should find the same ones as the parent (nvm, a venv, ...); systemd's
// default PATH is /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin. Why the locale and TZ: a pool promises
// that submit(fn) computes what fn would compute here, and Date and Intl results depend on them; they carry
// no secrets. Why not NODE_ENV, HOME, credentials, proxies: the user names what the workers need.

import { OptionError } from '../errors.js';

export type EnvOption = 'inherit' | 'none' | readonly string[] | Readonly<Record<string, string>>;

/** Copied from the parent unless env is 'none'. */
export const DEFAULT_ENV_NAMES: readonly string[] = [
  'PATH',
  'LANG',
  'LANGUAGE',
  'TZ',
  'LC_ALL',
  'LC_CTYPE',
  'LC_NUMERIC',
  'LC_TIME',
  'LC_COLLATE',
  'LC_MONETARY',
  'LC_MESSAGES',
  'LC_PAPER',
  'LC_NAME',
  'LC_ADDRESS',
  'LC_TELEPHONE',
  'LC_MEASUREMENT',
  'LC_IDENTIFICATION',
];

/** Skipped by 'inherit': they describe the parent's own process or unit, and systemd sets the unit's own. */
export const NOT_INHERITED: readonly string[] = [
  'INVOCATION_ID',
  'JOURNAL_STREAM',
  'LISTEN_FDS',
  'LISTEN_PID',
  'LISTEN_FDNAMES',
  'NOTIFY_SOCKET',
  'WATCHDOG_PID',
  'WATCHDOG_USEC',
  'MANAGERPID',
  'SYSTEMD_EXEC_PID',
  'MAINPID',
  'RUNTIME_DIRECTORY',
  'STATE_DIRECTORY',
  'CACHE_DIRECTORY',
  'LOGS_DIRECTORY',
  'CONFIGURATION_DIRECTORY',
  'CREDENTIALS_DIRECTORY',
  'EXIT_CODE',
  'EXIT_STATUS',
  'SERVICE_RESULT',
  'MONITOR_SERVICE_RESULT',
  'MONITOR_EXIT_CODE',
  'MONITOR_EXIT_STATUS',
  'MONITOR_INVOCATION_ID',
  'MONITOR_UNIT',
  'NODE_OPTIONS',
  'NODE_V8_COVERAGE',
];

/** Never passed to workers: Node would take them as its own IPC channel / cluster identity. */
export const FORBIDDEN_ENV: readonly string[] = [
  'NODE_CHANNEL_FD',
  'NODE_CHANNEL_SERIALIZATION_MODE',
  'NODE_UNIQUE_ID',
];

/** systemd's env_name_is_valid(): letters, digits and '_', not starting with a digit. */
export function isValidEnvName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

/** systemd's env_value_is_valid(): valid UTF-8 (no lone surrogates here) and no NUL. */
export function envValueProblem(value: string): string | undefined {
  if (value.includes('\0')) return 'contains a NUL character';
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(value))
    return 'is not valid Unicode (a lone surrogate)';
  return undefined;
}

function checkName(path: string, value: unknown, name: string): void {
  if (!isValidEnvName(name)) {
    throw new OptionError(
      path,
      value,
      `${JSON.stringify(name)} is not a valid variable name`,
      'names of letters, digits and _, not starting with a digit',
    );
  }
  if (FORBIDDEN_ENV.includes(name)) {
    throw new OptionError(
      path,
      value,
      `${name} cannot be passed to workers (Node would treat it as its own IPC channel)`,
      'other variable names',
    );
  }
}

function checkValue(path: string, value: unknown, name: string, v: unknown): string {
  if (typeof v !== 'string') {
    throw new OptionError(
      `${path}.${name}`,
      v,
      'an environment value must be a string',
      `a string, e.g. { ${name}: '1' }`,
    );
  }
  const problem = envValueProblem(v);
  if (problem)
    throw new OptionError(`${path}.${name}`, value, `the value ${problem}`, 'a string without NUL characters');
  return v;
}

const ENV_EXPECTED = `'inherit', 'none', an array of variable names to copy (['NODE_ENV']), or { NAME: 'value' }`;

/**
 * The variables the env policy puts in the unit's Environment (before properties.Environment). Throws
 * OptionError for a malformed policy. `parent` is the environment to copy from (default process.env).
 */
export function environmentFromPolicy(
  env: EnvOption | undefined,
  parent: Readonly<Record<string, string | undefined>> = process.env,
  path = 'env',
): Record<string, string> {
  const out: Record<string, string> = {};
  const copy = (name: string) => {
    const v = parent[name];
    if (v !== undefined && isValidEnvName(name) && !FORBIDDEN_ENV.includes(name) && envValueProblem(v) === undefined)
      out[name] = v;
  };
  if (env === 'none') return out;
  if (env === 'inherit') {
    for (const name of Object.keys(parent)) if (!NOT_INHERITED.includes(name)) copy(name);
    return out;
  }
  for (const name of DEFAULT_ENV_NAMES) copy(name);
  if (env === undefined) return out;
  if (typeof env === 'string') throw new OptionError(path, env, `unknown policy ${JSON.stringify(env)}`, ENV_EXPECTED);
  if (Array.isArray(env)) {
    (env as readonly unknown[]).forEach((name, i) => {
      if (typeof name !== 'string') throw new OptionError(`${path}[${i}]`, name, 'not a variable name', ENV_EXPECTED);
      checkName(`${path}[${i}]`, name, name);
      copy(name);
    });
    return out;
  }
  if (typeof env === 'object' && env !== null && Object.getPrototypeOf(env) === Object.prototype) {
    for (const [name, v] of Object.entries(env)) {
      checkName(path, env, name);
      out[name] = checkValue(path, env, name, v);
    }
    return out;
  }
  throw new OptionError(path, env, 'not an environment policy', ENV_EXPECTED);
}

/** properties.Environment in either form -> a record; throws OptionError naming `path`. */
export function environmentFromProperty(value: unknown, path: string): Record<string, string> {
  const expected = `{ NAME: 'value' } or ['NAME=value'], e.g. { NODE_ENV: 'production' }`;
  const out: Record<string, string> = {};
  if (Array.isArray(value)) {
    (value as readonly unknown[]).forEach((item, i) => {
      if (typeof item !== 'string') throw new OptionError(`${path}[${i}]`, item, 'not a NAME=value string', expected);
      const eq = item.indexOf('=');
      if (eq <= 0) throw new OptionError(`${path}[${i}]`, item, 'not a NAME=value string', expected);
      const name = item.slice(0, eq);
      checkName(`${path}[${i}]`, item, name);
      out[name] = checkValue(path, item, name, item.slice(eq + 1));
    });
    return out;
  }
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [name, v] of Object.entries(value)) {
      checkName(path, value, name);
      out[name] = checkValue(path, value, name, v);
    }
    return out;
  }
  throw new OptionError(path, value, 'not a set of environment variables', expected);
}

/** The unit's Environment (`as`): policy first, then properties.Environment over it. */
export function environmentList(vars: Readonly<Record<string, string>>): string[] {
  return Object.entries(vars).map(([k, v]) => `${k}=${v}`);
}
