// `unitpool run [options] -- command args...`: one command in one systemd transient service, confined by the
// same property table, validation and environment policy as the library (compileUnitOptions), in the spirit
// of playpen. This module runs one command from start to summary; the command line is run-args.ts, the
// stdio run-stdio.ts (or run-pty.ts with a terminal), the summary run-summary.ts. How it works:
//
//   - the command is found on the caller's PATH (like systemd-run) and becomes ExecStart; nothing of ours
//     (no Node) runs inside the unit, so a cap as small as the command needs is enough;
//   - AddRef=true keeps the unit (and its Result, ExecMainCode, ExecMainStatus) readable after it ended until
//     we disconnect, as systemd-run --wait does; CollectMode=inactive-or-failed lets systemd forget it then;
//   - the unit's cgroup disappears as soon as the unit is inactive, and on hosts where systemd does not report
//     CPU time and memory peak itself (cgroup v1, or before systemd 255) only its files have them, and the OOM
//     kill count. So a privileged ExecStopPost helper (sleep) holds the unit in stop-post, cgroup intact, while
//     we read those files; then we kill the helper (its failure is ignored, so the Result stays the command's).
//     The helper adds a few milliseconds of CPU and well under 1 MB of memory to what is measured;
//     With -q, which prints none of it, there is no helper.
//   - Ctrl-C (SIGINT) is passed on to the unit's processes as SIGINT, as a terminal would; a third one within
//     a second kills them. SIGTERM or SIGHUP stop the unit (SIGTERM to every process, SIGKILL after 10 s); a
//     second one kills it at once.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { constants as osc } from 'node:os';
import type { Writable } from 'node:stream';
import {
  CapabilityError,
  DBusCallError,
  OptionError,
  SystemdUnavailableError,
  UnitStartError,
  UsageError,
} from '../errors.js';
import { type CompiledUnitOptions, compileUnitOptions, type ReadablePath } from '../properties/index.js';
import { MANAGER_IFACE, MANAGER_PATH, SERVICE_IFACE, SystemdBus, Variant } from '../unit/bus.js';
import { enforceCapabilities } from '../unit/capabilities.js';
import { cgroupUsage, oomKillCount } from '../unit/cgroup.js';
import { type DBusProperty, runJob } from '../unit/transient.js';
import { type Origins, originOf, parseRunArgs, type RunArgs, unitOptionsFromFlags } from './run-args.js';
import { findExecutable, runsNode } from './run-exe.js';
import { SYSTEMD_EXIT_STATUS } from './run-format.js';
import { openPty, type Pty, PtyError, wantsPty } from './run-pty.js';
import { openStdio, type Stdio } from './run-stdio.js';
import { type Outcome, summaryLines } from './run-summary.js';
import { UnitWatch } from './unit-watch.js';

export { findExecutable } from './run-exe.js';

const log = (s: string) => process.stderr.write(`unitpool run: ${s}\n`);

/** The helper that holds the unit in stop-post: any sleep(1) will do. */
function sleepBinary(): string | undefined {
  return ['/usr/bin/sleep', '/bin/sleep'].find((p) => existsSync(p));
}

const STOP_TIMEOUT_USEC = 10_000_000;
/** The helper's own limit, in seconds: below the stop timeout, so that it never times the unit out. */
const HELPER_SECONDS = '9';

/** What we ask of every unit; `figures`: the summary is printed, so accounting is on and the stop-post helper holds the cgroup for it. */
function ownProperties(exe: string, command: readonly string[], figures: boolean): DBusProperty[] {
  const description = `unitpool run: ${command.join(' ')}`;
  const props: DBusProperty[] = [
    ['Description', 's', description.length > 200 ? `${description.slice(0, 197)}...` : description],
    ['Type', 's', 'exec'],
    // no-env-expand: the arguments reach the command as given (systemd would expand $VAR and $$ in them).
    ['ExecStartEx', 'a(sasas)', [[exe, [...command], ['no-env-expand']]]],
    ['AddRef', 'b', true],
    ['CollectMode', 's', 'inactive-or-failed'],
    ['RemainAfterExit', 'b', false],
    ['KillMode', 's', 'control-group'],
    ['SendSIGKILL', 'b', true],
    ['TimeoutStopUSec', 't', STOP_TIMEOUT_USEC],
    // A command in a pipeline should die of SIGPIPE when the reader goes away, as it would in a shell.
    ['IgnoreSIGPIPE', 'b', false],
  ];
  // The summary's figures; under -q none are printed, and a leaner unit starts sooner (no BPF program for IP
  // accounting) and fits a cap as small as playpen's -m 300K date better.
  if (figures) for (const what of ['CPU', 'Memory', 'Tasks', 'IO', 'IP']) props.push([`${what}Accounting`, 'b', true]);
  const sleep = figures ? sleepBinary() : undefined;
  if (sleep)
    props.push(['ExecStopPostEx', 'a(sasas)', [[sleep, ['sleep', HELPER_SECONDS], ['privileged', 'ignore-failure']]]]);
  return props;
}

