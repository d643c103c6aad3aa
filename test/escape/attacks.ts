// The attacker's side of the escape suite (test/escape/*.test.ts): functions sent to workers as source text, so
// each runs exactly as a hostile task would, with the unit's every restriction. They import what they need and use
// no closure. Each returns what it managed to do; the tests assert that it managed nothing.

/**
 * Takes over every AF_UNIX socket under /run it can replace (unlink, then listen on the same path in a detached
 * child that outlives the task), to make the pool, as root, connect to the task instead of to its supervisor. The
 * child answers like a worker (a Ready frame) and logs every connection it gets to `log`.
 */
export async function plantListeners(log: string): Promise<string[]> {
  const fs = await import('node:fs');
  const { spawn } = await import('node:child_process');
  const nodePath = await import('node:path');
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = nodePath.join(dir, e.name);
      if (e.isSocket()) found.push(path);
      else if (e.isDirectory() && depth > 0) walk(path, depth - 1);
    }
  };
  walk('/run', 3);
  const taken: string[] = [];
  for (const path of found) {
    try {
      fs.rmSync(path);
    } catch {
      continue;
    }
    taken.push(path);
  }
  if (taken.length === 0) return [];
  const listener = `
    const net = require('node:net'), fs = require('node:fs');
    for (const path of ${JSON.stringify(taken)}) {
      net.createServer((s) => {
        fs.appendFileSync(${JSON.stringify(log)}, 'connection on ' + path + '\\n');
        // A worker's Ready: [u32 length 2][u32 channel 0][msgpack [4]]
        s.write(Buffer.from([0, 0, 0, 2, 0, 0, 0, 0, 0x91, 4]));
        s.on('data', (d) => fs.appendFileSync(${JSON.stringify(log)}, 'got ' + d.length + ' bytes\\n'));
      }).listen(path);
    }
    setTimeout(() => {}, 60000);`;
  const child = spawn(process.execPath, ['-e', listener], { detached: true, stdio: 'ignore' });
  child.unref();
  for (let i = 0; i < 100 && !taken.every((p) => fs.existsSync(p)); i++) await new Promise((r) => setTimeout(r, 20));
  return taken;
}

/** Reads the hijack log (empty: nobody connected). */
export async function readLog(log: string): Promise<string> {
  const fs = await import('node:fs');
  try {
    return fs.readFileSync(log, 'utf8');
  } catch {
    return '';
  }
}

/** Holds `secret` in memory (a Buffer and a string) for `ms`, so a sibling can look for it. */
export async function holdSecret(secret: string, ms: number): Promise<string> {
  const held = [Buffer.from(secret), `${secret}`.repeat(1)];
  await new Promise((r) => setTimeout(r, ms));
  return `${held.length} held by ${process.pid}`;
}

/**
 * Looks for `secret` in the memory of the processes `pids` (other workers; its own is skipped), through
 * /proc/<pid>/maps and /proc/<pid>/mem, and in their command lines and environments. Returns where it was found,
 * and the errors that stopped it.
 */
export async function readSiblings(pids: number[], secret: string): Promise<{ found: string[]; errors: string[] }> {
  const fs = await import('node:fs');
  const found: string[] = [];
  const errors: string[] = [];
  const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e);
  for (const pid of pids.filter((p) => p !== process.pid)) {
    for (const file of ['cmdline', 'environ']) {
      try {
        if (fs.readFileSync(`/proc/${pid}/${file}`, 'latin1').includes(secret)) found.push(file);
      } catch (e) {
        errors.push(`${file}: ${code(e)}`);
      }
    }
    let maps = '';
    try {
      maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch (e) {
      errors.push(`maps: ${code(e)}`);
    }
    let fd: number | undefined;
    try {
      fd = fs.openSync(`/proc/${pid}/mem`, 'r');
    } catch (e) {
      errors.push(`mem: ${code(e)}`);
    }
    if (fd !== undefined) {
      const needle = Buffer.from(secret);
      const chunk = Buffer.alloc(1 << 20);
      for (const line of maps.split('\n')) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) rw/.exec(line);
        if (!m || found.includes('mem')) continue;
        const start = Number.parseInt(m[1]!, 16);
        const end = Number.parseInt(m[2]!, 16);
        if (end - start > 256 << 20) continue;
        for (let at = start; at < end && !found.includes('mem'); at += chunk.length) {
          try {
            const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, end - at), at);
            if (chunk.subarray(0, n).includes(needle)) found.push('mem');
          } catch {
            break;
          }
        }
      }
      fs.closeSync(fd);
    }
  }
  return { found, errors };
}

/** Every process this task can see besides itself: pid and command line. */
export async function visibleProcesses(): Promise<{ pid: number; cmd: string }[]> {
  const fs = await import('node:fs');
  const out: { pid: number; cmd: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      out.push({ pid, cmd: fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() });
    } catch {
      /* gone, or hidden */
    }
  }
  return out;
}

/**
 * Leaves traces for the next task in this process: patches a global and a prototype, replaces eval, and reports
 * what an earlier task left.
 */
export function tamper(): { pid: number; before: string[] } {
  const g = globalThis as unknown as Record<string, unknown>;
  const before: string[] = [];
  if (g.__unitpoolMark !== undefined) before.push('global');
  if ((Object.prototype as Record<string, unknown>).__unitpoolMark !== undefined) before.push('Object.prototype');
  if (String(globalThis.eval).includes('forged')) before.push('eval');
  g.__unitpoolMark = process.pid;
  (Object.prototype as Record<string, unknown>).__unitpoolMark = process.pid;
  globalThis.eval = (() => 'forged') as typeof eval;
  return { pid: process.pid, before };
}

/** Sends `signal` to every pid of `pids` but this task's own: 'sent' or the error code, per pid. */
export function signalOthers(pids: number[], signal: string): string[] {
  return pids
    .filter((pid) => pid !== process.pid)
    .map((pid) => {
      try {
        process.kill(pid, signal as NodeJS.Signals);
        return 'sent';
      } catch (e) {
        return (e as NodeJS.ErrnoException).code ?? String(e);
      }
    });
}

/** Kills this task's parent (in a pool's unit: the supervisor), then waits to be killed with it. */
export async function killParent(): Promise<string> {
  try {
    process.kill(process.ppid, 'SIGKILL');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
  await new Promise((r) => setTimeout(r, 10_000));
  return 'still alive';
}
