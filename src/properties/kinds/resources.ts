// The cgroup resource kinds: CPUQuota, CPU and IO weights, AllowedCPUs, the memory limits, TasksMax, the IO
// bandwidth limits and RuntimeMaxSec. Each is checked against what Node needs (a memory floor, 16 tasks) and what
// this host has (its CPUs, its block devices), and compiles to the D-Bus form its value's form decides (MemoryMax or
// MemoryMaxScale). Also here: the cross-check of MemoryHigh against MemoryMax, and the CPUs a unit may use.

import { statSync } from 'node:fs';
import { totalmem } from 'node:os';
import { OptionError } from '../../errors.js';
import { formatExample } from '../names.js';
import {
  cpuSetToBuffer,
  isAbsolute,
  isNormalized,
  isPercentString,
  parseCpuSet,
  parseDuration,
  parsePercentString,
  parseSize,
  scaleFromPermyriad,
  u64,
  UINT64_MAX,
} from '../parse.js';
import type { PropertyName, PropertySpec } from '../table.js';
import { asList, attempt, type Compiled, type Ctx, fail, isPlainObject, single } from './kind.js';

/** A memory limit: bytes, a share of the host's RAM, or none. */
export type Mem = { bytes: bigint } | { permyriad: number } | 'infinity';
/** TasksMax: a number of tasks, a share of the kernel's maximum, or none. */
export type Tasks = bigint | 'infinity' | { permyriad: number };

/** CPUQuota, in permyriad of one CPU (150% = 15000). */
export function compileCpuQuota(ctx: Ctx, name: PropertyName, _spec: PropertySpec, value: unknown): Compiled<number> {
  let permyriad: number;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) fail(ctx, name, value, 'must be a number of CPUs above 0');
    if (value > ctx.hostCpus) {
      fail(
        ctx,
        name,
        value,
        `a number means CPUs: ${value} is ${value * 100}% (${value} CPUs), more than the ${ctx.hostCpus} this host has; for a percentage write '${value}%'`,
      );
    }
    permyriad = Math.round(value * 10000);
  } else if (typeof value === 'string') {
    if (/^\s*\d+(\.\d+)?\s*$/.test(value))
      fail(
        ctx,
        name,
        value,
        `no % sign: write '${value.trim()}%' for a percentage, or ${Number(value) / 100} for CPUs`,
      );
    permyriad = attempt(ctx, name, value, () => parsePercentString(value));
  } else {
    fail(ctx, name, value, 'not a percentage or a number of CPUs');
  }
  if (permyriad === 0) fail(ctx, name, value, 'must be above 0% (for no limit, leave CPUQuota out)');
  if (permyriad > ctx.hostCpus * 10000)
    ctx.warn(
      `${ctx.base}.CPUQuota ${formatExample(value)} is more than the ${ctx.hostCpus} CPUs of this host: it will never limit anything here`,
    );
  return { value: permyriad, dbus: [['CPUQuotaPerSecUSec', 't', permyriad * 100]] };
}