/**
 * Starts the unit and waits for its start job (with Type=exec: until the command is exec'd). Unlike
 * TransientUnit.start, it reads nothing back: the run needs neither the main PID nor the cgroup then.
 */
async function startUnit(bus: SystemdBus, name: string, properties: readonly DBusProperty[]): Promise<void> {
  const props = properties.map(([k, sig, v]) => [k, new Variant(sig, v)]);
  let result: string;
  try {
    result = await runJob(
      bus,
      async () =>
        (
          await bus.call(MANAGER_PATH, MANAGER_IFACE, 'StartTransientUnit', 'ssa(sv)a(sa(sv))', [
            name,
            'fail',
            props,
            [],
          ])
        )[0] as string,
    );
  } catch (err) {
    throw new UnitStartError(
      `systemd refused to create ${name}: ${err instanceof Error ? err.message : String(err)}`,
      err instanceof DBusCallError ? err.dbusName : 'error',
      '',
      { cause: err, unit: name },
    );
  }
  if (result !== 'done')
    throw new UnitStartError(`${name} failed to start (job ${result})`, result, '', { unit: name });
}

/** The service properties the summary reads: a few Gets in parallel cost less than one GetAll of them all. */
const SUMMARY_PROPERTIES = [
  'Result',
  'ExecMainCode',
  'ExecMainStatus',
  'ExecMainStartTimestampMonotonic',
  'ExecMainExitTimestampMonotonic',
  'ControlGroup',
  'MemoryMax',
  'CPUUsageNSec',
  'MemoryPeak',
  'MemorySwapPeak',
  'IPIngressBytes',
  'IPEgressBytes',
  'IOReadBytes',
  'IOWriteBytes',
  'ExecStopPost',
];

async function readService(bus: SystemdBus, path: string): Promise<Record<string, unknown> | undefined> {
  const values = await Promise.all(
    SUMMARY_PROPERTIES.map((n) => bus.getProperty(path, SERVICE_IFACE, n).catch(() => undefined)),
  );
  const out: Record<string, unknown> = {};
  SUMMARY_PROPERTIES.forEach((n, i) => {
    if (values[i] !== undefined) out[n] = values[i];
  });
  return out.Result === undefined ? undefined : out;
}

function flush(stream: Writable): Promise<void> {
  return new Promise((resolveFlush) => {
    if (stream.destroyed || !stream.writable) return resolveFlush();
    stream.write('', () => resolveFlush());
  });
}

/** The flag behind an OptionError, for the message. */
function flagOf(option: string, origins: Origins, args: RunArgs): string | undefined {
  const fromProperty = originOf(option, origins);
  if (fromProperty) return fromProperty;
  if (option === 'properties.WorkingDirectory') return 'the working directory';
  const env = /^env\[(\d+)\]/.exec(option);
  if (env) return `--env ${args.envNames[Number(env[1])] ?? ''}`;
  if (option.startsWith('preset')) return '--preset';
  return undefined;
}

