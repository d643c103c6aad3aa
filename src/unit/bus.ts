// A thin, promise-based D-Bus client for talking to systemd's manager.
//
// dbus-next's proxy objects introspect every object they touch (an extra round trip and an XML parse per unit);
// systemd's interfaces are stable, so we send plain method calls with explicit signatures instead. This wrapper
// also adds what dbus-next lacks: a timeout on every call, and failing every pending call when the connection drops
// (dbus-next leaves them pending forever).

import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type * as DBus from 'dbus-next';
import { DBusCallError, SystemdUnavailableError } from '../errors.js';

// dbus-next's index also loads its service and introspection parts (xml2js, xmlbuilder): half of its load
// time, which `unitpool run` pays on every start. The connection, the messages and the variants are all
// this module uses, so it loads those and does MessageBus's small part itself (WireBus below).
const load = createRequire(import.meta.url);
const { Message } = load('dbus-next/lib/message-type.js') as { Message: typeof DBus.Message };
const { Variant } = load('dbus-next/lib/variant.js') as { Variant: typeof DBus.Variant };
const { MessageType } = load('dbus-next/lib/constants.js') as { MessageType: typeof DBus.MessageType };
const createConnection = load('dbus-next/lib/connection.js') as (opts: { busAddress: string }) => WireConnection;
type DBusMessage = InstanceType<typeof Message>;
export type { DBusMessage };
export { Variant };

export const SYSTEMD = 'org.freedesktop.systemd1';
export const MANAGER_PATH = '/org/freedesktop/systemd1';
export const MANAGER_IFACE = 'org.freedesktop.systemd1.Manager';
export const UNIT_IFACE = 'org.freedesktop.systemd1.Unit';
export const SERVICE_IFACE = 'org.freedesktop.systemd1.Service';
export const SLICE_IFACE = 'org.freedesktop.systemd1.Slice';
const PROPS_IFACE = 'org.freedesktop.DBus.Properties';

/** Which bus: the system manager, the calling user's manager, or an explicit D-Bus address. */
export type BusChoice = 'system' | 'user' | { address: string };

export function resolveBusAddress(choice: BusChoice = 'system'): string {
  if (typeof choice === 'object') return choice.address;
  if (choice === 'user') {
    if (process.env.DBUS_SESSION_BUS_ADDRESS) return process.env.DBUS_SESSION_BUS_ADDRESS;
    return `unix:path=${userRuntimeDir()}/bus`;
  }
  return process.env.DBUS_SYSTEM_BUS_ADDRESS || 'unix:path=/run/dbus/system_bus_socket';
}

function userRuntimeDir(): string {
  return process.env.XDG_RUNTIME_DIR ?? `/run/user/${process.getuid?.() ?? 0}`;
}

/** dbus-next's connection: the authenticated stream, sending and receiving whole messages. */
interface WireConnection extends NodeJS.EventEmitter {
  readonly stream: NodeJS.EventEmitter & { end(): void };
  message(msg: DBusMessage): void;
}

/**
 * What dbus-next's MessageBus does for a client that exports nothing: Hello, serials, replies matched to
 * calls (an error reply rejects with its name as `type` and its text), method calls to us answered
 * UnknownMethod. Events: 'connect' (after Hello), 'message', 'error'.
 */
class WireBus extends EventEmitter {
  name: string | undefined;
  private serial = 1;
  private readonly replies = new Map<number, (reply: DBusMessage) => void>();

