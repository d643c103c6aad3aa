// The sandbox's processes as /proc shows them: finding PID 1 (the first child of unshare), telling whether a pid
// is still the same process (its start time), whether PID 1 has become systemd. Reads only.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProcStat {
  pid: number;
  ppid: number;
  startTime: string;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(rest[1]), startTime: rest[19]! };
  } catch {
    return undefined;
  }
}

/** Children of `ppid` (this kernel has no /proc/<pid>/task/<tid>/children, so scan /proc). */
export function childrenOf(ppid: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st && st.ppid === ppid) out.push(st);
  }
  return out;
}

/** Waits for the first child of `ppid` to appear (null if `done` resolves or the timeout passes first). */
export async function waitForChild(ppid: number, timeoutMs: number, done?: () => boolean): Promise<ProcStat | null> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const c = childrenOf(ppid)[0];
    if (c) return c;
    if ((done && done()) || Date.now() > deadline) return null;
    await sleep(i < 20 ? 2 : 10);
  }
}

export function stillRunning(st: ProcStat): boolean {
  const now = readStat(st.pid);
  return now !== undefined && now.startTime === st.startTime;
}

/** PID 1 has exec'd systemd, and boot.sh has mounted the sandbox's /run. */
export function isSystemd(pid: number): boolean {
  try {
    return (
      readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'systemd' &&
      existsSync(`/proc/${pid}/root/run/unitpool-sandbox/units`)
    );
  } catch {
    return false;
  }
}

/** 'signal SIGKILL' or 'status 1', for messages. */
export function describeExit(e: { code: number | null; signal: NodeJS.Signals | null }): string {
  return e.signal ? `signal ${e.signal}` : `status ${e.code}`;
}
