// Shared by the enforcement tests: every check runs in a worker forked by the unit's main process (pool.submit), so
// it sees exactly what a task sees. What this host can enforce decides which tests run: a property the host cannot
// enforce is tested for its refusal (CapabilityError) instead, and the VM tier (test/vm, pure cgroup v2) covers the
// rest. Functions passed to submit() are sent as source: they import what they need and use no closure.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { CapabilityError, UnitPool, type UnitPoolOptions } from '../../src/index.js';
import { CAPABILITIES, type PropertyName } from '../../src/properties/index.js';
import { cgroupLayout } from '../../src/unit/cgroup.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What this host's system manager can enforce (the tests run as root against the system bus, or in the sandbox). */
export const caps = await UnitPool.capabilities();
export const host = caps.host;
export const layout = cgroupLayout();
export const enforced = (name: PropertyName): boolean => caps.properties[name].enforced;
/** For titles: why a property is refused here. */
export const refusedHere = (name: PropertyName): string => caps.properties[name].reason ?? '';

/**
 * A scratch directory for one test file, on a real disk (the IO tests need a block device) and out of the shared
 * /tmp: under the package's node_modules/.cache, which git ignores. World-traversable, so other users can be let in.
 */
export function scratchDir(name: string): { path: string; remove: () => void } {
  const base = join(ROOT, 'node_modules', '.cache', 'unitpool-test');
  mkdirSync(base, { recursive: true, mode: 0o755 });
  const path = mkdtempSync(join(base, `${name}-`));
  chmodSync(path, 0o755);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * How long a pool may take to be ready: 20 s; in the VM tier (UNITPOOL_VM=1: software emulation, where Node starts
 * 20-30x slower) 180 s.
 */
export const READY_MS = process.env.UNITPOOL_VM === '1' ? 180_000 : 20_000;

/**
 * Starts a pool and waits for its workers; worker output goes nowhere unless asked for. A pool that is not ready
 * within READY_MS is a bug (it must start or fail with a clear error): the test fails saying so, with the pool's state.
 */
export async function startPool(options: UnitPoolOptions): Promise<UnitPool> {
  const stderr = sink();
  const pool = new UnitPool({ stderr, ...options });
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new Error(
          `the pool was not ready after ${READY_MS / 1000} s (unit ${pool.unit?.name ?? 'not created'}, stats ${JSON.stringify(pool.stats())}); its output:\n${stderr.text()}`,
        ),
      );
      void pool.kill().catch(() => {});
    }, READY_MS);
  });
  try {
    await Promise.race([pool.ready(), hung]);
  } finally {
    clearTimeout(timer);
  }
  return pool;
}

/** A Writable that keeps what is written (read it with .text()). */
export function sink(): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  }) as Writable & { text: () => string };
  w.text = () => Buffer.concat(chunks).toString('utf8');
  return w;
}

/** A pool with these options must fail to start with a CapabilityError for `property`; returns the error. */
export async function expectRefused(options: UnitPoolOptions, property: PropertyName): Promise<CapabilityError> {
  const pool = new UnitPool({ maxWorkers: 1, stderr: sink(), ...options });
  try {
    const err = await pool.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof CapabilityError))
      throw new Error(
        `expected a CapabilityError for ${property}, got ${err === undefined ? 'a running pool' : inspect(err)}`,
      );
    if (err.property !== property)
      throw new Error(`expected the CapabilityError to name ${property}, it names ${err.property}: ${err.message}`);
    if (pool.unit !== undefined) throw new Error('a unit was started although the property was refused');
    return err;
  } finally {
    await pool.shutdown();
  }
}

/** Captures process.emitWarning calls made while `fn` runs. */
export async function captureWarnings<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; warnings: { message: string; type?: string; code?: string }[] }> {
  const warnings: { message: string; type?: string; code?: string }[] = [];
  // Kept to be put back as it was; never called detached from process.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = process.emitWarning;
  process.emitWarning = ((warning: string | Error, options?: { type?: string; code?: string } | string) => {
    const o = typeof options === 'object' ? options : { type: options };
    warnings.push({
      message: String(warning),
      ...(o.type ? { type: o.type } : {}),
      ...(o.code ? { code: o.code } : {}),
    });
  }) as typeof process.emitWarning;
  try {
    return { result: await fn(), warnings };
  } finally {
    process.emitWarning = original;
  }
}

// ── probes (sent to workers as source) ──────────────────────────────────────────────────────────────────

/** The worker's /proc/self/status as { Field: 'value' }. */
export async function statusProbe(): Promise<Record<string, string>> {
  const { readFileSync } = await import('node:fs');
  const out: Record<string, string> = {};
  for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** Tries to write a file (and removes it): 'written' or the error code. */
export async function writeProbe(path: string): Promise<string> {
  const fs = await import('node:fs');
  try {
    fs.writeFileSync(path, 'unitpool probe\n');
    fs.rmSync(path, { force: true });
    return 'written';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

/** Tries to read a file: its text, or the error code prefixed with '!'. */
export async function readProbe(path: string): Promise<string> {
  const fs = await import('node:fs');
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (e) {
    return `!${(e as NodeJS.ErrnoException).code ?? String(e)}`;
  }
}

/** Lists a directory: its entries, or the error code prefixed with '!'. */
export async function listProbe(path: string): Promise<string[] | string> {
  const fs = await import('node:fs');
  try {
    return fs.readdirSync(path).sort();
  } catch (e) {
    return `!${(e as NodeJS.ErrnoException).code ?? String(e)}`;
  }
}

export interface ExecResult {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  error?: string;
}

/** Runs a program from the worker (so it inherits every restriction) and reports how it ended. */
export async function execProbe(cmd: string, args: string[]): Promise<ExecResult> {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 15_000 });
  return {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    ...(r.error ? { error: (r.error as NodeJS.ErrnoException).code ?? String(r.error) } : {}),
  };
}

/** Listens on host:port (0 = any), or on a Unix socket path: 'listening' or the error code. */
export async function listenProbe(host: string, port = 0): Promise<string> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
    const done = () => server.close(() => resolve('listening'));
    if (host.startsWith('/')) server.listen(host, done);
    else server.listen(port, host, done);
  });
}

/** Connects to host:port within `ms`: 'connected', 'timeout' or the error code. */
export async function connectProbe(host: string, port: number, ms = 1500): Promise<string> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: ms });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('timeout', () => {
      s.destroy();
      resolve('timeout');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? String(e)));
  });
}

// ── reading what the kernel says ─────────────────────────────────────────────────────────────────────────

/** The capability names in a CapBnd/CapAmb hex mask. */
export function capNames(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return CAPABILITIES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

/** A file of the unit's cgroup, read from the test process: v1 per-controller hierarchy, or v2's unified one. */
export function cgroupFile(pool: UnitPool, v1Controller: string, file: string): string {
  const cg = pool.unit!.controlGroup;
  const path = layout === 'v2' ? `/sys/fs/cgroup${cg}/${file}` : `/sys/fs/cgroup/${v1Controller}${cg}/${file}`;
  return readFileSync(path, 'utf8').trim();
}

export const MiB = 1024 * 1024;
