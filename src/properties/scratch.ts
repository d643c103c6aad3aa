// The untrusted preset's scratch space: one private tmpfs with a size cap (and an inode cap), which the workers see
// at /tmp, /var/tmp and /dev/shm. It owns the size option (scratchSize) and the mounts that build it; kinds/mounts.ts
// checks binds from the unit's own tree (unitTreeSource) with it. It may not touch anything else of the unit.
//
// Why it is built this way, on systemd 252:
//  - DynamicUser= forces PrivateTmp=, and PrivateTmp's mounts win over a TemporaryFileSystem= on /tmp or /var/tmp
//    (same path: systemd keeps the mount of higher priority, PrivateTmp's). PrivateTmp's /tmp is a directory on the
//    host's /tmp, with no cap but the host's disk.
//  - BindPaths= wins over PrivateTmp on the same path, and its source is read in the host's tree, except below
//    /run/systemd/unit-root: when there is no RootDirectory=, systemd builds the unit's tree there (a bind of /, with
//    the unit's mounts applied in path order) and moves it to / at the end. So a bind from
//    /run/systemd/unit-root/dev/shm to /tmp binds the unit's own /dev/shm, a TemporaryFileSystem= mounted just
//    before (/dev/shm sorts before /tmp and /var/tmp), never the host's /dev/shm.
//  - If a systemd release built the tree elsewhere, the source would not exist and systemd would refuse to start the
//    unit (the bind is not marked ignoreMissing): the cap never silently goes away. test/escape/filesystem.test.ts
//    checks the three paths are one tmpfs of the given size.
// The tmpfs lives as long as the unit's mount namespace: nothing written in it outlives the pool.

import { totalmem } from 'node:os';
import { OptionError } from '../errors.js';
import type { BindPath } from './table.js';

/** Where systemd (no RootDirectory=) builds the unit's file system tree before moving it to /. */
export const UNIT_TREE = '/run/systemd/unit-root';

/** The scratch space's size when the pool does not say: enough for a playground's files, small next to RAM. */
export const DEFAULT_SCRATCH_SIZE = '256M';

/** Where the scratch tmpfs is mounted; /tmp and /var/tmp are binds of it. */
export const SCRATCH_MOUNT = '/dev/shm';

/**
 * The scratch size as a tmpfs size= value: bytes (a positive integer), or '64M', '1G', '512k', '10%' (of RAM).
 * Throws OptionError naming `path`.
 */
export function scratchSizeValue(value: unknown, path = 'scratchSize'): string {
  const expected = `a size: bytes (a positive integer) or a string like '64M', '1G' or '10%' (of RAM); default '${DEFAULT_SCRATCH_SIZE}'`;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 4096)
      throw new OptionError(path, value, 'not a whole number of bytes of at least 4096', expected);
    return String(value);
  }
  if (typeof value !== 'string') throw new OptionError(path, value, 'not a size', expected);
  const m = /^([1-9]\d*)([KMGkmg%]?)$/.exec(value.trim());
  if (!m) throw new OptionError(path, value, 'not a size', expected);
  if (m[2] === '%' && Number(m[1]) > 100) throw new OptionError(path, value, 'more than 100% of RAM', expected);
  return `${m[1]}${m[2]!.toLowerCase()}`;
}

/** Bytes per inode of the scratch space: a task cannot pin more kernel memory in empty files than in data. */
export const SCRATCH_BYTES_PER_INODE = 4096;

/** The inode cap of a scratch space of `size` (a scratchSizeValue()): one per 4 KiB, at least 1024. */
export function scratchInodes(size: string, ram = totalmem()): number {
  const m = /^(\d+)([kmg%]?)$/.exec(size)!;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, '%': ram / 100 }[m[2] as '' | 'k' | 'm' | 'g' | '%'];
  return Math.max(1024, Math.floor((Number(m[1]) * unit) / SCRATCH_BYTES_PER_INODE));
}

/** The mounts of a scratch space of `size` (a scratchSizeValue()). */
export function scratchMounts(size: string): { TemporaryFileSystem: string[]; BindPaths: BindPath[] } {
  return {
    TemporaryFileSystem: [`${SCRATCH_MOUNT}:size=${size},nr_inodes=${scratchInodes(size)},mode=1777,nosuid,nodev`],
    BindPaths: ['/tmp', '/var/tmp'].map((destination) => ({ source: `${UNIT_TREE}${SCRATCH_MOUNT}`, destination })),
  };
}

/** For a bind source below UNIT_TREE: the path it names in the unit's own tree; otherwise undefined. */
export function unitTreeSource(source: string): string | undefined {
  if (source === UNIT_TREE) return '/';
  return source.startsWith(`${UNIT_TREE}/`) ? source.slice(UNIT_TREE.length) : undefined;
}
