// Starting a pool's unit: the supervisor (worker-entry/supervisor.js) becomes the main process of one transient
// service, and systemd itself connects its stdin/stdout to our control socket and its stderr to our log socket,
// as root and before it builds the sandbox. So the channel needs no fd passing, no native module, and works
// whatever the unit may not see (PrivateNetwork, ProtectSystem, InaccessiblePaths on our socket's directory...).
//
//   pool ── StartTransientUnit(ExecStart=node supervisor.js, StandardInputFile=ctl.sock, ...) ──> systemd
//   systemd ── connect(ctl.sock), connect(log.sock), namespaces, setuid, seccomp, exec ──> supervisor
//   pool <── accept() both ── then the socket files are removed; the connections stay.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnitStartError } from '../../errors.js';
import { LINK_PATH } from '../../wire/direct.js';
import type { SupervisorConfig } from '../../wire/messages.js';
import type { SystemdBus } from '../../unit/bus.js';
import { stdioSockets } from '../../unit/sockets.js';
import { type DBusProperty, TransientUnit } from '../../unit/transient.js';

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
   * The pool's link socket (src/pool/link-server.ts), and whether the unit sees it through a read-only bind mount
   * at LINK_PATH (the system manager) or at its own path (a user manager, which sets up no mount namespace, runs
   * the unit as the pool's own user). Absent: no direct links, every frame is relayed.
   */
  link?: { path: string; bind: boolean };
  /** The first frame on the control channel (the boot frame, when there is a link). */
  boot?: Buffer;
}

export interface Launched {
  unit: TransientUnit;
  /** The control connection: the supervisor's stdin and stdout. */
  control: Socket;
  /** The supervisor's stderr. */
  log: Socket;
}

/** Properties the pool always sets; users cannot override them (the property table refuses them). */
function ownProperties(
  name: string,
  ctl: string,
  log: string,
  config: SupervisorConfig,
  link: LaunchOptions['link'],
): DBusProperty[] {
  const node = process.execPath;
  // The pool's link socket, one file bound read-only (the unit can neither replace nor unlink it; the directory it
  // lives in stays out of reach). A user's BindReadOnlyPaths= adds to it.
  const bind: DBusProperty[] = link?.bind ? [['BindReadOnlyPaths', 'a(ssbt)', [[link.path, LINK_PATH, false, 0]]]] : [];
  return [
    ...bind,
    ['Description', 's', `unitpool worker pool (${name})`],
    ['Type', 's', 'exec'],
    ['ExecStart', 'a(sasb)', [[node, [node, entryPath('supervisor.js'), JSON.stringify(config)], false]]],
    ['StandardInputFile', 's', ctl],
    ['StandardOutputFile', 's', ctl],
    ['StandardErrorFile', 's', log],
    ['KillMode', 's', 'control-group'],
    ['SendSIGKILL', 'b', true],
    ['TimeoutStopUSec', 't', 3_000_000],
    ['CollectMode', 's', 'inactive-or-failed'],
    // Readable after it ends, until our connection closes: how it ended decides whether a fresh unit takes over.
    ['AddRef', 'b', true],
    ['RemainAfterExit', 'b', false],
    // A worker killed by the OOM killer must not stop the unit: the pool reports it and forks a new worker.
    // (Properties the user sets come later in the list, and win.)
    ['OOMPolicy', 's', 'continue'],
  ];
}

/** A compiled entry point of worker-entry/ (supervisor.js, worker.js), found from this module once built. */
export function entryPath(file: 'supervisor.js' | 'worker.js'): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, '..', '..', '..', 'worker-entry', file), // dist/src/pool/host -> dist/worker-entry
    join(here, '..', '..', '..', 'dist', 'worker-entry', file), // src/pool/host (tests run from source) -> dist
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new Error(
      `unitpool's worker entry is not built (looked for ${candidates.join(', ')}): run \`npm run build\``,
    );
  return found;
}

export async function launchSupervisor(opts: LaunchOptions): Promise<Launched> {
  const name = `${opts.namePrefix ?? 'unitpool'}-${randomBytes(5).toString('hex')}.service`;
  const stdio = await stdioSockets(['ctl', 'log'] as const);
  const captured: Buffer[] = [];
  let capturedBytes = 0;
  const keepTail = (chunk: Buffer) => {
    captured.push(chunk);
    capturedBytes += chunk.length;
    while (capturedBytes > 16_384 && captured.length > 1) capturedBytes -= captured.shift()!.length;
  };
  try {
    const control = stdio.connected.ctl;
    const log = stdio.connected.log.then((sock) => {
      sock.on('data', (chunk: Buffer) => {
        keepTail(chunk);
        opts.onLog?.(chunk);
      });
      sock.on('error', () => {});
      return sock;
    });
    const tail = () => Buffer.concat(captured).toString('utf8');
    const supervisor: SupervisorConfig = {
      ...opts.supervisor,
      ...(opts.link ? { linkPath: opts.link.bind ? LINK_PATH : opts.link.path } : {}),
    };
    const properties = [
      ...ownProperties(name, stdio.paths.ctl, stdio.paths.log, supervisor, opts.link),
      ...opts.properties,
    ];
    // Written now, read by the supervisor as soon as it runs (before anything else may read the channel).
    if (opts.boot) void control.then((sock) => sock.write(opts.boot!));
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
      throw new UnitStartError(
        `${name} started but its supervisor did not connect within ${timeout} ms`,
        'timeout',
        tail(),
        { unit: name },
      );
    }
    return { unit, control: connected[0], log: connected[1] };
  } finally {
    stdio.close();
  }
}

/**
 * isolation: 'none': the supervisor is a plain child process of ours, with the same protocol on fd 3, for machines
 * without systemd. Nothing is confined; only timeouts and crash handling remain.
 */
export async function launchLocal(
  config: SupervisorConfig,
  onLog?: (chunk: Buffer) => void,
): Promise<{ control: Socket; log: NodeJS.ReadableStream; pid: number }> {
  const child = spawn(process.execPath, [entryPath('supervisor.js'), JSON.stringify({ ...config, channelFd: 3 })], {
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
