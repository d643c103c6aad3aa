// isolation 'pool': one transient service, unitpool-<id>.service, whose main process is the supervisor
// (worker-entry/supervisor.ts); it forks every worker when asked. isolation 'none': the same supervisor as a plain
// child process of ours, for machines without systemd.
//
//   pool ── control socket (the supervisor's stdin/stdout, connected by systemd) ── supervisor ── fork ── worker k
//        └─ link socket (link-server.ts) <── worker k's direct link, opened with the key drawn for it
//
// Owns: the D-Bus connection, the unit, the control socket and its frames (channel 0 is the supervisor's own
// messages, channel k is worker k relayed), the link server, whether new workers are linked or relayed, and the
// diagnosis of a unit that lost its supervisor (did systemd or someone stop it on purpose? did the OOM killer
// strike?). What the supervisor sends is untrusted: anything malformed cuts it off, which counts as its death.
// It knows nothing of tasks, and decides nothing about them: it reports to HostEvents.

import type { Socket } from 'node:net';
import { debuglog } from 'node:util';
import { type ExitReason, UsageError } from '../../errors.js';
import type { CompiledUnitOptions } from '../../properties/index.js';
import type { BusChoice, SystemdBus } from '../../unit/bus.js';
import type { DBusProperty, TransientUnit } from '../../unit/transient.js';
import { encode } from '../../wire/codec.js';
import { encodeBoot } from '../../wire/direct.js';
import { FrameDecoder } from '../../wire/frame-decoder.js';
import { FrameWriter } from '../../wire/frame-writer.js';
import { type MalformedMessageError, parseFromSupervisor } from '../../wire/message-parser.js';
import { FromSupervisor, type FromSupervisorMessage, ToSupervisor } from '../../wire/messages.js';
import { DirectChannel } from '../channel/direct.js';
import { RelayChannel } from '../channel/relay.js';
import type { HostEvents, PoolUsage, WorkerHost } from './host.js';
import { launchLocal, launchSupervisor } from './launch.js';
import { LinkServer } from './link-server.js';
import { connectManager, OomKills, stopUnit, unitUsage } from './systemd.js';

const debug = debuglog('unitpool');
const noop = () => {};

export interface SupervisorHostOptions {
  /** No systemd: the supervisor is a child process (isolation 'none'). */
  local: boolean;
  bus: BusChoice;
  compiled: CompiledUnitOptions;
  maxFrame: number;
  startTimeout: number | undefined;
  /** Where the supervisor's own stderr goes. */
  stderr: () => NodeJS.WritableStream;
}

export class SupervisorHost implements WorkerHost {
  private bus: SystemdBus | undefined;
  private transient: TransientUnit | undefined;
  private control: Socket | undefined;
  private writer: FrameWriter | undefined;
  /** How new workers get their channel: a direct link of their own, or relayed by the supervisor. */
  private spawnMode: 'direct' | 'relay' = 'relay';
  private links: LinkServer | undefined;
  private linkKind: 'system' | 'user' | undefined;
  /** The unit's properties, as checked against the host at start (a fresh unit after a supervisor death reuses them). */
  private properties: readonly DBusProperty[] = [];
  /** Why the supervisor was cut off, for the report when its connection closes. */
  private faultSeen: string | undefined;
  private oomKills: OomKills | undefined;
  /** endControl() was called: the connection's close is expected. */
  private ended = false;

  constructor(
    private readonly options: SupervisorHostOptions,
    private readonly events: HostEvents,
  ) {}

  get unit(): TransientUnit | undefined {
    return this.transient;
  }

  get unitName(): string | undefined {
    return this.transient?.name;
  }

  get canSpawn(): boolean {
    return this.writer !== undefined;
  }

  async open(initial: () => number[]): Promise<void> {
    try {
      if (!this.options.local) {
        const manager = await connectManager(this.options.bus, this.options.compiled);
        this.bus = manager.bus;
        this.properties = manager.properties;
        // The system manager binds our link socket into the unit read-only; a user manager's unit runs as us and
        // sees our own directory. Anyone else (a non-root caller of the system manager) relays.
        this.linkKind = this.options.bus === 'user' ? 'user' : process.getuid?.() === 0 ? 'system' : undefined;
        // A unit whose filter denies socket(2) (untrusted) cannot open a link: relay from the start, rather than
        // have the supervisor find out with connect() failing with EPERM.
        if (socketDenied(this.properties)) this.linkKind = undefined;
        if (this.linkKind)
          this.links = await LinkServer.listen(this.linkKind, (id, socket, rest) => this.onLink(id, socket, rest));
      }
      await this.launch(initial());
    } catch (err) {
      // Without a unit there is nothing for close() to stop: let go of the connection now, or it keeps the process
      // alive until someone calls shutdown().
      if (!this.transient) this.release();
      throw err;
    }
  }

