// Which program `unitpool run` runs: found on the caller's PATH as systemd-run finds it, and whether it is a
// Node program (then the library's Node floors apply to it).

import { accessSync, closeSync, constants as fsc, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, delimiter, resolve } from 'node:path';

/** The command's path as systemd-run finds it: a name with a slash from the working directory, else on PATH. */
export function findExecutable(command: string, cwd: string, pathVar: string | undefined): string | undefined {
  const usable = (p: string) => {
    try {
      if (!statSync(p).isFile()) return false;
      accessSync(p, fsc.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (command.includes('/')) {
    const p = resolve(cwd, command);
    return usable(p) ? p : undefined;
  }
  const dirs = (pathVar ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin').split(delimiter);
  for (const dir of dirs) {
    if (dir === '') continue;
    const p = resolve(cwd, dir, command);
    if (usable(p)) return p;
  }
  return undefined;
}

/**
 * Whether the command is a Node program (node itself, or a script whose #! line runs node, like npm): then
 * the library's Node floors apply (about 40 MB of memory, 16 tasks...); for any other program they do not.
 */
export function runsNode(exe: string): boolean {
  const isNode = (p: string) => /^node(js)?(\d+)?$/.test(basename(p));
  let real = exe;
  try {
    real = realpathSync(exe);
  } catch {
    /* the compiler reports what cannot be read */
  }
  if (isNode(exe) || isNode(real) || real === process.execPath) return true;
  let head: string;
  try {
    const fd = openSync(real, 'r');
    try {
      const buf = Buffer.alloc(256);
      head = buf.toString('latin1', 0, readSync(fd, buf, 0, 256, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  const shebang = /^#!(.*)/.exec(head)?.[1] ?? '';
  return shebang.split(/\s+/).some((w) => w !== '' && !w.startsWith('-') && isNode(w));
}
