// The rlimit kind: the Limit* properties (LimitNOFILE, LimitNPROC, LimitCORE, ...), one value or { soft, hard } or
// 'soft:hard', each in its rlimit's unit (bytes, a count, seconds, microseconds, a nice level), as the LimitX and
// LimitXSoft pair systemd takes. Also here: the check that TasksMax, LimitNOFILE and LimitNPROC leave room for the
// pool's workers, which needs what the unit's other properties compiled to.

import { readFileSync } from 'node:fs';
import { OptionError } from '../../errors.js';
import { Invalid, parseDuration, parseSize, u64, UINT64_MAX, USEC } from '../parse.js';
import type { PropertyName, PropertySpec } from '../table.js';
import { attempt, type Compiled, type Ctx, fail, isPlainObject } from './kind.js';
import type { Tasks } from './resources.js';

/** An rlimit in its raw units ('infinity' = 2^64-1; LimitNICE as 20 - nice). */
export interface Rlimit {
  soft: bigint;
  hard: bigint;
}

export function compileRlimit(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<Rlimit> {
  const kind = spec.rlimit!;
  const one = (v: unknown, sub: string): bigint =>
    attempt(
      ctx,
      name,
      value,
      () => {
        if (v === 'infinity') {
          if (kind === 'nice') throw new Invalid(`LimitNICE has no 'infinity'; give a nice level from -20 to 19`);
          return UINT64_MAX;
        }
        switch (kind) {
          case 'size':
            return parseSize(typeof v === 'string' ? v.trim() : v, 1024);
          case 'count': {
            const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
            if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new Invalid('not a whole number');
            return BigInt(n);
          }
          case 'seconds': {
            const usec = parseDuration(v);
            return (usec + USEC.s - 1n) / USEC.s; // rounded up, as systemd does
          }
          case 'usec':
            if (typeof v !== 'number') return parseDuration(v, 1n);
            if (!Number.isSafeInteger(v) || v < 0) throw new Invalid('not a whole number of microseconds');
            return BigInt(v);
          case 'nice': {
            const n = typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : v;
            if (typeof n !== 'number' || !Number.isInteger(n) || n < -20 || n > 19)
              throw new Invalid('not a nice level from -20 to 19');
            return BigInt(20 - n);
          }
        }
      },
      sub,
    );
  let soft: bigint;
  let hard: bigint;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort().join(',');
    if (keys !== 'hard,soft') fail(ctx, name, value, 'an object needs exactly soft and hard');
    soft = one(value.soft, '.soft');
    hard = one(value.hard, '.hard');
  } else if (typeof value === 'string' && value.includes(':')) {
    const [s, h, ...rest] = value.split(':');
    if (rest.length > 0) fail(ctx, name, value, `not 'soft:hard'`);
    soft = one(s!.trim(), '');
    hard = one(h!.trim(), '');
  } else {
    soft = hard = one(value, '');
  }
  if (soft > hard) fail(ctx, name, value, 'the soft limit is above the hard limit');
  if (ctx.node && spec.floor !== undefined && soft < BigInt(spec.floor)) {
    const floorText =
      kind === 'size'
        ? `${spec.floor / 1048576 >= 1024 ? `${spec.floor / 1073741824}G` : `${spec.floor / 1048576}M`}`
        : String(spec.floor);
    const why = spec.note ? ` (${spec.note[0]!.toLowerCase()}${spec.note.slice(1).replace(/\.$/, '')})` : '';
    fail(ctx, name, value, `below ${floorText}, Node cannot run${why}`);
  }
  if (name === 'LimitCPU' && soft === 0n) fail(ctx, name, value, '0 seconds would kill every worker at once');
  if (name === 'LimitNOFILE' && hard !== UINT64_MAX) {
    const nrOpen = readNrOpen();
    if (nrOpen !== undefined && hard > BigInt(nrOpen)) {
      fail(ctx, name, value, `above this kernel's fs.nr_open (${nrOpen}); systemd would fail to start the unit`);
    }
  }
  if (name === 'LimitNOFILE' && hard === UINT64_MAX)
    fail(ctx, name, value, `the kernel has no unlimited number of files; give a number (at most fs.nr_open)`);
  const [hardName] = spec.dbus[0]!;
  const [softName] = spec.dbus[1]!;
  return {
    value: { soft, hard },
    dbus: [
      [hardName, 't', u64(hard)],
      [softName, 't', u64(soft)],
    ],
  };
}

function readNrOpen(): number | undefined {
  try {
    const n = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** What the room-for-workers check reads. */
export interface WorkerRoom {
  /** CompileOptions.maxWorkers. */
  readonly workers: number | undefined;
  readonly tasksMax: Tasks | undefined;
  readonly nofile: Rlimit | undefined;
  readonly nproc: Rlimit | undefined;
  /** The workers run as a user other than root (LimitNPROC does not bind root). */
  readonly nonRoot: boolean;
}

/** TasksMax, LimitNOFILE and LimitNPROC must leave room for `workers` workers and the supervisor. */
export function checkRoomForWorkers(ctx: Ctx, room: WorkerRoom, props: Readonly<Record<string, unknown>>): void {
  const { workers, tasksMax, nofile, nproc } = room;
  if (workers === undefined || !Number.isInteger(workers) || workers <= 0) return;
  const at = (name: PropertyName) => `${ctx.base}.${name}`;
  const tasks = 12 * (workers + 1);
  if (typeof tasksMax === 'bigint' && tasksMax < BigInt(tasks)) {
    throw new OptionError(
      at('TasksMax'),
      props.TasksMax,
      `too small for ${workers} workers: each Node process runs up to about 11 threads, so ${workers} workers and the supervisor need ${tasks}`,
      `at least ${tasks}, or fewer maxWorkers`,
    );
  }
  const fds = 32 + 8 * workers;
  // Node raises its soft limit to the hard one at start: the hard limit is what the supervisor gets.
  if (nofile && nofile.hard < BigInt(fds)) {
    throw new OptionError(
      at('LimitNOFILE'),
      props.LimitNOFILE,
      `too small for ${workers} workers: the supervisor holds descriptors for each (${fds} needed)`,
      `at least ${fds}`,
    );
  }
  if (nproc && room.nonRoot && nproc.soft < BigInt(tasks)) {
    throw new OptionError(
      at('LimitNPROC'),
      props.LimitNPROC,
      `too small for ${workers} workers: it counts every thread of the user, and ${workers} workers and the supervisor run about ${tasks}`,
      `at least ${tasks}`,
    );
  }
}
