// What is checked and resolved on the host before a sandbox boots: that this process may build one (root in the
// initial user namespace, no systemd as PID 1 already), that the tools are installed, and which paths stay visible
// inside (keepPaths). Everything here only reads the host; nothing is created or changed.

import { accessSync, constants as fsc, existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkOptions,
  boolean,
  either,
  func,
  nonEmptyString,
  positiveMilliseconds,
  type SchemaOf,
  stringArray,
} from '../options/check.js';
import { parseMountInfo } from './cgroups.js';
import { SandboxError } from './errors.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The boot script; found next to this file (copied into dist/ by scripts/copy-assets.mjs). */
export const BOOT_SCRIPT = join(HERE, 'boot.sh');
export const WATCHDOG_SCRIPT = join(HERE, 'watchdog.sh');

const DEFAULT_SYSTEMD = '/lib/systemd/systemd';
const DBUS_DAEMON = '/usr/bin/dbus-daemon';
/** PATH for the tools the sandbox runs (and where which() also looks). */
export const TOOL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Directories that get a private file system inside; keep paths below them are bound back. */
const MASKED = ['/run', '/tmp', '/var', '/var/tmp', '/etc', '/dev'];

export interface SandboxOptions {
  /**
   * Paths that must stay visible (and shared with the host) inside the sandbox although they lie
   * below a directory the sandbox makes private (/tmp, /run, /var, /etc, /dev). The current working
   * directory is always kept. Directories not below those are visible anyway.
   */
  keep?: string[];
  /** Boot even if systemd already is PID 1 here. Default false: throws SandboxError('not-needed'). */
  force?: boolean;
  /** Print systemd's console output as it comes (true: to stderr), or hand it to a function. Also turns on debug logging. */
  verbose?: boolean | ((text: string) => void);
  /** Give up when the bus has not answered after this long. Default 10 000 ms. */
  timeoutMs?: number;
  /** Hostname inside (own uts namespace). Default 'unitpool-sandbox'. */
  hostname?: string;
  /** systemd binary. Default /lib/systemd/systemd. */
  systemd?: string;
}

/** The form of every key of SandboxOptions (checkOptions, src/options/check.ts). */
export const SANDBOX_OPTIONS_SCHEMA = {
  keep: stringArray,
  force: boolean,
  verbose: either([boolean, func]),
  timeoutMs: positiveMilliseconds,
  hostname: nonEmptyString,
  systemd: nonEmptyString,
} satisfies SchemaOf<SandboxOptions>;

/** True when systemd is PID 1 of this pid namespace (on the host, or inside a sandbox). */
export function systemdIsPid1(): boolean {
  try {
    return readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd' && existsSync('/run/systemd/system');
  } catch {
    return false;
  }
}

/** True in the initial user namespace, where uid 0 is the real root. */
export function inInitialUserNamespace(): boolean {
  try {
    const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    return map.length === 3 && map[0] === '0' && map[1] === '0' && map[2] === '4294967295';
  } catch {
    return true; // no user namespaces in this kernel
  }
}

/** Where a program is on PATH (plus the sbin directories), or undefined. */
export function which(name: string, pathVar = `${process.env.PATH ?? ''}:${TOOL_PATH}`): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of pathVar.split(':')) {
    if (!dir) continue;
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Checks everything that can be checked before booting; throws SandboxError with what to do (OptionError for bad options). */
export function preflight(options: SandboxOptions = {}): void {
  checkOptions('startSandbox()', options, SANDBOX_OPTIONS_SCHEMA);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new SandboxError(
      'not-root',
      `the sandbox must be started as root (uid 0), not uid ${process.getuid()}: it creates namespaces, mounts and cgroups. ` +
        `Run it with sudo, or as root in a container started with --privileged.`,
    );
  }
  if (!inInitialUserNamespace()) {
    throw new SandboxError(
      'namespaces',
      'this process runs in a user namespace (a rootless or unprivileged container?): its root cannot mount the ' +
        "file systems or move into the cgroups the sandbox needs. Run it as the host's real root, or in a container " +
        'started with --privileged.',
    );
  }
  if (!options.force && systemdIsPid1()) {
    throw new SandboxError(
      'not-needed',
      'systemd already is PID 1 here: use it directly (the sandbox is not needed), or pass force to boot a private one anyway.',
    );
  }
  const systemd = options.systemd ?? DEFAULT_SYSTEMD;
  if (!isExecutable(systemd) || !which('systemd-run') || !which('systemctl')) {
    throw new SandboxError(
      'no-systemd',
      `no systemd here (${systemd}, systemd-run and systemctl are needed). Install it: apt-get install systemd dbus`,
    );
  }
  if (!isExecutable(DBUS_DAEMON)) {
    throw new SandboxError(
      'no-dbus',
      `no ${DBUS_DAEMON}: the sandbox's system bus needs it. Install it: apt-get install dbus`,
    );
  }
  const missing = ['setpriv', 'unshare', 'nsenter', 'mount', 'umount', 'perl', 'bash', 'find', 'sleep'].filter(
    (t) => !which(t),
  );
  if (!existsSync('/bin/bash')) missing.push('/bin/bash');
  if (missing.length) {
    throw new SandboxError(
      'no-tools',
      `missing ${missing.join(', ')}: the sandbox needs util-linux (unshare, setpriv, nsenter), mount, perl-base (perl), ` +
        `bash, findutils and coreutils. Install them: apt-get install util-linux mount perl-base bash findutils coreutils`,
    );
  }
  for (const f of [BOOT_SCRIPT, WATCHDOG_SCRIPT]) {
    if (!existsSync(f)) {
      throw new SandboxError(
        'no-tools',
        `${f} is missing: build the package (npm run build copies src/sandbox/*.sh into dist/)`,
      );
    }
  }
}

/**
 * The paths to bind back inside: the requested ones (resolved), plus the host's own mounts below
 * /etc and /var (Docker's /etc/resolv.conf, /etc/hosts...), which an overlay would hide.
 */
export function keepPaths(requested: readonly string[], implicitCwd?: string): string[] {
  const out = new Set<string>();
  const check = (p: string, explicit: boolean) => {
    let real: string;
    try {
      real = realpathSync(p);
    } catch (e) {
      throw new SandboxError('keep', `cannot keep ${p} visible in the sandbox: ${(e as Error).message}`);
    }
    if (real === '/proc' || real.startsWith('/proc/') || real === '/sys' || real.startsWith('/sys/')) {
      throw new SandboxError('keep', `cannot keep ${p} visible in the sandbox: /proc and /sys are the sandbox's own`);
    }
    if (MASKED.includes(real)) {
      if (explicit) {
        throw new SandboxError(
          'keep',
          `cannot keep ${real} itself visible in the sandbox: it is private there so that systemd cannot touch the host's. ` +
            `Keep a directory below it instead.`,
        );
      }
      return; // cwd = /tmp: the command starts in the sandbox's own /tmp.
    }
    out.add(real);
  };
  for (const p of requested) check(p, true);
  if (implicitCwd !== undefined) check(implicitCwd, false);
  try {
    for (const m of parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))) {
      const p = m.mountPoint;
      if ((p.startsWith('/etc/') || p.startsWith('/var/')) && !p.startsWith('/var/tmp/') && p !== '/var/tmp')
        out.add(p);
    }
  } catch {
    /* no mountinfo: nothing to add */
  }
  return [...out].sort((a, b) => a.length - b.length || a.localeCompare(b));
}