/** The command line, checked and compiled; or the exit status of a refusal. */
function prepare(
  argv: readonly string[],
  cwd: string,
): number | RunArgs | { args: RunArgs; exe: string; compiled: CompiledUnitOptions; origins: Origins } {
  let args: RunArgs | undefined;
  let origins: Origins = { flags: new Map(), items: new Map() };
  try {
    args = parseRunArgs(argv, cwd);
    if (args.help || args.version) return args;
    // The command, found here (the unit's PATH may differ, and systemd wants an absolute path).
    const exe = findExecutable(args.command[0]!, cwd, process.env.PATH);
    if (!exe) {
      log(
        `${args.command[0]}: command not found${args.command[0]!.includes('/') ? ' (or not executable)' : ' on PATH'}`,
      );
      return 127;
    }
    // The unit's properties, through the library's own compiler.
    const built = unitOptionsFromFlags(args, cwd);
    origins = built.origins;
    const wd = built.unitOptions.properties?.WorkingDirectory;
    const readable: ReadablePath[] = [{ path: exe, what: 'the command' }];
    if (typeof wd === 'string' && wd.startsWith('/')) readable.push({ path: wd, what: 'the working directory' });
    const quiet = args.quiet;
    const compiled = compileUnitOptions(built.unitOptions, {
      readablePaths: readable,
      runsNode: runsNode(exe),
      warn: (m) => (quiet ? undefined : log(`warning: ${m}`)),
    });
    return { args, exe, compiled, origins };
  } catch (e) {
    if (e instanceof UsageError) {
      log(`${e.message}\nTry 'unitpool run --help'.`);
      return 2;
    }
    if (e instanceof OptionError) {
      const origin = args ? flagOf(e.option, origins, args) : undefined;
      log(origin ? `${origin}: ${e.message}` : e.message);
      return 2;
    }
    throw e;
  }
}