export function compileMemory(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<Mem> {
  const [plain, scaled] = [spec.dbus[0]![0], spec.dbus[1]![0]];
  if (value === 'infinity') return { value: 'infinity', dbus: [[plain, 't', UINT64_MAX]] };
  if (isPercentString(value)) {
    const permyriad = attempt(ctx, name, value, () => parsePercentString(value, 10000));
    if (permyriad === 0 && !spec.zeroOk) fail(ctx, name, value, '0% would allow no memory at all');
    if (
      ctx.node &&
      spec.floor !== undefined &&
      (BigInt(totalmem()) * BigInt(permyriad)) / 10000n < BigInt(spec.floor)
    ) {
      throw new OptionError(
        `${ctx.base}.${name}`,
        value,
        `on this host that is below ${spec.floor / 1048576}M, too little for even one Node process (about 40 MB each)`,
        `at least ${spec.floor / 1048576}M for Node, e.g. '512M'`,
      );
    }
    return { value: { permyriad }, dbus: [[scaled, 'u', scaleFromPermyriad(permyriad)]] };
  }
  if (value === 'max') fail(ctx, name, value, `write 'infinity' for no limit`);
  const bytes = attempt(ctx, name, value, () => parseSize(value, 1024));
  if (bytes === 0n && !spec.zeroOk)
    fail(ctx, name, value, `0 bytes is not a limit systemd accepts; for no limit write 'infinity'`);
  if (ctx.node && spec.floor !== undefined && bytes < BigInt(spec.floor)) {
    throw new OptionError(
      `${ctx.base}.${name}`,
      value,
      `below ${spec.floor / 1048576}M: every Node process needs about 40 MB, so no worker could start`,
      `at least ${spec.floor / 1048576}M for Node, e.g. '512M'`,
    );
  }
  return { value: { bytes }, dbus: [[plain, 't', u64(bytes)]] };
}

export function compileTasks(ctx: Ctx, name: PropertyName, _spec: PropertySpec, value: unknown): Compiled<Tasks> {
  if (value === 'infinity') return { value: 'infinity', dbus: [['TasksMax', 't', UINT64_MAX]] };
  if (isPercentString(value)) {
    const permyriad = attempt(ctx, name, value, () => parsePercentString(value, 10000));
    if (permyriad === 0) fail(ctx, name, value, '0% would allow no tasks at all');
    if (permyriad >= 10000) fail(ctx, name, value, `systemd accepts shares below 100%; for no limit write 'infinity'`);
    return { value: { permyriad }, dbus: [['TasksMaxScale', 'u', scaleFromPermyriad(permyriad)]] };
  }
  if (typeof value !== 'number') fail(ctx, name, value, 'not a number of tasks');
  if (!Number.isSafeInteger(value) || value < 1) fail(ctx, name, value, 'must be a whole number of at least 1');
  if (ctx.node && value < 16)
    throw new OptionError(
      `${ctx.base}.${name}`,
      value,
      'below 16: a single Node process runs 7 to 11 threads, and each counts as a task',
      'at least 16 for Node, e.g. 512',
    );
  return { value: BigInt(value), dbus: [['TasksMax', 't', value]] };
}

/** CPUWeight, IOWeight: 1 to 10000, or 'idle' (0) where the row allows it. */
export function compileWeight(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<number> {
  if (value === 'idle' && spec.idle) return single(spec, 0);
  if (typeof value !== 'number' || !Number.isInteger(value)) fail(ctx, name, value, 'not a whole number');
  if (value < 1 || value > 10000) fail(ctx, name, value, 'out of range 1 to 10000');
  return single(spec, value);
}

/** AllowedCPUs: the CPU numbers. */
export function compileCpuSet(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<number[]> {
  const list = attempt(ctx, name, value, () => parseCpuSet(value));
  const bad = list.find((c) => c >= ctx.hostCpus);
  if (bad !== undefined) {
    fail(
      ctx,
      name,
      value,
      `this host has CPUs 0-${ctx.hostCpus - 1}, not ${bad}; systemd would only log a warning and not pin anything`,
    );
  }
  return single(spec, list, cpuSetToBuffer(list));
}

/** Why systemd could not find a block device for `path` (lookup_block_device()), or undefined. */
function blockDeviceProblem(path: string): string | undefined {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch {
    return `${path} does not exist`;
  }
  if (st.isBlockDevice()) return undefined;
  if (st.isCharacterDevice()) return `${path} is a character device, not a block device`;
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  if (major === 0n) return `${path} is on a file system with no block device behind it (tmpfs, overlay, proc...)`;
  return undefined;
}

/** IOReadBandwidthMax, IOWriteBandwidthMax: (device, bytes per second) pairs. */
export function compileIoBandwidth(
  ctx: Ctx,
  name: PropertyName,
  spec: PropertySpec,
  value: unknown,
): Compiled<(readonly [string, number | bigint])[]> {
  let pairs: [string, unknown][];
  if (isPlainObject(value)) pairs = Object.entries(value);
  else if (typeof value === 'string' || Array.isArray(value)) {
    pairs = asList(value).map((item, i) => {
      if (typeof item !== 'string') fail(ctx, name, value, `not '/dev/sda 20M'`, `[${i}]`);
      const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(item);
      if (!m)
        fail(
          ctx,
          name,
          value,
          `'${item}' is not a device and a rate separated by a space`,
          Array.isArray(value) ? `[${i}]` : '',
        );
      return [m[1]!, m[2]!];
    });
  } else fail(ctx, name, value, 'not a map of devices to rates');
  if (pairs.length === 0) fail(ctx, name, value, 'empty');
  const entries = pairs.map(([device, rate]) => {
    if (!isAbsolute(device) || !isNormalized(device))
      fail(ctx, name, value, `'${device}' is not an absolute, normalized path`, `['${device}']`);
    if (ctx.checkFiles) {
      const problem = blockDeviceProblem(device);
      if (problem)
        fail(ctx, name, value, `${problem}; systemd would skip the limit with only a log line`, `['${device}']`);
    }
    let bytes: bigint;
    if (rate === 'infinity') bytes = UINT64_MAX;
    else {
      bytes = attempt(ctx, name, value, () => parseSize(rate, 1000), `['${device}']`);
      if (bytes === 0n) fail(ctx, name, value, '0 bytes per second would stop all IO', `['${device}']`);
    }
    return [device, u64(bytes)] as const;
  });
  return single(spec, entries);
}

/** RuntimeMaxSec, in microseconds. */
export function compileDuration(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<bigint> {
  const usec = attempt(ctx, name, value, () => parseDuration(value));
  if (usec === 0n) fail(ctx, name, value, `0 would stop the unit as soon as it starts; for no limit write 'infinity'`);
  return single(spec, usec, u64(usec));
}

/** MemoryHigh at or above MemoryMax never throttles: systemd accepts it, so this only warns. */
export function warnMemoryHighNotBelowMax(ctx: Ctx, max: Mem | undefined, high: Mem | undefined): void {
  if (max === undefined || high === undefined || max === 'infinity') return;
  const cmp = (m: Mem) =>
    m === 'infinity' ? Infinity : 'bytes' in m ? Number(m.bytes) : (totalmem() * m.permyriad) / 10000;
  if (cmp(high) >= cmp(max))
    ctx.warn(
      `${ctx.base}.MemoryHigh is not below MemoryMax, so it never throttles: the unit is OOM-killed at MemoryMax first`,
    );
}

/** The CPUs a unit may use: CPUQuota rounded up, AllowedCPUs counted, the fewer of the two; undefined without either. */
export function unitCpus(
  cpuQuotaPermyriad: number | undefined,
  allowedCpus: readonly number[] | undefined,
): number | undefined {
  const fromQuota = cpuQuotaPermyriad === undefined ? undefined : Math.max(1, Math.ceil(cpuQuotaPermyriad / 10000));
  const limits = [fromQuota, allowedCpus?.length].filter((x): x is number => x !== undefined);
  return limits.length > 0 ? Math.min(...limits) : undefined;
}