  spawn(id: number): void {
    if (this.spawnMode === 'direct' && this.links) {
      this.writer!.write(0, encode([ToSupervisor.Spawn, id, this.links.expect(id)]));
      return;
    }
    this.writer!.write(0, encode([ToSupervisor.Spawn, id]));
    this.events.relayed(id, this.relay(id));
  }

  signal(id: number, signal: string): void {
    this.writer?.write(0, encode([ToSupervisor.Kill, id, signal]));
  }

  forget(id: number): void {
    this.links?.forget(id);
  }

  /** SIGKILL plus a new OOM kill in the unit's memory cgroup means the OOM killer. */
  exitReason(signal: string | null): ExitReason {
    return this.oomKills?.reason(signal) ?? (signal ? 'signal' : 'exit');
  }

  usage(): Promise<PoolUsage> {
    if (!this.transient) {
      return Promise.reject(
        new UsageError(
          `usage() needs the pool's unit: with isolation: 'none' there is none (run the pool under systemd for its usage)`,
        ),
      );
    }
    return unitUsage(this.transient);
  }

  /**
   * The supervisor died while the pool was open: stop what is left of the old unit (KillMode=control-group: whatever
   * the task left in it goes with it) and start a fresh one.
   */
  async relaunch(wanted: () => boolean, initial: () => number[]): Promise<void> {
    const old = this.transient;
    await old?.stop(this.bus).catch(noop);
    await old?.unref();
    if (!wanted()) return;
    await this.launch(initial());
  }

  async killAll(): Promise<void> {
    await this.transient?.kill(9).catch(() => {});
  }

  endControl(): void {
    this.ended = true;
    this.control?.end();
    this.control?.destroy();
  }

  async close(): Promise<void> {
    this.endControl();
    if (!this.transient || !this.bus) return this.release();
    try {
      await stopUnit(this.bus, this.options.bus, this.transient);
    } finally {
      this.release();
    }
  }

  private release(): void {
    this.links?.close();
    this.bus?.close();
  }

  /** Starts the unit (or the local supervisor) with the workers `ids`. */
  private async launch(ids: number[]): Promise<void> {
    const first = ids[0] ?? 0;
    const supervisor = {
      initialWorkers: ids.length,
      firstWorkerId: first,
      maxFrame: this.options.maxFrame,
      workerOomScoreAdj: 500,
      workerExecArgv: [],
    };
    const onLog = (chunk: Buffer) => this.options.stderr().write(chunk);
    this.spawnMode = this.links ? 'direct' : 'relay';
    let control: Socket;
    if (this.options.local) {
      control = (await launchLocal(supervisor, onLog)).control;
    } else {
      // The first workers' keys go in the boot frame, so the supervisor forks them as soon as it runs.
      const links = this.links;
      const boot = links ? encodeBoot(ids.map((id) => [id, links.expect(id)] as const)) : undefined;
      const launched = await launchSupervisor({
        bus: this.bus!,
        properties: this.properties,
        supervisor,
        onLog,
        ...(links ? { link: { path: links.path, bind: this.linkKind === 'system' && this.changesUser() }, boot } : {}),
        ...(this.options.startTimeout !== undefined ? { startTimeoutMs: this.options.startTimeout } : {}),
      });
      this.transient = launched.unit;
      control = launched.control;
      this.oomKills = new OomKills(launched.unit.controlGroup);
    }
    debug('unit started: %s, %d workers', this.transient?.name ?? '(isolation: none)', ids.length);
    this.control = control;
    // What we send is ours (no limit but the wire's 4 GiB); what we receive is checked against maxFrame.
    this.writer = new FrameWriter(control);
    this.attach(control);
    // Relayed, the first workers were forked by the supervisor at once.
    if (this.spawnMode === 'relay') for (const id of ids) this.events.relayed(id, this.relay(id));
  }

  private relay(id: number): RelayChannel {
    return new RelayChannel(this.writer!, id, this.control!);
  }

  /**
   * Does the unit run as another user than ours? Then it cannot reach our private directory, and sees our link
   * socket through a read-only bind mount (which gives the unit a mount namespace). A unit that runs as root, as
   * we do, reaches the socket where it is.
   */
  private changesUser(): boolean {
    const requested = this.options.compiled.requested;
    return (
      requested.User !== undefined ||
      requested.DynamicUser === true ||
      this.properties.some(([key]) => key === 'User' || key === 'DynamicUser')
    );
  }