/** Runs `unitpool run ...`; resolves to the exit status for the process. */
export async function runRunCommand(argv: readonly string[]): Promise<number> {
  let cwd: string;
  try {
    cwd = process.cwd();
  } catch {
    log('the current directory no longer exists');
    return 125;
  }
  const prepared = prepare(argv, cwd);
  if (typeof prepared === 'number') return prepared;
  if (!('args' in prepared)) {
    const { packageVersion, runHelp } = await import('./run-help.js');
    process.stdout.write(`${prepared.help ? runHelp() : `unitpool ${packageVersion()}`}\n`);
    return 0;
  }
  const { args, exe, compiled, origins } = prepared;
  const say = args.quiet ? () => {} : (s: string) => process.stderr.write(`${s}\n`);

  // Signals: before the unit is requested, do not start it; while it starts, keep them for when it exists;
  // then pass Ctrl-C on, stop on SIGTERM/SIGHUP.
  let bus: SystemdBus | undefined;
  let name = '';
  let live = false;
  const early: NodeJS.Signals[] = [];
  let stops = 0;
  let killedByUs = false;
  const interrupts: number[] = [];
  const kill = (who: 'all' | 'main' | 'control', signal: number) =>
    bus!.call(MANAGER_PATH, MANAGER_IFACE, 'KillUnit', 'ssi', [name, who, signal]).then(
      () => {},
      () => {},
    );
  const onSignal = (sig: NodeJS.Signals) => {
    if (!live) return void early.push(sig);
    if (sig === 'SIGINT') {
      const now = Date.now();
      interrupts.push(now);
      if (interrupts.filter((t) => now - t < 1000).length >= 3) {
        killedByUs = true;
        void kill('all', osc.signals.SIGKILL);
      } else void kill('all', osc.signals.SIGINT);
      return;
    }
    stops++;
    if (stops === 1) void bus!.call(MANAGER_PATH, MANAGER_IFACE, 'StopUnit', 'ss', [name, 'replace']).catch(() => {});
    else {
      killedByUs = true;
      void kill('all', osc.signals.SIGKILL);
    }
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);

  let stdio: Stdio | undefined;
  let pty: Pty | undefined;
  let watch: UnitWatch | undefined;
  try {
    try {
      bus = await SystemdBus.connect(args.bus);
    } catch (e) {
      if (e instanceof SystemdUnavailableError) {
        // The error already says what to do about a user manager; the pool's advice for the system bus is not the CLI's.
        log(
          args.bus === 'user'
            ? e.message
            : `${e.message.replace(/ Run on a host[\s\S]*$/, '')} (run it where systemd is PID 1, or inside a private one: unitpool sandbox -- unitpool run ...)`,
        );
        return 125;
      }
      throw e;
    }
    // What this host's manager cannot enforce is refused, as the pool refuses it at start.
    let userProperties: readonly DBusProperty[];
    try {
      userProperties = await enforceCapabilities(bus, args.bus, compiled);
    } catch (e) {
      if (e instanceof CapabilityError) {
        const origin = origins.flags.get(e.property);
        log(
          `${origin ? `${origin}: ` : ''}${e.property} cannot be enforced on this host: ${e.reason}; remove it to run without it`,
        );
        return 2;
      }
      throw e;
    }
    if (early.length > 0) return 128 + (osc.signals[early[0]!] ?? 0);
    name = `unitpool-run-${randomBytes(5).toString('hex')}.service`;
    say(`Running as unit: ${name}`);

    const b = bus;
    const sigpipe = () => kill('main', osc.signals.SIGPIPE);
    if (wantsPty()) {
      try {
        pty = await openPty(args.bus);
      } catch (e) {
        if (!(e instanceof PtyError)) throw e;
        log(`warning: the command gets no terminal: ${e.message}`);
      }
    }
    try {
      stdio = await openStdio({
        bus: args.bus,
        readerGone: sigpipe,
        ...(pty ? { skip: { stdin: true, stdout: true, stderr: pty.stderr } } : {}),
      });
    } catch (e) {
      await pty?.finish();
      const err = e as NodeJS.ErrnoException;
      if (typeof err.code !== 'string') throw e;
      log(`cannot set up the command's stdio: ${err.message} (set XDG_RUNTIME_DIR to a directory of yours)`);
      return 125;
    }
    // With -q nothing of the cgroup is printed: no accounting, no stop-post helper (one fork and a few round trips fewer).
    const properties = [
      ...ownProperties(exe, args.command, !args.quiet),
      ...(pty?.properties ?? []),
      ...stdio.properties,
      ...userProperties,
    ];

    // Follow the unit; read its cgroup in stop-post, then release the helper.
    let snapshot: Outcome['snapshot'];
    const w = new UnitWatch(bus, name);
    watch = w;
    w.onStopPost = async () => {
      try {
        const service = await readService(b, w.path);
        if (!service) return;
        const cg = typeof service.ControlGroup === 'string' ? service.ControlGroup : '';
        // Never read with an empty path: that would be the root cgroup's numbers.
        snapshot = { service, usage: cg ? cgroupUsage(cg) : {}, oomKills: cg ? oomKillCount(cg) : undefined };
      } finally {
        await kill('control', osc.signals.SIGTERM);
      }
    };
    await w.arm();

    const wallStart = process.hrtime.bigint();
    let startError: UnitStartError | undefined;
    try {
      await startUnit(bus, name, properties);
    } catch (e) {
      if (!(e instanceof UnitStartError)) throw e;
      startError = e;
    }
    stdio.started();
    // Signals that came while the unit was being started are acted on now.
    live = true;
    for (const sig of early.splice(0)) onSignal(sig);
    w.startDone();
    await w.finished;
    const wallUsec = Number(process.hrtime.bigint() - wallStart) / 1000;

    // Everything the command wrote, before our summary.
    await pty?.finish();
    await stdio.finished();
    await Promise.all([flush(process.stdout), flush(process.stderr)]);

    // What was read in stop-post stands (Result and the exit status are set before it), unless the cgroup was
    // gone by then (a cap too small for the helper to run): then the end tells how the helper died.
    const final =
      snapshot?.oomKills !== undefined || bus.isClosed
        ? undefined
        : await readService(bus, w.path).catch(() => undefined);
    const service = final ?? snapshot?.service;
    if (!service) {
      log(`lost track of ${name} (${startError ? startError.message : `last state ${w.state}`})`);
      return 125;
    }
    const code = Number(service.ExecMainCode ?? 0);
    const status = Number(service.ExecMainStatus ?? 0);

    // With Type=exec, a command that fails at once can fail the start job too (systemd may see it exit before it
    // sees the exec succeed): only systemd's own statuses (200-243) or no process at all mean it did not run.
    if (startError && (code === 0 || (code === 1 && SYSTEMD_EXIT_STATUS[status]))) {
      if (code === 1) {
        const what =
          status === 203
            ? `could not execute ${exe}`
            : `systemd could not set up the command (${status}/${SYSTEMD_EXIT_STATUS[status]})`;
        log(
          `${what}: ${name} failed with exit status ${status}/${SYSTEMD_EXIT_STATUS[status]}${status === 203 ? ' (not a program this kernel runs, or its #! interpreter is missing)' : `; see journalctl -u ${name}`}`,
        );
        return status === 203 ? 126 : 125;
      }
      log(startError.message);
      return 125;
    }
    for (const line of summaryLines({ service, ...(snapshot ? { snapshot } : {}), wallUsec, killedByUs })) say(line);

    if (code === 1) return status;
    if (code === 2 || code === 3) return 128 + status;
    log(`the command did not run (unit result ${typeof service.Result === 'string' ? service.Result : 'unknown'})`);
    return 125;
  } finally {
    // An error on the way must not leave the terminal raw under script(1).
    await pty?.finish();
    for (const s of signals) process.off(s, onSignal);
    watch?.dispose();
    stdio?.close();
    bus?.close();
  }
}
