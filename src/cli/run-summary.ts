// What `unitpool run` says when the command has ended: systemd-run's lines (Finished with result, Main
// processes terminated with, Service runtime, CPU time consumed, Memory peak, Memory swap peak, IP traffic,
// IO bytes), each only where the host has the figure, and the OOM kill named even where systemd calls it a
// signal (cgroup v1). This module only reads what it is given and formats it.

import { UINT64_MAX } from '../properties/parse.js';
import type { CgroupUsage } from '../unit/cgroup.js';
import { formatBytes, formatTimespan, signalName } from './run-format.js';

/** What was read of the unit while its cgroup still existed (stop-post), and at the end. */
export interface Outcome {
  /** The service's properties at the end (or the last ones read). */
  service: Record<string, unknown>;
  /** Read in stop-post, if the unit got there with its cgroup. */
  snapshot?: { service: Record<string, unknown>; usage: CgroupUsage; oomKills: number | undefined };
  /** Wall time from the start request to the end, if systemd's timestamps are missing. */
  wallUsec: number;
  /** We killed the unit with SIGKILL ourselves (a third Ctrl-C). */
  killedByUs: boolean;
}

export function setNumber(v: unknown): number | undefined {
  if (typeof v === 'bigint') return v === UINT64_MAX ? undefined : Number(v);
  if (typeof v === 'number') return v;
  return undefined;
}

/** ExecStopPost's last run as systemd reports it: [path, argv, ignore, ts..., pid, code, status]. */
function helperExit(service: Record<string, unknown>): { code: number; status: number } | undefined {
  const list = service.ExecStopPost;
  if (!Array.isArray(list) || !Array.isArray(list[0])) return undefined;
  const entry = list[0] as unknown[];
  return { code: Number(entry[8]), status: Number(entry[9]) };
}

/**
 * Whether the kernel's OOM killer struck: systemd's Result, the cgroup's OOM kill counter, or, when a cap so
 * small that even the stop-post helper (sleep) could not run left no cgroup to read, that helper killed by
 * SIGKILL, which only the OOM killer sends it (we send it SIGTERM; a third Ctrl-C is counted apart).
 */
export function wasOomKilled(o: Outcome): { oom: boolean; kills: number } {
  const kills = o.snapshot?.oomKills ?? 0;
  if (kills > 0 || o.service.Result === 'oom-kill') return { oom: true, kills };
  const helper = helperExit(o.service);
  const capped = setNumber(o.service.MemoryMax) !== undefined;
  return { oom: capped && !o.killedByUs && helper?.code === 2 && helper.status === 9, kills };
}

/** ExecMainCode (CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3) and ExecMainStatus as systemd-run prints them. */
export function describeExit(code: number, status: number): string {
  if (code === 1) return `code=exited/status=${status}`;
  if (code === 2) return `code=killed/status=${signalName(status)}`;
  if (code === 3) return `code=dumped/status=${signalName(status)}`;
  return 'code=none';
}

/** The summary's lines, in systemd-run's order and words. */
export function summaryLines(o: Outcome): string[] {
  const { service, snapshot } = o;
  const code = Number(service.ExecMainCode ?? 0);
  const status = Number(service.ExecMainStatus ?? 0);
  const { oom, kills } = wasOomKilled(o);
  const lines: string[] = [];
  if (oom) {
    const limit = setNumber(service.MemoryMax);
    const cap = limit !== undefined ? ` (MemoryMax=${formatBytes(limit)})` : '';
    const who =
      code === 2 || code === 3
        ? "the command was killed by the kernel's OOM killer"
        : `the kernel's OOM killer killed ${kills > 1 ? `${kills} processes` : 'a process'} of the unit`;
    lines.push(`unitpool run: ${who}: the unit ran out of memory${cap}`);
  }
  lines.push(
    `Finished with result: ${oom ? 'oom-kill' : typeof service.Result === 'string' ? service.Result : 'unknown'}`,
  );
  lines.push(`Main processes terminated with: ${describeExit(code, status)}`);
  const started = setNumber(service.ExecMainStartTimestampMonotonic);
  const exited = setNumber(service.ExecMainExitTimestampMonotonic);
  lines.push(
    `Service runtime: ${formatTimespan(started && exited && exited >= started ? exited - started : o.wallUsec)}`,
  );
  const cpuNs = setNumber(snapshot?.service.CPUUsageNSec) ?? setNumber(service.CPUUsageNSec);
  const cpuUsec = cpuNs !== undefined ? cpuNs / 1000 : snapshot?.usage.cpuUsec;
  if (cpuUsec !== undefined) lines.push(`CPU time consumed: ${formatTimespan(cpuUsec)}`);
  const usage = snapshot?.usage ?? {};
  const peak =
    setNumber(snapshot?.service.MemoryPeak) ??
    usage.memoryPeak ??
    setNumber(service.MemoryPeak) ??
    (oom ? setNumber(service.MemoryMax) : undefined);
  if (peak !== undefined) lines.push(`Memory peak: ${formatBytes(peak)}`);
  const swap = setNumber(snapshot?.service.MemorySwapPeak) ?? usage.swapPeak;
  if (swap !== undefined) lines.push(`Memory swap peak: ${formatBytes(swap)}`);
  const figure = (prop: string, fallback?: number) =>
    setNumber(snapshot?.service[prop]) ?? setNumber(service[prop]) ?? fallback;
  const ipIn = figure('IPIngressBytes');
  const ipOut = figure('IPEgressBytes');
  if (ipIn !== undefined) lines.push(`IP traffic received: ${formatBytes(ipIn)}`);
  if (ipOut !== undefined) lines.push(`IP traffic sent: ${formatBytes(ipOut)}`);
  const ioRead = figure('IOReadBytes', usage.ioReadBytes);
  const ioWrite = figure('IOWriteBytes', usage.ioWriteBytes);
  if (ioRead !== undefined) lines.push(`IO bytes read: ${formatBytes(ioRead)}`);
  if (ioWrite !== undefined) lines.push(`IO bytes written: ${formatBytes(ioWrite)}`);
  return lines;
}
