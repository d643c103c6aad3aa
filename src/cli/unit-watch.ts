// Following one transient service through its states for `unitpool run`, from the PropertiesChanged signals
// systemd sends about it (it sends them to us because we hold a reference on the unit: AddRef=true), with a
// slow poll as a safety net. Two moments matter:
//
//   stop-post   the main process has exited (or was stopped) and its leftovers are gone, but the unit's
//               cgroup still exists, held by the ExecStopPost helper: the moment to read the cgroup files
//               (CPU time, memory peak, OOM kills), which systemd removes as soon as the unit is inactive.
//   inactive / failed   the end; the unit's properties (Result, ExecMainCode/Status) stay readable while our
//               reference holds it.

import { DBusCallError } from '../errors.js';
import { type DBusMessage, SYSTEMD, type SystemdBus, UNIT_IFACE } from '../unit/bus.js';

/** systemd's object path for a unit name (bus_label_escape: all but [A-Za-z0-9] as _xx; a leading digit too). */
export function unitObjectPath(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    const ok = /[A-Za-z]/.test(c) || (i > 0 && /[0-9]/.test(c));
    out += ok ? c : `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  }
  return `/org/freedesktop/systemd1/unit/${out}`;
}

const ENDED = new Set(['inactive', 'failed']);

export class UnitWatch {
  readonly path: string;
  /** Resolves once the unit is inactive or failed (or gone, or the bus dropped), after onStopPost finished. */
  readonly finished: Promise<void>;
  /** Called once when the unit enters stop-post; the unit stays there until it returns (and kills the helper). */
  onStopPost: (() => Promise<void>) | undefined;

  private active: string | undefined;
  private sub: string | undefined;
  private seenActive = false;
  private startSettled = false;
  private stopPost: Promise<void> | undefined;
  private done = false;
  private resolveFinished!: () => void;
  private timer: NodeJS.Timeout | undefined;
  private offSignal: (() => void) | undefined;
  private offClose: (() => void) | undefined;
  private polling = false;

  constructor(
    private readonly bus: SystemdBus,
    readonly name: string,
    private readonly pollMs = 500,
  ) {
    this.path = unitObjectPath(name);
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  /** Subscribes to the unit's signals; call before StartTransientUnit so that no state is missed. */
  async arm(): Promise<void> {
    await this.bus.addMatch(
      `type='signal',sender='${SYSTEMD}',path='${this.path}',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged'`,
    );
    this.offSignal = this.bus.onSignal((msg: DBusMessage) => {
      if (msg.path !== this.path || msg.member !== 'PropertiesChanged') return;
      const [iface, changed] = msg.body as [string, Record<string, { value: unknown }>];
      if (iface !== UNIT_IFACE) return;
      this.observe(changed.ActiveState?.value as string | undefined, changed.SubState?.value as string | undefined);
    });
    this.offClose = this.bus.onClose(() => this.finish());
  }

  /** The start job is over (done or failed): from now on an inactive unit means the end, and we poll too. */
  startDone(): void {
    this.startSettled = true;
    this.timer ??= setInterval(() => void this.poll(), this.pollMs);
    void this.poll();
  }

  /** The last ActiveState/SubState seen. */
  get state(): string {
    return `${this.active ?? '?'}/${this.sub ?? '?'}`;
  }

  dispose(): void {
    clearInterval(this.timer);
    this.offSignal?.();
    this.offClose?.();
  }

  private async poll(): Promise<void> {
    if (this.polling || this.done) return;
    this.polling = true;
    try {
      // Three Gets, not a GetAll of the unit's hundred-odd properties: this runs right after every start.
      const [load, active, sub] = await Promise.all(
        ['LoadState', 'ActiveState', 'SubState'].map((n) => this.bus.getProperty(this.path, UNIT_IFACE, n)),
      );
      if (load === 'not-found') this.finish();
      else this.observe(active as string, sub as string);
    } catch (err) {
      if (err instanceof DBusCallError && /UnknownObject|NoSuchUnit/.test(err.dbusName)) this.finish();
      else if (this.bus.isClosed) this.finish();
    } finally {
      this.polling = false;
    }
  }

  private observe(active: string | undefined, sub: string | undefined): void {
    if (this.done) return;
    if (active !== undefined) this.active = active;
    if (sub !== undefined) this.sub = sub;
    if (this.active !== undefined && !ENDED.has(this.active)) this.seenActive = true;
    if (this.sub === 'stop-post' && this.stopPost === undefined) {
      this.stopPost = (this.onStopPost?.() ?? Promise.resolve()).catch(() => {});
    }
    if (this.active !== undefined && ENDED.has(this.active) && (this.seenActive || this.startSettled)) this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.dispose();
    void (this.stopPost ?? Promise.resolve()).then(() => this.resolveFinished());
  }
}
