// Starting a pool's unit: the supervisor (worker-entry/supervisor.js) becomes the main process of one transient
// service, and systemd itself connects its stdin/stdout to our control socket and its stderr to our log socket,
// as root and before it builds the sandbox. So the channel needs no fd passing, no native module, and works
// whatever the unit may not see (PrivateNetwork, ProtectSystem, InaccessiblePaths on our socket's directory...).
//
//   pool ── StartTransientUnit(ExecStart=node supervisor.js, StandardInputFile=ctl.sock, ...) ──> systemd
//   systemd ── connect(ctl.sock), connect(log.sock), namespaces, setuid, seccomp, exec ──> supervisor
//   pool <── accept() both ── then the socket files are removed; the connections stay.

import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import type { Server, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnitStartError } from '../errors.js';
import { DIRECT_SOCKET } from '../wire/direct.js';
import type { SupervisorConfig } from '../wire/messages.js';
import type { SystemdBus } from './bus.js';
import { listenUnix, privateSocketDir } from './sockets.js';
import { type DBusProperty, TransientUnit } from './transient.js';

export interface LaunchOptions {
  bus: SystemdBus;
  /** Properties compiled from the user's options (D-Bus name, signature, value). */
  properties: readonly DBusProperty[];
  supervisor: SupervisorConfig;
  /** Prefix of the unit name; a random suffix is added. */
  namePrefix?: string;
  /** How long creating the unit and connecting its supervisor may take (default 30 s). */
  startTimeoutMs?: number;
  /** Receives every chunk the supervisor writes to its stderr. */
  onLog?: (chunk: Buffer) => void;
  /**
   * Where the manager creates RuntimeDirectory= entries, as seen from here: /run for the system manager,
   * $XDG_RUNTIME_DIR for a user manager. Absent: no direct worker connections, every frame is relayed.
   */
  runtimeRoot?: string;
}

export interface Launched {
  unit: TransientUnit;
  /** The control connection: the supervisor's stdin and stdout. */
  control: Socket;
  /** The supervisor's stderr. */
  log: Socket;
  /**
   * The socket the supervisor listens on for direct worker connections (if it can: see its Hello). When set, the
   * supervisor forks no initial workers: each is forked when the pool connects for it (or asks, if relayed).
   */
  directPath: string | undefined;
}

/** Properties the pool always sets; users cannot override them (the property table refuses them). */
function ownProperties(name: string, ctl: string, log: string, config: SupervisorConfig): DBusProperty[] {
  const node = process.execPath;
  // Where the supervisor listens for direct worker connections: writable by the unit's user whatever else is
  // read-only or hidden, and removed by systemd when the unit stops. (A user's RuntimeDirectory= adds to it.)
  const runtime: DBusProperty[] = config.directDir ? [['RuntimeDirectory', 'as', [config.directDir]]] : [];
  return [
    ...runtime,
    ['Description', 's', `unitpool worker pool (${name})`],
    ['Type', 's', 'exec'],
    ['ExecStart', 'a(sasb)', [[node, [node, supervisorPath(), JSON.stringify(config)], false]]],
    ['StandardInputFile', 's', ctl],
    ['StandardOutputFile', 's', ctl],
    ['StandardErrorFile', 's', log],
    ['KillMode', 's', 'control-group'],
    ['SendSIGKILL', 'b', true],
    ['TimeoutStopUSec', 't', 3_000_000],
    ['CollectMode', 's', 'inactive-or-failed'],
    ['RemainAfterExit', 'b', false],
    // A worker killed by the OOM killer must not stop the unit: the pool reports it and forks a new worker.
    // (Properties the user sets come later in the list, and win.)
    ['OOMPolicy', 's', 'continue'],
  ];
}

/** The compiled supervisor, next to this module once built (dist/src/unit -> dist/worker-entry). */
export function supervisorPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, '..', '..', 'worker-entry', 'supervisor.js'), // dist/src/unit -> dist/worker-entry
    join(here, '..', '..', 'dist', 'worker-entry', 'supervisor.js'), // src/unit (tests run from source) -> dist
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`unitpool's worker entry is not built (looked for ${candidates.join(', ')}): run \`npm run build\``);
  return found;
}

function firstConnection(server: Server): Promise<Socket> {
  return new Promise((resolve) => server.once('connection', resolve));
}

export async function launchSupervisor(opts: LaunchOptions): Promise<Launched> {
  const name = `${opts.namePrefix ?? 'unitpool'}-${randomBytes(5).toString('hex')}.service`;
  const dir = privateSocketDir('p');
  const ctlPath = join(dir, 'ctl.sock');
  const logPath = join(dir, 'log.sock');
  const servers: Server[] = [];
  const captured: Buffer[] = [];
  let capturedBytes = 0;
  const keepTail = (chunk: Buffer) => {
    captured.push(chunk);
    capturedBytes += chunk.length;
    while (capturedBytes > 16_384 && captured.length > 1) capturedBytes -= captured.shift()!.length;
  };
  try {
    const [ctlServer, logServer] = await Promise.all([listenUnix(ctlPath), listenUnix(logPath)]);
    servers.push(ctlServer, logServer);
    const control = firstConnection(ctlServer);
    const log = firstConnection(logServer).then((sock) => {
      sock.on('data', (chunk: Buffer) => {
        keepTail(chunk);
        opts.onLog?.(chunk);
      });
      sock.on('error', () => {});
      return sock;
    });
    const tail = () => Buffer.concat(captured).toString('utf8');
    const directDir = opts.runtimeRoot ? name.replace(/\.service$/, '') : undefined;
    const supervisor: SupervisorConfig = { ...opts.supervisor, ...(directDir ? { directDir, initialWorkers: 0 } : {}) };
    const properties = [...ownProperties(name, ctlPath, logPath, supervisor), ...opts.properties];
    const timeout = opts.startTimeoutMs ?? 30_000;
    const unit = await TransientUnit.start(opts.bus, name, properties, tail, timeout);
    let timer: NodeJS.Timeout | undefined;
    const connected = await Promise.race([
      Promise.all([control, log]),
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeout))),
    ]);
    clearTimeout(timer);
    if (!connected) {
      await unit.stop().catch(() => {});
      throw new UnitStartError(`${name} started but its supervisor did not connect within ${timeout} ms`, 'timeout', tail(), { unit: name });
    }
    const directPath = directDir ? join(opts.runtimeRoot!, directDir, DIRECT_SOCKET) : undefined;
    return { unit, control: connected[0], log: connected[1], directPath };
  } finally {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * isolation: 'none': the supervisor is a plain child process of ours, with the same protocol on fd 3, for machines
 * without systemd. Nothing is confined; only timeouts and crash handling remain.
 */
export async function launchLocal(config: SupervisorConfig, onLog?: (chunk: Buffer) => void): Promise<{ control: Socket; log: NodeJS.ReadableStream; pid: number }> {
  const child = spawn(process.execPath, [supervisorPath(), JSON.stringify({ ...config, channelFd: 3 })], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  child.stderr!.on('data', (chunk: Buffer) => onLog?.(chunk));
  // The supervisor must not outlive us; it also exits when its channel closes.
  child.unref();
  return { control: child.stdio[3] as Socket, log: child.stderr!, pid: child.pid! };
}