  constructor(readonly _connection: WireConnection) {
    super();
    _connection.on('message', (msg: DBusMessage) => {
      this.emit('message', msg);
      if (msg.type === MessageType.METHOD_RETURN || msg.type === MessageType.ERROR) {
        const serial = Number(msg.replySerial);
        const handler = this.replies.get(serial);
        this.replies.delete(serial);
        handler?.(msg);
      } else if (msg.type === MessageType.METHOD_CALL) {
        const { newError } = Message as unknown as {
          newError: (this: void, to: DBusMessage, name: string, text: string) => DBusMessage;
        };
        this.send(
          newError(
            msg,
            'org.freedesktop.DBus.Error.UnknownMethod',
            `Method '${msg.member}' on interface '${msg.interface ?? '(none)'}' does not exist`,
          ),
        );
      }
    });
    _connection.on('error', (err: Error) => this.emit('error', err));
    const hello = new Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'Hello',
    });
    this.call(hello).then(
      (reply) => {
        this.name = reply.body[0] as string;
        this.emit('connect');
      },
      (err: Error) => this.emit('error', err),
    );
  }

  call(msg: DBusMessage): Promise<DBusMessage> {
    return new Promise((resolve, reject) => {
      msg.serial = this.serial++;
      this.replies.set(msg.serial, (reply) => {
        if (reply.type === MessageType.ERROR)
          reject(
            Object.assign(new Error(String(reply.body[0] ?? '')), {
              type: reply.errorName,
              text: String(reply.body[0] ?? ''),
            }),
          );
        else resolve(reply);
      });
      this._connection.message(msg);
    });
  }

  send(msg: DBusMessage): void {
    msg.serial = this.serial++;
    this._connection.message(msg);
  }

  disconnect(): void {
    this._connection.stream.end();
  }
}

type Pending = { reject: (e: Error) => void };
type SignalHandler = (msg: DBusMessage) => void;

export class SystemdBus {
  private closed = false;
  private closeError: Error | undefined;
  private readonly pending = new Set<Pending>();
  private readonly signalHandlers = new Set<SignalHandler>();
  private readonly closeHandlers = new Set<(err: Error) => void>();

  private constructor(
    private readonly bus: WireBus,
    readonly address: string,
  ) {
    bus.on('message', (msg: DBusMessage) => {
      if (msg.type !== MessageType.SIGNAL) return;
      for (const handler of this.signalHandlers) handler(msg);
    });
    const stream = bus._connection.stream;
    const onGone = (err?: Error) =>
      this.markClosed(
        disconnected(err ? `the D-Bus connection failed: ${err.message}` : 'the D-Bus connection closed', err),
      );
    bus.on('error', onGone);
    stream.on('close', () => onGone());
    stream.on('end', () => onGone());
  }

