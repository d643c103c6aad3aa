// Shared by the VM tier's tests (test/vm): they only mean something on a host whose PID 1 is systemd on a pure
// cgroup v2 hierarchy, i.e. inside the VM that `npm run test:vm` boots (scripts/vm/run.mjs). Elsewhere (the
// hybrid-v1 machines, the v1 sandbox of `npm test`) they are skipped, with the reason printed once per file.
// Everything here talks to the real systemd: systemd-run, systemctl and busctl, i.e. D-Bus underneath.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const CGROUP2_SUPER_MAGIC = 0x63677270;

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** /sys/fs/cgroup itself is cgroup2: no v1 hierarchy anywhere. */
export const pureCgroupV2 = (() => {
  try {
    return statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
})();
export const systemdIsPid1 = readOr('/proc/1/comm', '').trim() === 'systemd';
export const isRoot = process.getuid?.() === 0;
export const inVm = process.env.UNITPOOL_VM === '1';

/** Why the v2 tests cannot run here, or undefined when they can. */
export const v2SkipReason = !pureCgroupV2
  ? 'needs a pure cgroup v2 host (/sys/fs/cgroup is not cgroup2 here); `npm run test:vm` boots one'
  : !systemdIsPid1
    ? 'needs systemd as PID 1; `npm run test:vm` boots a VM where it is'
    : !isRoot
      ? 'needs root (creates system units and a test user)'
      : undefined;

/** A describe() title that says why it is skipped, so the reason shows in every reporter. */
export function titled(title: string): string {
  return v2SkipReason ? `${title} [skipped: ${v2SkipReason}]` : title;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeout?: number; uid?: number; gid?: number } = {},
): Run {
  const t = Date.now();
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: opts.env ?? process.env,
    timeout: opts.timeout ?? 180_000,
    uid: opts.uid,
    gid: opts.gid,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t };
}

/** Like run, without blocking the event loop (for long commands while a test also polls). */
export function runAsync(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {},
): Promise<Run> {
  const t = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      env: opts.env ?? process.env,
      uid: opts.uid,
      gid: opts.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, stdout, stderr, ms: Date.now() - t }));
  });
}

export function unitName(what: string): string {
  return `unitpool-vm-${what}-${randomBytes(3).toString('hex')}.service`;
}

/** Which manager a helper talks to: the system one (as root), or a user's (`--user`, run as that user). */
export interface Manager {
  /** Extra arguments for systemctl / systemd-run, e.g. ['--user']. */
  args: string[];
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
}
export const SYSTEM: Manager = { args: [] };

/**
 * A user's own manager (`systemctl --user`), reached as that user: the environment a login session would give
 * (XDG_RUNTIME_DIR=/run/user/UID, the bus in it), without anything of the caller's.
 */
export function userManager(user: {
  name: string;
  uid: number;
  gid: number;
  home: string;
}): Manager & { env: NodeJS.ProcessEnv } {
  const runtime = `/run/user/${user.uid}`;
  return {
    args: ['--user'],
    uid: user.uid,
    gid: user.gid,
    env: {
      HOME: user.home,
      USER: user.name,
      LOGNAME: user.name,
      PATH: process.env.PATH,
      LANG: 'C.UTF-8',
      XDG_RUNTIME_DIR: runtime,
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${runtime}/bus`,
    },
  };
}

export function systemctl(m: Manager, args: string[]): Run {
  return run('systemctl', [...m.args, ...args], { env: m.env, uid: m.uid, gid: m.gid });
}

export function systemdRun(m: Manager, args: string[]): Run {
  return run('systemd-run', [...m.args, ...args], { env: m.env, uid: m.uid, gid: m.gid });
}

/** `systemctl show -p ...` as a record. */
export function show(unit: string, props: string[], m: Manager = SYSTEM): Record<string, string> {
  const r = systemctl(m, ['show', unit, ...props.flatMap((p) => ['-p', p])]);
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** The unit's cgroup directory (its ControlGroup under /sys/fs/cgroup). */
export function cgroupDir(unit: string, m: Manager = SYSTEM): string {
  const cg = show(unit, ['ControlGroup'], m).ControlGroup;
  if (!cg) throw new Error(`${unit} has no control group`);
  return `/sys/fs/cgroup${cg}`;
}

/** `key value` lines (memory.events, cpu.stat) -> record. */
export function keyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false,
  timeoutMs: number,
  everyMs = 250,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Measures a running unit's CPU share (of one CPU) over `windowMs` of wall time, after `warmupMs` so that
 * its process is really running: from systemd's CPUUsageNSec and from the cgroup's own cpu.stat.
 */
export async function measureCpuShare(
  unit: string,
  windowMs: number,
  m: Manager = SYSTEM,
  warmupMs = 1000,
): Promise<{ systemd: number; cgroup: number; wallMs: number; cpuMax: string }> {
  await waitFor(`${unit} to be active`, () => show(unit, ['ActiveState'], m).ActiveState === 'active', 60_000);
  await sleep(warmupMs);
  const dir = cgroupDir(unit, m);
  const sample = () => ({
    t: process.hrtime.bigint(),
    ns: BigInt(show(unit, ['CPUUsageNSec'], m).CPUUsageNSec || '0'),
    us: keyed(readFileSync(join(dir, 'cpu.stat'), 'utf8')).usage_usec ?? 0,
  });
  const a = sample();
  await sleep(windowMs);
  const b = sample();
  const wallNs = Number(b.t - a.t);
  return {
    systemd: Number(b.ns - a.ns) / wallNs,
    cgroup: ((b.us - a.us) * 1000) / wallNs,
    wallMs: wallNs / 1e6,
    cpuMax: readFileSync(join(dir, 'cpu.max'), 'utf8').trim(),
  };
}