  private attach(control: Socket): void {
    const decoder = new FrameDecoder({
      maxFrame: this.options.maxFrame,
      onFrame: (channel: number, payload: Buffer) =>
        channel === 0 ? this.onMessage(payload) : this.events.frame(channel, payload),
    });
    control.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        this.cutOff(`an unusable frame (${(err as Error).message})`);
      }
    });
    control.on('error', noop);
    control.on('close', () => void this.onGone(control));
  }

  /** The link server admitted worker `id`'s connection (it had the key drawn for it). */
  private onLink(id: number, socket: Socket, rest: Buffer): void {
    const channel = new DirectChannel(socket, rest, id, this.options.maxFrame, {
      onFrame: (payload) => this.events.frame(id, payload),
      onFault: (err) => this.events.fault(id, `a bad frame (${err.message})`),
      onClose: () => this.events.linkClosed(id),
    });
    if (!this.events.linked(id, channel)) socket.destroy();
  }

  /** A message of the supervisor's own (channel 0): untrusted, parsed once, then typed. */
  private onMessage(payload: Buffer): void {
    let msg: FromSupervisorMessage;
    try {
      msg = parseFromSupervisor(payload);
    } catch (err) {
      return this.cutOff((err as MalformedMessageError).problem ?? 'a frame that is not a valid message');
    }
    switch (msg[0]) {
      case FromSupervisor.Hello:
        return debug(
          'supervisor %d is up; workers are %s',
          msg[1],
          this.spawnMode === 'direct' ? 'linked directly' : 'relayed',
        );
      case FromSupervisor.Spawned:
        return this.onSpawned(msg[1], msg[2], msg[3] === 1);
      case FromSupervisor.Exited:
        return this.events.exited(msg[1], msg[2], msg[3]);
      case FromSupervisor.SpawnFailed:
        return this.events.exited(msg[1], null, null, new Error(msg[2]));
      case FromSupervisor.Output:
        this.events.output(msg[2], msg[3], this.control);
        return;
      case FromSupervisor.WorkerFault:
        return this.events.fault(msg[1], `a bad frame (${msg[2]})`);
    }
  }

  private onSpawned(id: number, pid: number, fellBack: boolean): void {
    if (!fellBack) return this.events.started(id, pid);
    // Its link could not be opened from inside the unit (a path hidden, socket(2) denied): relay from now on.
    debug('worker %d: no direct link possible; relaying every worker from now on', id);
    this.links?.forget(id);
    this.spawnMode = 'relay';
    this.events.started(id, pid, this.relay(id));
  }

  /** The supervisor sent what it never would: it is broken or taken over; cut it off (onGone follows). */
  private cutOff(what: string): void {
    debug('protocol fault from the supervisor: %s', what);
    this.faultSeen = `its supervisor sent ${what}, and was cut off`;
    this.control?.destroy();
  }

  /**
   * The control connection closed. Reports why, and whether the unit was stopped on purpose: by systemd
   * (RuntimeMaxSec=; an OOM kill under OOMPolicy=stop or kill, which asks for the whole unit to go), or by a stop
   * job someone started (the unit has a job then). The pool decides what follows.
   */
  private async onGone(control: Socket): Promise<void> {
    if (control !== this.control || this.ended) return;
    this.control = undefined;
    this.writer = undefined;
    let why = this.faultSeen ?? 'its supervisor went away';
    this.faultSeen = undefined;
    const props = await this.transient?.properties().catch(() => undefined);
    const result = props ? String(props.service.Result) : undefined;
    if (props) why += `; systemd says ActiveState=${String(props.unit.ActiveState)}, Result=${result}`;
    const kills = this.oomKills?.unexplained() ?? 0;
    if (kills > 0)
      why += `; the kernel's OOM killer killed ${kills} process(es) of the unit: its memory limit is too small`;
    const job = props?.unit.Job;
    const oomStops =
      result === 'oom-kill' && ['stop', 'kill'].includes(String(this.options.compiled.requested.OOMPolicy));
    const onPurpose =
      result === 'timeout' ||
      oomStops ||
      (Array.isArray(job) && Number(job[0]) !== 0) ||
      (props?.unit.ActiveState === 'inactive' && result === 'success');
    this.events.unitGone(why, onPurpose);
  }
}

/** The unit's seccomp filter denies socket(2) (SystemCallFilter=~socket, as untrusted has it). */
function socketDenied(properties: readonly DBusProperty[]): boolean {
  return properties.some(([key, , value]) => {
    if (key !== 'SystemCallFilter') return false;
    const [allowList, names] = value as [boolean, string[]];
    return !allowList && names.some((name) => name === 'socket' || name.startsWith('socket:'));
  });
}
