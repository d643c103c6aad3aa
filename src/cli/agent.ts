// `unitpool agent --redis URL --queue NAME [pool flags] ...`: one host's agent of a cluster (unitpool/cluster).
// The pool flags are those of `unitpool run` (--preset, -m, -c, -p NAME=VALUE, --ro, --env, ...), parsed by the
// same code (run-args.ts); the flags below are the agent's own. SIGTERM or SIGINT: stop taking jobs, let the
// running ones finish (up to --stop-timeout), stop the unit, exit 0; a second signal hands the running jobs back
// at once (BullMQ's stall detection gives them to another agent).

import { type Agent, startAgent } from '../cluster/agent.js';
import { OptionError, UnitPoolError, UsageError } from '../errors.js';
import type { UnitPoolOptions } from '../pool/pool.js';
import type { UnitProperties } from '../properties/index.js';
import { buildProperties, originOf, parseRunArgs } from './run-args.js';

export const AGENT_USAGE = `Usage: unitpool agent --redis URL --queue NAME [agent options] [pool options]

Takes jobs from a BullMQ queue in Redis and runs each in this host's own UnitPool: one systemd
transient unit with the confinement the pool options give (the same flags as unitpool run).
Clients submit with new ClusterPool({ connection, queue }) from 'unitpool/cluster'.

Agent options:
  --redis URL              Redis: redis://HOST:PORT[/DB], rediss://..., or a unix socket path
  --queue NAME             the queue to take jobs from
  --modules DIR            module references resolve inside DIR, and nothing outside it runs
  --allow-source           also run functions sent as source text: whoever can write to the
                           queue then runs any code inside this host's unit
  --concurrency N          jobs run at once (default: the pool's workers)
  --workers N              the pool's worker processes (default: the CPUs the unit may use)
  --name HOST              the host name results carry (default: this machine's hostname)
  --lock-duration MS       a job's lock; a dead agent's jobs run elsewhere after about this (30000)
  --max-stalled N          times a job may lose its agent and run again before it fails (1)
  --max-payload BYTES      largest arguments or result accepted (16777216)
  --stop-timeout MS        on SIGTERM, how long running jobs may take to finish (30000)
  -h, --help               this text

Pool options (see unitpool run --help): -m/--memory, -c/--cpu, --preset, --ro, --rw,
--inaccessible, --no-network, --env, --capture-env, -p/--property NAME=VALUE, --user.
`;

interface AgentArgs {
  redis?: string;
  queue?: string;
  modules?: string;
  allowSource: boolean;
  concurrency?: number;
  workers?: number;
  name?: string;
  lockDuration?: number;
  maxStalled?: number;
  maxPayload?: number;
  stopTimeout: number;
  help: boolean;
  /** The rest: pool flags for parseRunArgs. */
  pool: string[];
}

const STRINGS = new Map([
  ['--redis', 'redis'],
  ['--queue', 'queue'],
  ['--modules', 'modules'],
  ['--name', 'name'],
] as const);
const NUMBERS = new Map([
  ['--concurrency', 'concurrency'],
  ['--workers', 'workers'],
  ['--lock-duration', 'lockDuration'],
  ['--max-stalled', 'maxStalled'],
  ['--max-payload', 'maxPayload'],
  ['--stop-timeout', 'stopTimeout'],
] as const);

export function parseAgentArgs(argv: readonly string[]): AgentArgs {
  const o: AgentArgs = { allowSource: false, stopTimeout: 30_000, help: false, pool: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const key = STRINGS.get(flag as never) ?? NUMBERS.get(flag as never);
    if (key !== undefined) {
      const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
      if (NUMBERS.has(flag as never)) {
        const n = Number(value);
        if (!Number.isInteger(n) || n < (flag === '--stop-timeout' ? 0 : 1))
          throw new UsageError(`${flag}: ${value} is not a positive integer`);
        (o as unknown as Record<string, unknown>)[key] = n;
      } else (o as unknown as Record<string, unknown>)[key] = value;
    } else if (a === '--allow-source') o.allowSource = true;
    else if (a === '-h' || a === '--help') o.help = true;
    else o.pool.push(a);
  }
  if (o.help) return o;
  if (!o.redis) throw new UsageError('--redis URL is required, e.g. --redis redis://127.0.0.1:6379');
  if (!o.queue) throw new UsageError('--queue NAME is required');
  return o;
}