  /** Connects and completes the D-Bus handshake (Hello), or fails with SystemdUnavailableError. */
  static async connect(choice: BusChoice = 'system', timeoutMs = 5000): Promise<SystemdBus> {
    const address = resolveBusAddress(choice);
    const bus = new WireBus(createConnection({ busAddress: address }));
    return new Promise<SystemdBus>((resolve, reject) => {
      const fail = (err: Error) => {
        clearTimeout(timer);
        try {
          bus.disconnect();
        } catch {
          /* already gone */
        }
        reject(
          new SystemdUnavailableError(address, explainConnectError(err), {
            cause: err,
            ...(choice === 'user' ? { fix: USER_BUS_FIX } : {}),
          }),
        );
      };
      const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      bus.once('error', fail);
      bus.once('connect', () => {
        clearTimeout(timer);
        bus.off('error', fail);
        resolve(new SystemdBus(bus, address));
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Calls `member` on `iface` at `path` of systemd; resolves with the reply body. */
  async call(
    path: string,
    iface: string,
    member: string,
    signature = '',
    body: unknown[] = [],
    timeoutMs = 25_000,
  ): Promise<unknown[]> {
    if (this.closed) throw this.closeError ?? disconnected('the D-Bus connection is closed');
    const msg = new Message({ destination: SYSTEMD, path, interface: iface, member, signature, body });
    return new Promise<unknown[]>((resolve, reject) => {
      const entry: Pending = {
        reject: (e) => {
          clearTimeout(timer);
          this.pending.delete(entry);
          reject(e);
        },
      };
      const timer = setTimeout(
        () =>
          entry.reject(new DBusCallError(member, 'org.freedesktop.DBus.Error.Timeout', `no reply in ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.pending.add(entry);
      this.bus.call(msg).then(
        (reply: DBusMessage | null) => {
          clearTimeout(timer);
          this.pending.delete(entry);
          resolve((reply?.body ?? []) as unknown[]);
        },
        (err: { type?: string; text?: string; message?: string }) =>
          entry.reject(
            new DBusCallError(
              member,
              err.type ?? 'org.freedesktop.DBus.Error.Failed',
              err.text ?? err.message ?? String(err as unknown),
            ),
          ),
      );
    });
  }

  /** Adds a match rule on the bus daemon so that the signals it names reach us. */
  async addMatch(rule: string): Promise<void> {
    if (this.closed) throw this.closeError ?? disconnected('the D-Bus connection is closed');
    const msg = new Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'AddMatch',
      signature: 's',
      body: [rule],
    });
    await this.bus.call(msg);
  }

  /** The pid of the systemd manager on this bus, as the bus daemon sees it (undefined if it will not say). */
  async managerPid(timeoutMs = 5000): Promise<number | undefined> {
    if (this.closed) return undefined;
    const msg = new Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'GetConnectionUnixProcessID',
      signature: 's',
      body: [SYSTEMD],
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = (await Promise.race([
        this.bus.call(msg),
        new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs))),
      ])) as DBusMessage | null;
      const pid: unknown = reply?.body?.[0];
      return typeof pid === 'number' && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  onSignal(handler: SignalHandler): () => void {
    this.signalHandlers.add(handler);
    return () => this.signalHandlers.delete(handler);
  }

  onClose(handler: (err: Error) => void): () => void {
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  async getProperty(path: string, iface: string, name: string): Promise<unknown> {
    const [variant] = await this.call(path, PROPS_IFACE, 'Get', 'ss', [iface, name]);
    return (variant as InstanceType<typeof Variant>).value;
  }

  async getAllProperties(path: string, iface: string): Promise<Record<string, unknown>> {
    const [dict] = await this.call(path, PROPS_IFACE, 'GetAll', 's', [iface]);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(dict as Record<string, InstanceType<typeof Variant>>)) out[k] = v.value;
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.markClosed(disconnected('the D-Bus connection was closed by unitpool'));
    try {
      this.bus.disconnect();
    } catch {
      /* already gone */
    }
  }

  private markClosed(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = err;
    for (const p of [...this.pending]) p.reject(err);
    for (const handler of this.closeHandlers) handler(err);
  }
}

/** The error calls get once the connection is gone. */
function disconnected(detail: string, cause?: Error): DBusCallError {
  return new DBusCallError('connection', 'org.freedesktop.DBus.Error.Disconnected', detail, { cause });
}

/** What to do when the calling user's own manager cannot be reached (bus: 'user'). */
const USER_BUS_FIX =
  "bus: 'user' talks to your own systemd user manager (`systemctl --user`) through its bus, $DBUS_SESSION_BUS_ADDRESS or " +
  '$XDG_RUNTIME_DIR/bus: log in (or, as root, `loginctl enable-linger <user>`) so that user@<uid>.service runs, make sure ' +
  'the session bus is socket-activated there (Debian: apt-get install dbus-user-session), and run with XDG_RUNTIME_DIR=/run/user/<uid>; ' +
  "or use the system manager as root (bus: 'system'), or isolation: 'none' to run plain child processes without confinement.";

function explainConnectError(err: Error & { code?: string }): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no D-Bus socket there (is dbus-daemon running?)';
    case 'ECONNREFUSED':
      return 'the D-Bus socket refused the connection (dbus-daemon is not running)';
    case 'EACCES':
      return 'permission denied on the D-Bus socket';
    default:
      return err.message;
  }
}
