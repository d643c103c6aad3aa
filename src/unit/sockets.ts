// The private AF_UNIX sockets that systemd connects a unit's stdio to (StandardInputFile= & co.): a directory
// only root (or the calling user) can reach, never the shared /tmp, and listening on it.
//
// A directory is named <kind>-<pid namespace>-<pid>-XXXXXX. Its owner removes it when it is done; one left by
// an owner that was SIGKILLed is removed by the next owner in the same pid namespace that finds its pid gone.
// Directories of other pid namespaces (a container sharing /run) are never touched: their pids mean nothing here.

import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

export type SocketDirKind = 'p' | 'run';

/** Where the directories go: /run/unitpool for root on the system bus, else under the user's runtime directory. */
export function socketBase(bus: 'system' | 'user'): string {
  const uid = process.getuid?.() ?? 0;
  return uid === 0 && bus === 'system' ? '/run/unitpool' : join(process.env.XDG_RUNTIME_DIR ?? `/run/user/${uid}`, 'unitpool');
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
    const m = /^(?:p|run)-(\d+)-(\d+)-/.exec(entry);
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
