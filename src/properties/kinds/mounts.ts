// The file-system kinds: path lists (ReadOnlyPaths, ReadWritePaths, InaccessiblePaths), bind mounts (BindPaths,
// BindReadOnlyPaths), TemporaryFileSystem, RootDirectory, WorkingDirectory and RuntimeDirectory. Paths must be
// absolute and normalized, and exist unless marked '-' (systemd would refuse to start the unit). Also here: the
// cross-checks of the mounts together (what Node must still see, mount points systemd cannot create, binds from the
// unit's own tree, WorkingDirectory inside RootDirectory) and keeping what the workers must read readable
// (readable.ts plans it; this turns the plan into properties).

import { OptionError } from '../../errors.js';
import { suggest } from '../names.js';
import { isAbsolute, isNormalized, isUnder, trimSlash } from '../parse.js';
import { planReadable, type ReadablePath, type StatFn } from '../readable.js';
import { UNIT_TREE, unitTreeSource } from '../scratch.js';
import type { PropertyName, PropertySpec } from '../table.js';
import type { UserEntry } from '../users.js';
import {
  asList,
  type Compiled,
  type Ctx,
  type DBusProperty,
  fail,
  fileExists,
  isDirectory,
  isPlainObject,
  MS_REC,
  single,
} from './kind.js';

/** One bind mount, from either property. */
export interface Bind {
  source: string;
  destination: string;
  readOnly: boolean;
  recursive: boolean;
  ignoreMissing: boolean;
  /** The property it came from. */
  property: 'BindPaths' | 'BindReadOnlyPaths';
}

/** One TemporaryFileSystem mount. */
export interface Tmpfs {
  path: string;
  options: string;
}

/** One entry of a path list: as written ('-/opt/x'), and its path without prefixes or a trailing slash. */
export interface PathEntry {
  item: string;
  path: string;
}

