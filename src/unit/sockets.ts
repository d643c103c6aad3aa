// The private AF_UNIX sockets that systemd connects a unit's stdio to (StandardInputFile= & co.): a directory
// only root (or the calling user) can reach, never the shared /tmp, and listening on it.
//
// A directory is named <kind>-<pid namespace>-<pid>-XXXXXX. Its owner removes it when it is done; one left by
// an owner that was SIGKILLed is removed by the next owner in the same pid namespace that finds its pid gone.
// Directories of other pid namespaces (a container sharing /run) are never touched: their pids mean nothing here.

import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

export type SocketDirKind = 'p' | 'l' | 'run';

/** Where the directories go: /run/unitpool for root on the system bus, else under the user's runtime directory. */
export function socketBase(bus: 'system' | 'user'): string {
  const uid = process.getuid?.() ?? 0;
  return uid === 0 && bus === 'system'
    ? '/run/unitpool'
    : join(process.env.XDG_RUNTIME_DIR ?? `/run/user/${uid}`, 'unitpool');
}

function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
  } catch {
    return '0';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the directories in `base` whose owner, in our pid namespace, is gone. */
export function sweepStale(base: string, ns = pidNamespace()): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return removed;
  }
  for (const entry of entries) {
    const m = /^(?:p|l|run)-(\d+)-(\d+)-/.exec(entry);
    if (!m || m[1] !== ns || Number(m[2]) === process.pid || alive(Number(m[2]))) continue;
    rmSync(join(base, entry), { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}

/** A fresh private directory for one unit's sockets; stale ones of dead owners are swept first. */
export function privateSocketDir(kind: SocketDirKind, bus: 'system' | 'user' = 'system'): string {
  const base = socketBase(bus);
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const ns = pidNamespace();
  sweepStale(base, ns);
  return mkdtempSync(join(base, `${kind}-${ns}-${process.pid}-`));
}

export function listenUnix(path: string, allowHalfOpen = false): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen });
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Listening sockets for one unit's stdio (StandardInputFile= & co.), which systemd connects once each. */
export interface StdioSockets<N extends string> {
  /** Where each listens. */
  readonly paths: Readonly<Record<N, string>>;
  /** Each one's first connection. */
  readonly connected: Readonly<Record<N, Promise<Socket>>>;
  /** Closes the listening sockets and removes their directory; the connections stay. */
  close(): void;
}

/** Listens on `<name>.sock` for each name, in a fresh private directory. */
export async function stdioSockets<N extends string>(names: readonly N[]): Promise<StdioSockets<N>> {
  const dir = privateSocketDir('p');
  const servers: Server[] = [];
  const close = () => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const paths = Object.fromEntries(names.map((n) => [n, join(dir, `${n}.sock`)])) as Record<N, string>;
    const connected = {} as Record<N, Promise<Socket>>;
    for (const n of names) {
      const server = await listenUnix(paths[n]);
      servers.push(server);
      connected[n] = new Promise((resolve) => server.once('connection', resolve));
    }
    return { paths, connected, close };
  } catch (err) {
    close();
    throw err;
  }
}
