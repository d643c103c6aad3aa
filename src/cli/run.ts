// `unitpool run [options] -- command args...`: one command in one systemd transient service, confined by the
// same property table, validation and environment policy as the library (compileUnitOptions), in the spirit
// of playpen. How it works:
//
//   - the command is found on the caller's PATH (like systemd-run) and becomes ExecStart;
//   - its stdin, stdout and stderr are three AF_UNIX sockets that systemd itself connects (as root, before it
//     builds the sandbox: StandardInputFile=/StandardOutputFile=/StandardErrorFile=, as src/unit/launch.ts does
//     for the pool); we copy our stdin into the first (ending it at our EOF, so the command sees EOF) and the
//     other two to our stdout and stderr;
//   - AddRef=true keeps the unit (and its Result, ExecMainCode, ExecMainStatus) readable after it ended until
//     we disconnect, as systemd-run --wait does; CollectMode=inactive-or-failed lets systemd forget it then;
//   - the unit's cgroup disappears as soon as the unit is inactive, and on hosts where systemd does not report
//     CPU time and memory peak itself (cgroup v1, or before systemd 255) only its files have them, and the OOM
//     kill count. So a privileged ExecStopPost helper (sleep) holds the unit in stop-post, cgroup intact, while
//     we read those files; then we kill the helper (its failure is ignored, so the Result stays the command's).
//     The helper adds a few milliseconds of CPU and well under 1 MB of memory to what is measured;
//   - Ctrl-C, SIGTERM or SIGHUP stop the unit (SIGTERM to every process, SIGKILL after 10 s); a second one
//     kills it at once.

import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsc, existsSync, rmSync, statSync } from 'node:fs';
import { constants as osc } from 'node:os';
import type { Server, Socket } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { CapabilityError, OptionError, SystemdUnavailableError, UnitStartError } from '../errors.js';
import {
  type CompiledUnitOptions,
  compileUnitOptions,
  PRESET_DOCS,
  PRESET_NAMES,
  propertiesHelpLines,
  type ReadablePath,
  type UnitOptions,
  type UnitProperties,
} from '../properties/index.js';
import { UINT64_MAX } from '../properties/parse.js';
import { MANAGER_IFACE, MANAGER_PATH, SERVICE_IFACE, SystemdBus } from '../unit/bus.js';
import { enforceCapabilities } from '../unit/capabilities.js';
import { listenUnix, privateSocketDir } from '../unit/sockets.js';
import { type CgroupUsage, cgroupUsage, oomKillCount } from '../unit/cgroup.js';
import { type DBusProperty, TransientUnit } from '../unit/transient.js';
import { buildProperties, type Origins, originOf, parseRunArgs, type RunArgs, UsageError } from './run-args.js';
import { describeExit, formatBytes, formatTimespan, SYSTEMD_EXIT_STATUS } from './run-format.js';
import { UnitWatch } from './unit-watch.js';

export const RUN_USAGE = `Usage: unitpool run [options] [--] command [args...]

Runs one command in a systemd transient service, confined with the same properties, validation and
environment policy as the UnitPool library, with stdin, stdout and stderr passed through (it works in
pipelines). On stderr it prints the unit's name at the start and, at the end, its result, runtime, CPU
time and memory peak. It exits with the command's status.

Options:
  -m, --memory SIZE        memory cap (MemoryMax): 512M, 2G, or a share of RAM like 25%;
                           past it the kernel's OOM killer kills the command
  -c, --cpu PERCENT        CPU cap (CPUQuota): 100% is one CPU, 250% two and a half
  --preset NAME            start from a preset (see below); may be repeated, applied in order
  --ro PATH                bind PATH into the unit read-only (BindReadOnlyPaths); it stays
                           visible even where ProtectHome, PrivateTmp or a preset hides its parent
  --rw PATH                bind PATH into the unit writable (BindPaths), even under ProtectSystem=strict
  --inaccessible PATH      make PATH inaccessible (InaccessiblePaths)
  --no-network             no network, only a loopback device (PrivateNetwork=yes)
  --env NAME               pass the variable NAME from this environment; may be repeated
  --env NAME=VALUE         set NAME to VALUE in the command's environment
  --capture-env            pass nearly this whole environment (by default only PATH, the
                           locale variables and TZ pass)
  -p, --property NAME=VALUE
                           set any property listed below, in unit-file syntax
                           (-p ProtectSystem=strict -p LimitNOFILE=1024); may be repeated
  -q, --quiet              print nothing but the command's own output (and unitpool's errors)
  --user                   use your own user manager (systemctl --user) instead of the system one
  -h, --help               this text

The command is looked up on PATH here; it runs in the current directory (unless
-p WorkingDirectory=...). Presets come first, then the flags in the order given: a later
one wins, paths and binds add up, and -p Name= (empty) removes a property.

Exit status: the command's, or 128+N if signal N killed it (137 after an OOM kill, which
is also named on stderr); 2 for a usage error or a refused option; 125 if the unit could
not be run; 126 if the command could not be executed; 127 if it was not found.`;

