// Running a command inside a booted sandbox: a shell on the host joins the sandbox's cgroups and nsenters
// PID 1's namespaces, then cds and runs the command (in a scope unit if asked). spawn-like, and exec-like
// collecting the output. The launcher says whether the sandbox still runs; this module only enters it.

import { spawn, type ChildProcess, type SpawnOptions, type StdioOptions } from 'node:child_process';
import {
  array,
  boolean,
  checkOptions,
  either,
  nonEmptyString,
  object,
  oneOf,
  type SchemaOf,
  string,
} from '../options/check.js';
import { INNER_BUS_ADDRESS } from './manager-bus.js';
import { TOOL_PATH } from './preflight.js';

export interface SandboxSpawnOptions {
  /** Working directory inside the sandbox (same path as on the host). Default process.cwd(). */
  cwd?: string;
  /** Environment. Default process.env; DBUS_SYSTEM_BUS_ADDRESS and UNITPOOL_SANDBOX=1 are always added. */
  env?: NodeJS.ProcessEnv;
  stdio?: StdioOptions;
  /**
   * Run the command in a transient scope unit of the sandbox's systemd (`systemd-run --scope`,
   * Delegate=yes), so that it lives in the sandbox's cgroup tree like any other unit and can start
   * a nested sandbox. Default false (it is then in the sandbox's root cgroup).
   */
  scope?: boolean;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const SPAWN_FORMS = {
  cwd: nonEmptyString,
  env: object,
  scope: boolean,
};

/** The forms of spawn()'s and exec()'s options (checkOptions, src/options/check.ts). */
export const SPAWN_OPTIONS_SCHEMA = {
  ...SPAWN_FORMS,
  stdio: either([oneOf('pipe', 'ignore', 'inherit', 'overlapped'), array]),
} satisfies SchemaOf<SandboxSpawnOptions>;
export const EXEC_OPTIONS_SCHEMA = { ...SPAWN_FORMS, input: string } satisfies SchemaOf<ExecOptions>;

/** exec()'s options: spawn()'s without stdio, and the command's standard input. */
export type ExecOptions = Omit<SandboxSpawnOptions, 'stdio'> & { input?: string };

/** The sandbox to enter: its PID 1 (host pid) and its cgroup directories on the host. */
export interface EnterTarget {
  pid: number;
  cgroups: readonly string[];
}

/** Spawns `command` inside, as root, like child_process.spawn. */
export function spawnInside(
  target: EnterTarget,
  command: string,
  args: readonly string[] = [],
  o: SandboxSpawnOptions = {},
): ChildProcess {
  checkOptions('sandbox.spawn()', o, SPAWN_OPTIONS_SCHEMA);
  const env: NodeJS.ProcessEnv = {
    ...(o.env ?? process.env),
    DBUS_SYSTEM_BUS_ADDRESS: INNER_BUS_ADDRESS,
    UNITPOOL_SANDBOX: '1',
  };
  return spawn(
    '/bin/sh',
    [
      '-c',
      ENTER_SCRIPT,
      'unitpool-sandbox-enter',
      String(target.pid),
      o.cwd ?? process.cwd(),
      o.scope ? '1' : '0',
      command,
      ...args,
    ],
    {
      stdio: o.stdio ?? 'pipe',
      env: {
        ...env,
        UNITPOOL_SB_JOIN: target.cgroups.join('\n'),
        INSIDE: INSIDE_SCRIPT,
        PATH: `${env.PATH ?? ''}:${TOOL_PATH}`,
      },
    } satisfies SpawnOptions,
  );
}

/** Runs `command` inside and collects its output. `spawnIt` is spawnInside for a sandbox that still runs. */
export function execInside(
  spawnIt: (options: SandboxSpawnOptions) => ChildProcess,
  o: ExecOptions = {},
): Promise<ExecResult> {
  checkOptions('sandbox.exec()', o, EXEC_OPTIONS_SCHEMA);
  return new Promise<ExecResult>((resolve, reject) => {
    const { input, ...spawnOptions } = o;
    const p = spawnIt({ ...spawnOptions, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    p.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    p.once('error', reject);
    p.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    p.stdin!.on('error', () => {}); // EPIPE: the command did not read its input
    p.stdin!.end(input ?? '');
  });
}

/**
 * Run on the host by spawnInside: moves itself into the sandbox's cgroups (so the command is
 * accounted and killed with the sandbox), then enters its namespaces. nsenter forks for the pid
 * namespace; the child cds to the same path inside and runs the command (in a scope if asked).
 * Not --net: the sandbox shares the host's network (units make their own with PrivateNetwork=).
 */
const ENTER_SCRIPT = `
pid=$1 cwd=$2 scope=$3
shift 3
IFS='
'
for cg in $UNITPOOL_SB_JOIN; do
  echo 0 > "$cg/cgroup.procs" 2>/dev/null || :
done
unset UNITPOOL_SB_JOIN IFS
exec nsenter --target "$pid" --mount --uts --ipc --pid --cgroup -- /bin/sh -c "$INSIDE" "$cwd" "$scope" "$@"
`;

/** Run inside the sandbox by ENTER_SCRIPT (passed in $INSIDE). */
const INSIDE_SCRIPT = `
cd "$0" || { echo "unitpool sandbox: cannot enter $0 inside the sandbox" >&2; exit 125; }
scope=$1
shift
unset INSIDE
command -v "$1" >/dev/null 2>&1 || { echo "unitpool sandbox: $1: command not found" >&2; exit 127; }
if [ "$scope" = 1 ]; then
  exec systemd-run --scope --quiet --collect --property=Delegate=yes --description="unitpool sandbox command" -- "$@"
fi
exec "$@"
`;