export function compilePaths(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<PathEntry[]> {
  const list = asList(value).map((item, i) => {
    const sub = Array.isArray(value) ? `[${i}]` : '';
    if (typeof item !== 'string') fail(ctx, name, value, 'not a path', sub);
    let offset = item.startsWith('-') ? 1 : 0;
    const ignoreMissing = offset === 1;
    const plus = item[offset] === '+';
    if (plus) offset++;
    const p = item.slice(offset);
    if (!isAbsolute(p)) fail(ctx, name, value, `'${item}' is not an absolute path`, sub);
    if (!isNormalized(p)) fail(ctx, name, value, `'${item}' is not normalized (no '.', '..' or '//')`, sub);
    if (ctx.checkFiles && !ignoreMissing && !plus && !fileExists(p)) {
      fail(
        ctx,
        name,
        value,
        `${p} does not exist, and systemd would refuse to start the unit; prefix it with '-' to skip it when missing`,
        sub,
      );
    }
    return { item, path: trimSlash(p) };
  });
  return single(
    spec,
    list,
    list.map((e) => e.item),
  );
}

export function compileBinds(ctx: Ctx, name: PropertyName, _spec: PropertySpec, value: unknown): Compiled<Bind[]> {
  const binds = asList(value).map((item, i) => parseBind(ctx, name, value, item, Array.isArray(value) ? `[${i}]` : ''));
  const toTuple = (b: Bind) => [b.source, b.destination, b.ignoreMissing, b.recursive ? MS_REC : 0] as const;
  const rw = binds.filter((b) => !b.readOnly).map(toTuple);
  const ro = binds.filter((b) => b.readOnly).map(toTuple);
  const dbus: DBusProperty[] = [];
  if (rw.length > 0) dbus.push(['BindPaths', 'a(ssbt)', rw]);
  if (ro.length > 0) dbus.push(['BindReadOnlyPaths', 'a(ssbt)', ro]);
  return { value: binds, dbus };
}

export function compileTmpfs(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<Tmpfs[]> {
  const entries = asList(value).map((item, i) =>
    parseTmpfs(ctx, name, value, item, Array.isArray(value) ? `[${i}]` : ''),
  );
  return single(
    spec,
    entries,
    entries.map((e) => [e.path, e.options] as const),
  );
}

/** RootDirectory: an existing directory; the value is without its trailing slash. */
export function compileRootPath(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<string> {
  if (typeof value !== 'string') fail(ctx, name, value, 'not a path');
  if (!isAbsolute(value) || !isNormalized(value)) fail(ctx, name, value, 'not an absolute, normalized path');
  if (ctx.checkFiles && !isDirectory(value)) fail(ctx, name, value, `${value} is not an existing directory`);
  return single(spec, trimSlash(value), value);
}

/** WorkingDirectory: checked for existence by checkWorkingDirectory(), once RootDirectory is known. */
export function compileWorkdir(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<string> {
  if (typeof value !== 'string') fail(ctx, name, value, 'not a path');
  const missingOk = value.startsWith('-');
  const p = missingOk ? value.slice(1) : value;
  if (p !== '~') {
    if (!isAbsolute(p)) fail(ctx, name, value, `not an absolute path (or '~')`);
    if (!isNormalized(p)) fail(ctx, name, value, `not normalized (no '.', '..' or '//')`);
  }
  return single(spec, value);
}

export function compileDirNames(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<string[]> {
  const list = asList(value).map((item, i) => {
    const sub = Array.isArray(value) ? `[${i}]` : '';
    if (typeof item !== 'string' || item.length === 0) fail(ctx, name, value, 'not a directory name', sub);
    if (isAbsolute(item)) fail(ctx, name, value, `'${item}' must be relative (it is created under /run)`, sub);
    if (!isNormalized(item)) fail(ctx, name, value, `'${item}' is not normalized (no '.', '..' or '//')`, sub);
    if (item === 'private' || item.startsWith('private/'))
      fail(ctx, name, value, `'private' is reserved by systemd`, sub);
    return trimSlash(item);
  });
  return single(spec, list);
}

function parseBind(ctx: Ctx, name: PropertyName, whole: unknown, item: unknown, sub: string): Bind {
  const readOnlyProperty = name === 'BindReadOnlyPaths';
  let b: Bind;
  if (typeof item === 'string') {
    const ignoreMissing = item.startsWith('-');
    const parts = (ignoreMissing ? item.slice(1) : item).split(':');
    if (parts.length > 3) fail(ctx, name, whole, `'${item}' has more than three ':'-separated parts`, sub);
    const [source = '', destination = source, opt] = parts;
    if (opt !== undefined && opt !== 'rbind' && opt !== 'norbind')
      fail(ctx, name, whole, `unknown option '${opt}' (rbind or norbind)`, sub);
    b = {
      source,
      destination,
      readOnly: readOnlyProperty,
      recursive: opt !== 'norbind',
      ignoreMissing,
      property: name as Bind['property'],
    };
  } else if (isPlainObject(item)) {
    const known = ['source', 'destination', 'readOnly', 'recursive', 'ignoreMissing'];
    const extra = Object.keys(item).find((k) => !known.includes(k));
    if (extra !== undefined)
      fail(
        ctx,
        name,
        whole,
        `unknown field '${extra}'${suggest(extra, known) ? `; did you mean '${suggest(extra, known)}'?` : ''}`,
        sub,
      );
    if (typeof item.source !== 'string') fail(ctx, name, whole, 'source must be a path', `${sub}.source`);
    for (const k of ['readOnly', 'recursive', 'ignoreMissing'] as const) {
      if (item[k] !== undefined && typeof item[k] !== 'boolean')
        fail(ctx, name, whole, `${k} must be a boolean`, `${sub}.${k}`);
    }
    if (item.destination !== undefined && typeof item.destination !== 'string')
      fail(ctx, name, whole, 'destination must be a path', `${sub}.destination`);
    if (readOnlyProperty && item.readOnly === false)
      fail(
        ctx,
        name,
        whole,
        'BindReadOnlyPaths entries are read-only; put writable ones in BindPaths',
        `${sub}.readOnly`,
      );
    b = {
      source: item.source,
      destination: (item.destination as string | undefined) ?? item.source,
      readOnly: readOnlyProperty || item.readOnly === true,
      recursive: item.recursive !== false,
      ignoreMissing: item.ignoreMissing === true,
      property: name as Bind['property'],
    };
  } else {
    fail(ctx, name, whole, 'not a bind mount', sub);
  }
  for (const [what, p] of [
    ['source', b.source],
    ['destination', b.destination],
  ] as const) {
    if (!isAbsolute(p)) fail(ctx, name, whole, `${what} '${p}' is not an absolute path`, sub);
    if (!isNormalized(p)) fail(ctx, name, whole, `${what} '${p}' is not normalized (no '.', '..' or '//')`, sub);
  }
  // A source in the unit's own tree (scratch.ts) does not exist on the host; checkMounts() checks it instead.
  if (ctx.checkFiles && !b.ignoreMissing && unitTreeSource(b.source) === undefined && !fileExists(b.source)) {
    fail(
      ctx,
      name,
      whole,
      `source ${b.source} does not exist, and systemd would refuse to start the unit; mark it ignoreMissing (or prefix '-') to skip it`,
      sub,
    );
  }
  return b;
}

const TMPFS_FLAGS = [
  'ro',
  'rw',
  'nosuid',
  'suid',
  'nodev',
  'dev',
  'noexec',
  'exec',
  'sync',
  'async',
  'noatime',
  'atime',
  'relatime',
  'norelatime',
  'strictatime',
  'nostrictatime',
  'nodiratime',
  'diratime',
  'lazytime',
  'nolazytime',
];
const TMPFS_KEYS: Readonly<Record<string, RegExp>> = {
  mode: /^[0-7]{3,4}$/,
  size: /^\d+[kmg%]?$/,
  nr_blocks: /^\d+[kmg]?$/,
  nr_inodes: /^\d+[kmg]?$/,
  uid: /^\d+$/,
  gid: /^\d+$/,
  huge: /^(never|always|within_size|advise|deny|force)$/,
  mpol: /^(default|prefer|bind|interleave|local)(:[\d,-]+)?$/,
};

function parseTmpfs(ctx: Ctx, name: PropertyName, whole: unknown, item: unknown, sub: string): Tmpfs {
  let path: unknown;
  let options: unknown;
  if (typeof item === 'string') {
    const i = item.indexOf(':');
    path = i < 0 ? item : item.slice(0, i);
    options = i < 0 ? '' : item.slice(i + 1);
  } else if (isPlainObject(item)) {
    const extra = Object.keys(item).find((k) => k !== 'path' && k !== 'options');
    if (extra !== undefined) fail(ctx, name, whole, `unknown field '${extra}'`, sub);
    path = item.path;
    options = Array.isArray(item.options) ? (item.options as unknown[]).join(',') : (item.options ?? '');
  } else fail(ctx, name, whole, 'not a mount point', sub);
  if (typeof path !== 'string' || !isAbsolute(path) || !isNormalized(path))
    fail(ctx, name, whole, `${JSON.stringify(path)} is not an absolute, normalized path`, sub);
  if (typeof options !== 'string') fail(ctx, name, whole, 'options must be a string or an array of strings', sub);
  for (const o of options.split(',').filter((x) => x)) {
    const eq = o.indexOf('=');
    if (eq < 0) {
      if (!TMPFS_FLAGS.includes(o)) fail(ctx, name, whole, `unknown tmpfs option '${o}'`, sub);
    } else {
      const re = TMPFS_KEYS[o.slice(0, eq)];
      if (re === undefined) fail(ctx, name, whole, `unknown tmpfs option '${o.slice(0, eq)}'`, sub);
      if (!re.test(o.slice(eq + 1))) fail(ctx, name, whole, `bad value in tmpfs option '${o}'`, sub);
    }
  }
  for (const needed of ['/proc', '/dev', '/']) {
    if (trimSlash(path) === needed)
      fail(
        ctx,
        name,
        whole,
        `a tmpfs over ${needed} would leave Node without ${needed === '/' ? 'anything' : needed}`,
        sub,
      );
  }
  return { path: trimSlash(path), options };
}

// ---- Cross-checks ---------------------------------------------------------------------------------

/** The unit's mounts, as the cross-checks read them. */
export interface Mounts {
  /** InaccessiblePaths, without prefixes or trailing slashes. */
  readonly inaccessible: readonly string[];
  readonly tmpfs: readonly Tmpfs[];
  /** BindPaths, then BindReadOnlyPaths. */
  readonly binds: readonly Bind[];
  readonly rootDirectory: string | undefined;
  readonly protectHome: string | undefined;
}

/** What Node needs must stay visible, and systemd must be able to create every bind mount point. */
export function checkMounts(ctx: Ctx, m: Mounts, props: Readonly<Record<string, unknown>>): void {
  const at = (name: PropertyName) => `${ctx.base}.${name}`;
  for (const i of ctx.node ? m.inaccessible : []) {
    for (const needed of ['/proc', '/dev/null', process.execPath]) {
      if (isUnder(needed, i))
        throw new OptionError(
          at('InaccessiblePaths'),
          props.InaccessiblePaths,
          `${i} would hide ${needed}, which Node needs`,
          'paths Node does not need',
        );
    }
  }
  // ProtectHome=yes and binds below the hidden directories: systemd cannot create those mount points.
  if (m.protectHome === 'yes') {
    const b = m.binds.find((x) =>
      ['/home', '/root', '/run/user'].some((h) => isUnder(x.destination, h) && trimSlash(x.destination) !== h),
    );
    if (b) {
      throw new OptionError(
        at('ProtectHome'),
        props.ProtectHome,
        `systemd cannot bind ${b.destination} under ProtectHome=true (its mount point cannot be created in the inaccessible directory); 'tmpfs' hides the same and lets the bind through`,
        `ProtectHome: 'tmpfs'`,
      );
    }
  }
  for (const b of m.binds) {
    const hidden = m.inaccessible.find((i) => isUnder(b.destination, i) && trimSlash(b.destination) !== i);
    if (hidden) {
      throw new OptionError(
        at('InaccessiblePaths'),
        props.InaccessiblePaths,
        `${hidden} contains the bind mount point ${b.destination}, which systemd cannot create there; hide it with TemporaryFileSystem: '${hidden}:ro' instead`,
        `TemporaryFileSystem: '${hidden}:ro'`,
      );
    }
  }
  checkUnitTreeBinds(ctx, m, props);
}

/**
 * Binds whose source is in the unit's own tree (UNIT_TREE, see scratch.ts) must bind one of the unit's own
 * TemporaryFileSystem mounts, mounted before the bind (systemd applies mounts in path order), with no RootDirectory
 * (systemd then builds the tree elsewhere). Anything else would bind a host path, or nothing.
 */
function checkUnitTreeBinds(ctx: Ctx, m: Mounts, props: Readonly<Record<string, unknown>>): void {
  for (const b of m.binds) {
    const inTree = unitTreeSource(b.source);
    if (inTree === undefined) continue;
    const at = `${ctx.base}.${b.property}`;
    const value = props[b.property];
    if (m.rootDirectory !== undefined) {
      throw new OptionError(
        at,
        value,
        `a bind from ${UNIT_TREE} (the unit's own tree, as the untrusted preset's scratch space uses) does not work with RootDirectory: systemd builds the tree in the RootDirectory then`,
        'no RootDirectory; or, with one, BindPaths: null and a TemporaryFileSystem of your own',
      );
    }
    const mount = unitTreeBinds(m).find((x) => x.bind === b)?.tmpfs;
    if (mount === undefined || !sortsBefore(mount.path, b.destination)) {
      throw new OptionError(
        at,
        value,
        `source ${b.source} must lie in one of the unit's own TemporaryFileSystem mounts that systemd mounts before ${b.destination} (mounts are applied in path order)`,
        `TemporaryFileSystem: '${inTree}' with a path that sorts before ${b.destination}`,
      );
    }
  }
}

/** The binds from the unit's own tree, each with the TemporaryFileSystem mount its source lies in (if any). */
function unitTreeBinds(m: Mounts): { bind: Bind; tmpfs: Tmpfs | undefined }[] {
  return m.binds.flatMap((bind) => {
    const inTree = unitTreeSource(bind.source);
    return inTree === undefined ? [] : [{ bind, tmpfs: m.tmpfs.find((t) => isUnder(inTree, t.path)) }];
  });
}

/** systemd's mount order: component by component (path_compare). */
function sortsBefore(a: string, b: string): boolean {
  const x = trimSlash(a).split('/');
  const y = trimSlash(b).split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]!;
  return x.length < y.length;
}

/** Writable host binds under DynamicUser leave files owned by a uid systemd may give someone else later. */
export function warnDynamicUserBinds(ctx: Ctx, dynamicUser: boolean | undefined, binds: readonly Bind[]): void {
  if (dynamicUser && binds.some((b) => !b.readOnly && unitTreeSource(b.source) === undefined)) {
    ctx.warn(
      `${ctx.base}.BindPaths with DynamicUser: files the workers create there outlive the dynamic uid, which systemd may reuse (systemd.exec(5) advises against it)`,
    );
  }
}

/** WorkingDirectory must exist (status 200/CHDIR otherwise), inside RootDirectory if there is one. */
export function checkWorkingDirectory(
  ctx: Ctx,
  workingDirectory: string | undefined,
  rootDirectory: string | undefined,
  expected: string,
): void {
  if (workingDirectory === undefined || !ctx.checkFiles) return;
  const w = workingDirectory;
  if (w.startsWith('-') || w === '~') return;
  const full = rootDirectory && rootDirectory !== '/' ? `${rootDirectory}${w}` : w;
  if (!isDirectory(full)) {
    throw new OptionError(
      `${ctx.base}.WorkingDirectory`,
      w,
      `${full} is not an existing directory; systemd would fail to start the workers; prefix '-' to tolerate it`,
      expected,
    );
  }
}

/** What keeping the readable paths readable needs. */
export interface ReadableNeeds {
  readonly paths: readonly (string | ReadablePath)[];
  /** The workers' identity: a dynamic user, a static one, or ours. */
  readonly identity: 'dynamic' | UserEntry | undefined;
  /** PrivateTmp, or DynamicUser which implies it. */
  readonly privateTmp: boolean;
  readonly stat?: StatFn | undefined;
}

/**
 * Keeps `needs.paths` readable for the workers (readable.ts): throws the first problem as an OptionError; returns the
 * ProtectHome value to use instead of the user's (yes becomes tmpfs), and the BindReadOnlyPaths that re-expose paths.
 */
export function keepReadable(
  ctx: Ctx,
  m: Mounts,
  needs: ReadableNeeds,
  props: Readonly<Record<string, unknown>>,
): { protectHome: string | undefined; binds: DBusProperty | undefined } {
  const plan = planReadable({
    paths: needs.paths.map((p) => (typeof p === 'string' ? { path: p, what: 'needed by the workers' } : p)),
    protectHome: m.protectHome,
    identity: needs.identity,
    inaccessible: [...m.inaccessible],
    // A bind from the unit's own tree (scratch.ts) hides its destination as the tmpfs it binds does.
    tmpfs: [
      ...m.tmpfs,
      ...unitTreeBinds(m).map(({ bind, tmpfs }) => ({ path: bind.destination, options: tmpfs?.options ?? '' })),
    ],
    privateTmp: needs.privateTmp,
    bindDestinations: m.binds.filter((b) => unitTreeSource(b.source) === undefined).map((b) => b.destination),
    rootDirectory: m.rootDirectory,
    ...(needs.stat ? { stat: needs.stat } : {}),
  });
  const first = plan.problems[0];
  if (first) {
    const prop = first.property as PropertyName;
    throw new OptionError(`${ctx.base}.${prop}`, props[prop], first.problem, first.expected);
  }
  return {
    protectHome: plan.protectHome,
    binds:
      plan.binds.length > 0
        ? ['BindReadOnlyPaths', 'a(ssbt)', plan.binds.map((p) => [p, p, false, MS_REC] as const)]
        : undefined,
  };
}