export function runHelp(): string {
  const presets = PRESET_NAMES.map((n) => `  ${n.padEnd(16)}${PRESET_DOCS[n].summary}`);
  return [RUN_USAGE, '', 'Presets (--preset NAME):', ...presets, '', 'Properties (-p NAME=VALUE; the example shows the syntax):', ...propertiesHelpLines()].join('\n');
}

const log = (s: string) => process.stderr.write(`unitpool run: ${s}\n`);

/** The command's path as systemd-run finds it: a name with a slash from the working directory, else on PATH. */
export function findExecutable(command: string, cwd: string, pathVar: string | undefined): string | undefined {
  const usable = (p: string) => {
    try {
      if (!statSync(p).isFile()) return false;
      accessSync(p, fsc.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (command.includes('/')) {
    const p = resolve(cwd, command);
    return usable(p) ? p : undefined;
  }
  const dirs = (pathVar ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin').split(delimiter);
  for (const dir of dirs) {
    if (dir === '') continue;
    const p = resolve(cwd, dir, command);
    if (usable(p)) return p;
  }
  return undefined;
}

/** The helper that holds the unit in stop-post: any sleep(1) will do. */
function sleepBinary(): string | undefined {
  return ['/usr/bin/sleep', '/bin/sleep'].find((p) => existsSync(p));
}

const STOP_TIMEOUT_USEC = 10_000_000;
/** The helper's own limit, in seconds: below the stop timeout, so that it never times the unit out. */
const HELPER_SECONDS = '9';

function ownProperties(exe: string, command: readonly string[], sockets: StdioSockets): DBusProperty[] {
  const description = `unitpool run: ${command.join(' ')}`;
  const props: DBusProperty[] = [
    ['Description', 's', description.length > 200 ? `${description.slice(0, 197)}...` : description],
    ['Type', 's', 'exec'],
    // no-env-expand: the arguments reach the command as given (systemd would expand $VAR and $$ in them).
    ['ExecStartEx', 'a(sasas)', [[exe, [...command], ['no-env-expand']]]],
    ['StandardInputFile', 's', sockets.paths.stdin],
    ['StandardOutputFile', 's', sockets.paths.stdout],
    ['StandardErrorFile', 's', sockets.paths.stderr],
    ['AddRef', 'b', true],
    ['CollectMode', 's', 'inactive-or-failed'],
    ['RemainAfterExit', 'b', false],
    ['KillMode', 's', 'control-group'],
    ['SendSIGKILL', 'b', true],
    ['TimeoutStopUSec', 't', STOP_TIMEOUT_USEC],
    // A command in a pipeline should die of SIGPIPE when the reader goes away, as it would in a shell.
    ['IgnoreSIGPIPE', 'b', false],
    ['CPUAccounting', 'b', true],
    ['MemoryAccounting', 'b', true],
    ['TasksAccounting', 'b', true],
  ];
  const sleep = sleepBinary();
  if (sleep) props.push(['ExecStopPostEx', 'a(sasas)', [[sleep, ['sleep', HELPER_SECONDS], ['privileged', 'ignore-failure']]]]);
  return props;
}

// ── stdio ─────────────────────────────────────────────────────────────────────────────────────────────

interface StdioSockets {
  paths: { stdin: string; stdout: string; stderr: string };
  /** The command's connection on each socket (the first one; later ones, from the stop-post helper, are dropped). */
  first: { stdin: Promise<Socket>; stdout: Promise<Socket>; stderr: Promise<Socket> };
  connected: { stdin?: Socket; stdout?: Socket; stderr?: Socket };
  close(): void;
}

async function openStdioSockets(bus: 'system' | 'user'): Promise<StdioSockets> {
  const dir = privateSocketDir('run', bus);
  const paths = { stdin: join(dir, 'stdin.sock'), stdout: join(dir, 'stdout.sock'), stderr: join(dir, 'stderr.sock') };
  const servers: Server[] = [];
  const connected: StdioSockets['connected'] = {};
  const firstOf = (server: Server, key: keyof StdioSockets['connected']) =>
    new Promise<Socket>((resolveFirst) => {
      server.on('connection', (sock: Socket) => {
        if (connected[key]) {
          sock.destroy();
          return;
        }
        connected[key] = sock;
        resolveFirst(sock);
      });
    });
  try {
    // The stdin socket is half-open from the start (systemd shuts down the command's writing side): keep
    // ours open for writing until our own stdin ends.
    servers.push(await listenUnix(paths.stdin, true), await listenUnix(paths.stdout), await listenUnix(paths.stderr));
  } catch (e) {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    paths,
    first: { stdin: firstOf(servers[0]!, 'stdin'), stdout: firstOf(servers[1]!, 'stdout'), stderr: firstOf(servers[2]!, 'stderr') },
    connected,
    close() {
      for (const s of servers) s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Copies the command's output socket to our stream; resolves when the socket is closed. When our reader goes
 * away (`unitpool run -- yes | head -1`), `readerGone` is called first: the command should die of SIGPIPE as
 * it would in a shell pipeline (closing the socket with unread data would give it ECONNRESET instead).
 */
function pipeOutput(sock: Socket, out: Writable, readerGone: () => Promise<void>): Promise<void> {
  return new Promise((resolveDone) => {
    sock.on('error', () => {});
    sock.once('close', () => resolveDone());
    let gone = false;
    out.on('error', () => {
      if (gone) return;
      gone = true;
      sock.unpipe(out);
      sock.pause();
      void readerGone().finally(() => sock.destroy());
    });
    sock.pipe(out, { end: false });
  });
}

/** Copies our stdin into the command's stdin socket and ends it at our EOF. */
function pipeInput(input: Readable | undefined, sock: Socket): () => void {
  sock.on('error', () => input?.unpipe(sock));
  if (!input) {
    sock.end();
    return () => {};
  }
  input.on('error', () => sock.end());
  input.pipe(sock);
  return () => {
    input.unpipe(sock);
    sock.destroy();
  };
}

function stdinStream(): Readable | undefined {
  try {
    return process.stdin;
  } catch {
    return undefined; // no usable fd 0
  }
}

function flush(stream: Writable): Promise<void> {
  return new Promise((resolveFlush) => {
    if (stream.destroyed || !stream.writable) return resolveFlush();
    stream.write('', () => resolveFlush());
  });
}

// ── the run ───────────────────────────────────────────────────────────────────────────────────────────

/** What we read of the unit while its cgroup still existed (stop-post). */
interface Snapshot {
  service: Record<string, unknown>;
  usage: CgroupUsage;
  oomKills: number | undefined;
}

function setNumber(v: unknown): number | undefined {
  if (typeof v === 'bigint') return v === UINT64_MAX ? undefined : Number(v);
  if (typeof v === 'number') return v;
  return undefined;
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

/** Runs `unitpool run ...`; resolves to the exit status for the process. */
export async function runRunCommand(argv: readonly string[]): Promise<number> {
  let cwd: string;
  try {
    cwd = process.cwd();
  } catch {
    log('the current directory no longer exists');
    return 125;
  }
  let args: RunArgs;
  try {
    args = parseRunArgs(argv, cwd);
  } catch (e) {
    if (e instanceof UsageError) {
      log(`${e.message}\nTry 'unitpool run --help'.`);
      return 2;
    }
    throw e;
  }
  if (args.help) {
    process.stdout.write(`${runHelp()}\n`);
    return 0;
  }
  const say = args.quiet ? () => {} : (s: string) => process.stderr.write(`${s}\n`);

  // The command, found here (the unit's PATH may differ, and systemd wants an absolute path).
  const exe = findExecutable(args.command[0]!, cwd, process.env.PATH);
  if (!exe) {
    log(`${args.command[0]}: command not found${args.command[0]!.includes('/') ? ' (or not executable)' : ' on PATH'}`);
    return 127;
  }

  // The unit's properties, through the library's own compiler.
  let unitOptions: UnitOptions;
  let compiled: CompiledUnitOptions;
  let origins: Origins = { flags: new Map(), items: new Map() };
  try {
    // With --capture-env, --env NAME still copies what 'inherit' leaves out (NODE_OPTIONS...).
    const envValues = [...args.envValues];
    if (args.captureEnv) for (const n of args.envNames) if (process.env[n] !== undefined) envValues.push(`${n}=${process.env[n]}`);
    const built = buildProperties({ ...args, envValues }, cwd);
    origins = built.origins;
    const properties = { ...built.properties } as Record<string, unknown>;
    if (properties.WorkingDirectory === undefined) properties.WorkingDirectory = cwd;
    const wd = properties.WorkingDirectory;
    const readable: ReadablePath[] = [{ path: exe, what: 'the command' }];
    if (typeof wd === 'string' && wd.startsWith('/')) readable.push({ path: wd, what: 'the working directory' });
    const env = args.captureEnv ? 'inherit' : args.envNames.length > 0 ? args.envNames : undefined;
    unitOptions = { properties: properties as UnitProperties, ...(env !== undefined ? { env } : {}) };
    compiled = compileUnitOptions(unitOptions, { readablePaths: readable, warn: (m) => (args.quiet ? undefined : log(`warning: ${m}`)) });
  } catch (e) {
    if (e instanceof UsageError) {
      log(`${e.message}\nTry 'unitpool run --help'.`);
      return 2;
    }
    if (e instanceof OptionError) {
      const origin = flagOf(e.option, origins, args);
      log(origin ? `${origin}: ${e.message}` : e.message);
      return 2;
    }
    throw e;
  }

  // Signals: stop the unit (or, before it exists, do not start it).
  let stops = 0;
  let firstSignal: NodeJS.Signals | undefined;
  let unitRequested = false;
  let bus: SystemdBus | undefined;
  let name = '';
  const requestStop = () => {
    if (!bus || !unitRequested) return;
    const call =
      stops === 1
        ? bus.call(MANAGER_PATH, MANAGER_IFACE, 'StopUnit', 'ss', [name, 'replace'])
        : bus.call(MANAGER_PATH, MANAGER_IFACE, 'KillUnit', 'ssi', [name, 'all', 9]);
    call.catch(() => {});
  };
  const onSignal = (sig: NodeJS.Signals) => {
    firstSignal ??= sig;
    stops++;
    requestStop();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);

  let sockets: StdioSockets | undefined;
  let watch: UnitWatch | undefined;
  let stopInput = () => {};
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
      userProperties = await enforceCapabilities(bus, args.bus, unitOptions, compiled);
    } catch (e) {
      if (e instanceof CapabilityError) {
        const origin = origins.flags.get(e.property);
        log(`${origin ? `${origin}: ` : ''}${e.property} cannot be enforced on this host: ${e.reason}; remove it to run without it`);
        return 2;
      }
      throw e;
    }
    try {
      sockets = await openStdioSockets(args.bus);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (typeof err.code !== 'string') throw e;
      log(`cannot make a private directory for the command's stdio sockets: ${err.message} (set XDG_RUNTIME_DIR to a directory of yours)`);
      return 125;
    }
    name = `unitpool-run-${randomBytes(5).toString('hex')}.service`;
    const properties = [...ownProperties(exe, args.command, sockets), ...userProperties];

    // Follow the unit; read its cgroup in stop-post, then release the helper.
    let snapshot: Snapshot | undefined;
    const w = new UnitWatch(bus, name);
    watch = w;
    const b = bus;
    w.onStopPost = async () => {
      try {
        const service = await b.getAllProperties(w.path, SERVICE_IFACE);
        const cg = typeof service.ControlGroup === 'string' ? service.ControlGroup : '';
        // Never read with an empty path: that would be the root cgroup's numbers.
        snapshot = { service, usage: cg ? cgroupUsage(cg) : {}, oomKills: cg ? oomKillCount(cg) : undefined };
      } finally {
        await b.call(MANAGER_PATH, MANAGER_IFACE, 'KillUnit', 'ssi', [name, 'control', 15]).catch(() => {});
      }
    };
    await w.arm();

    // Output and input, as soon as the command connects.
    const outputs: Promise<void>[] = [];
    const s = sockets;
    void s.first.stdin.then((sock) => (stopInput = pipeInput(stdinStream(), sock)));
    const sigpipe = () => b.call(MANAGER_PATH, MANAGER_IFACE, 'KillUnit', 'ssi', [name, 'main', osc.signals.SIGPIPE]).then(() => {}, () => {});
    const outDone = s.first.stdout.then((sock) => pipeOutput(sock, process.stdout, sigpipe));
    const errDone = s.first.stderr.then((sock) => pipeOutput(sock, process.stderr, sigpipe));

    if (stops > 0) return 128 + (osc.signals[firstSignal!] ?? 0);
    say(`Running as unit: ${name}`);
    unitRequested = true;
    const wallStart = process.hrtime.bigint();
    let startError: UnitStartError | undefined;
    try {
      await TransientUnit.start(bus, name, properties);
    } catch (e) {
      if (!(e instanceof UnitStartError)) throw e;
      startError = e;
    }
    if (stops > 0) requestStop();
    w.startDone();
    await w.finished;
    const wallUsec = Number(process.hrtime.bigint() - wallStart) / 1000;

    // Everything the command wrote, before our summary.
    await new Promise((r) => setImmediate(r));
    if (s.connected.stdout) outputs.push(outDone);
    if (s.connected.stderr) outputs.push(errDone);
    await Promise.all(outputs);
    stopInput();
    await Promise.all([flush(process.stdout), flush(process.stderr)]);

    const final = bus.isClosed ? undefined : await bus.getAllProperties(w.path, SERVICE_IFACE).catch(() => undefined);
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
        const what = status === 203 ? `could not execute ${exe}` : `systemd could not set up the command (${status}/${SYSTEMD_EXIT_STATUS[status]})`;
        log(`${what}: ${startError.message}${status === 203 ? '' : '; see journalctl -u ' + name}`);
        return status === 203 ? 126 : 125;
      }
      log(startError.message);
      return 125;
    }

    const oomKills = snapshot?.oomKills ?? 0;
    const oom = oomKills > 0 || service.Result === 'oom-kill';
    const result = oom ? 'oom-kill' : String(service.Result ?? 'unknown');
    const started = setNumber(service.ExecMainStartTimestampMonotonic);
    const exited = setNumber(service.ExecMainExitTimestampMonotonic);
    const runtime = started && exited && exited >= started ? exited - started : wallUsec;
    const cpuNs = setNumber(snapshot?.service.CPUUsageNSec) ?? undefined;
    const cpuUsec = cpuNs !== undefined ? cpuNs / 1000 : (snapshot?.usage.cpuUsec ?? (setNumber(service.CPUUsageNSec) ?? NaN) / 1000);
    const peak = setNumber(snapshot?.service.MemoryPeak) ?? snapshot?.usage.memoryPeak ?? setNumber(service.MemoryPeak);

    if (oom) {
      const limit = setNumber(service.MemoryMax);
      const cap = limit !== undefined ? ` (MemoryMax=${formatBytes(limit)})` : '';
      const who = code === 2 || code === 3 ? 'the command was killed by the kernel\'s OOM killer' : `the kernel's OOM killer killed ${oomKills > 1 ? `${oomKills} processes` : 'a process'} of the unit`;
      say(`unitpool run: ${who}: the unit ran out of memory${cap}`);
    }
    say(`Finished with result: ${result}`);
    say(`Main process terminated with: ${describeExit(code, status)}`);
    say(`Service runtime: ${formatTimespan(runtime)}`);
    say(`CPU time consumed: ${formatTimespan(cpuUsec)}`);
    say(`Memory peak: ${peak !== undefined ? formatBytes(peak) : 'unknown'}`);

    if (code === 1) return status;
    if (code === 2 || code === 3) return 128 + status;
    log(`the command did not run (unit result ${result})`);
    return 125;
  } finally {
    for (const s of signals) process.off(s, onSignal);
    watch?.dispose();
    stopInput();
    bus?.close();
    sockets?.close();
  }
}