/** The pool flags as UnitPoolOptions, through unitpool run's own parser and property builder. */
export function poolOptions(
  args: AgentArgs,
  cwd: string,
): { pool: UnitPoolOptions; originOf: (option: string) => string | undefined } {
  const run = parseRunArgs([...args.pool, '--', 'agent'], cwd);
  if (run.command.length !== 1)
    throw new UsageError(`unexpected argument ${JSON.stringify(run.command[0])}: the agent runs no command`);
  const envValues = [...run.envValues];
  if (run.captureEnv)
    for (const n of run.envNames) if (process.env[n] !== undefined) envValues.push(`${n}=${process.env[n]}`);
  const built = buildProperties({ ...run, envValues }, cwd);
  const env = run.captureEnv ? 'inherit' : run.envNames.length > 0 ? run.envNames : undefined;
  const pool: UnitPoolOptions = {
    properties: built.properties as UnitProperties,
    bus: run.bus,
    ...(env !== undefined ? { env } : {}),
    ...(args.workers !== undefined ? { maxWorkers: args.workers } : {}),
  };
  return { pool, originOf: (option) => originOf(option, built.origins) };
}

function log(line: string): void {
  process.stderr.write(`unitpool agent: ${line}\n`);
}

export async function runAgentCommand(argv: readonly string[]): Promise<number> {
  let args: AgentArgs;
  let pool: UnitPoolOptions;
  let origin: (option: string) => string | undefined;
  try {
    args = parseAgentArgs(argv);
    if (args.help) {
      process.stdout.write(AGENT_USAGE);
      return 0;
    }
    ({ pool, originOf: origin } = poolOptions(args, process.cwd()));
  } catch (e) {
    if (e instanceof UsageError) {
      log(`${e.message}\nTry 'unitpool agent --help'.`);
      return 2;
    }
    throw e;
  }
  let agent: Agent;
  const stopping: { count: number; done?: Promise<void> } = { count: 0 };
  try {
    agent = await startAgent({
      connection: args.redis!,
      queue: args.queue!,
      pool,
      modules: args.modules,
      allowSource: args.allowSource,
      concurrency: args.concurrency,
      host: args.name,
      lockDuration: args.lockDuration,
      maxStalledCount: args.maxStalled,
      maxPayload: args.maxPayload,
      log,
    });
  } catch (e) {
    if (e instanceof OptionError) {
      const flag = origin(e.option);
      log(flag ? `${flag}: ${e.message}` : e.message);
      return 2;
    }
    if (e instanceof UnitPoolError) {
      log(e.message);
      return 1;
    }
    throw e;
  }
  log(
    `${agent.host} takes jobs from queue ${args.queue} in ${agent.pool.unit?.name ?? 'its unit'} (pid ${process.pid})`,
  );
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      stopping.count++;
      const timeout = stopping.count === 1 ? args.stopTimeout : 0;
      log(
        `${signal}: ${stopping.count === 1 ? 'finishing the running jobs' : 'handing the running jobs back'}, then stopping the unit`,
      );
      agent.close({ timeout }).then(
        () => resolve(0),
        (err: unknown) => {
          log(`stop failed: ${(err as Error).message}`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // stopped by itself: its pool broke (the unit died); a service manager may start it again
    void agent.done.then(() => {
      if (stopping.count === 0) {
        log('stopped: its pool broke');
        resolve(1);
      }
    });
  });
}
