import { named, UnitPoolError, type UnitPoolErrorOptions } from '../errors.js';

/** Why a sandbox could not be started (or stopped cleanly). Stable, for programs to act on. */
export type SandboxFailure =
  /** Not running as root (uid 0). */
  | 'not-root'
  /** No systemd binary (/lib/systemd/systemd) or systemd-run. */
  | 'no-systemd'
  /** No dbus-daemon. */
  | 'no-dbus'
  /** A util-linux/bsdutils/coreutils tool is missing: unshare, setpriv, nsenter, mount, umount, script, bash. */
  | 'no-tools'
  /** The cgroup file systems are laid out in a way the sandbox cannot mirror. */
  | 'cgroup-layout'
  /** The kernel refused to create namespaces or mounts (e.g. an unprivileged container). */
  | 'namespaces'
  /** systemd did not come up, or its bus did not answer in time. */
  | 'boot'
  /** A --keep path (or the command's cwd) cannot be kept visible. */
  | 'keep'
  /** The sandbox is not needed: systemd already is PID 1 (and force was not given). */
  | 'not-needed'
  /** Something was left behind at stop (a cgroup that would not go away). */
  | 'cleanup';

/**
 * The sandbox could not be built, booted or cleaned up. `reason` says which; the message says what to do.
 * Code `ERR_UNITPOOL_SANDBOX`.
 */
export class SandboxError extends UnitPoolError {
  static {
    named(this, 'SandboxError');
  }
  override readonly code = 'ERR_UNITPOOL_SANDBOX';
  readonly reason: SandboxFailure;
  /** What systemd and the boot script printed, when there is any (the tail of it). */
  readonly output: string;

  constructor(reason: SandboxFailure, message: string, output = '', options: UnitPoolErrorOptions = {}) {
    super(output ? `${message}\n--- sandbox output (tail) ---\n${output.trimEnd()}` : message, options);
    this.reason = reason;
    this.output = output;
  }
}
