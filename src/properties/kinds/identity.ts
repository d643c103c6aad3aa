// Who the workers run as and with what privileges: User, Group, SupplementaryGroups (names or ids, in the forms
// systemd accepts), the capability sets (CapabilityBoundingSet, AmbientCapabilities) and the MAC labels
// (SELinuxContext, AppArmorProfile). Also here: the cross-checks systemd would only fail at exec time (status
// 217/USER, 218/CAPABILITIES): the user and groups must exist (or, with DynamicUser, must not), and ambient
// capabilities must survive the bounding set.

import { OptionError } from '../../errors.js';
import { expectedOf, suggest } from '../names.js';
import { u64, UINT64_MAX } from '../parse.js';
import { CAPABILITIES, type PropertyName, type PropertySpec, TABLE } from '../table.js';
import { type IdentityLookup, isStrictUserName, relaxedNameProblem, type UserEntry } from '../users.js';
import { type Compiled, type Ctx, fail, isPlainObject, single } from './kind.js';

function identityText(ctx: Ctx, name: PropertyName, value: unknown, sub = ''): string {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 4294967294 || value === 65535)
      fail(ctx, name, value, `not a valid ${name === 'User' ? 'uid' : 'gid'}`, sub);
    return String(value);
  }
  if (typeof value !== 'string') fail(ctx, name, value, `not a ${name === 'User' ? 'user' : 'group'} name or id`, sub);
  const problem = relaxedNameProblem(value);
  if (problem) fail(ctx, name, value, problem, sub);
  return value;
}

/** User, Group: a name or a numeric id, as text. */
export function compileIdentity(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<string> {
  return single(spec, identityText(ctx, name, value));
}

export function compileGroups(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<string[]> {
  if (!Array.isArray(value)) fail(ctx, name, value, 'not an array of groups');
  return single(
    spec,
    (value as unknown[]).map((g, i) => identityText(ctx, name, g, `[${i}]`)),
  );
}

function capabilityBit(n: unknown): number | undefined {
  if (typeof n !== 'string') return undefined;
  const up = n.trim().toUpperCase();
  const full = up.startsWith('CAP_') ? up : `CAP_${up}`;
  const i = (CAPABILITIES as readonly string[]).indexOf(full);
  return i < 0 ? undefined : i;
}

/** A capability set as its 64-bit mask: the names listed, or all but those ('~A B', { drop: [...] }). */
export function compileCaps(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<bigint> {
  let keep = true;
  let names: unknown[];
  if (typeof value === 'string') {
    const t = value.trim();
    keep = !t.startsWith('~');
    names = (keep ? t : t.slice(1)).split(/\s+/).filter((w) => w);
  } else if (Array.isArray(value)) names = value as unknown[];
  else if (isPlainObject(value) && Array.isArray(value.drop) && Object.keys(value).length === 1) {
    keep = false;
    names = value.drop as unknown[];
  } else fail(ctx, name, value, 'not a list of capabilities');
  let mask = 0n;
  names.forEach((n, i) => {
    const bit = capabilityBit(n);
    if (bit === undefined) {
      const s =
        typeof n === 'string'
          ? suggest(n.toUpperCase().startsWith('CAP_') ? n.toUpperCase() : `CAP_${n.toUpperCase()}`, CAPABILITIES)
          : undefined;
      fail(
        ctx,
        name,
        value,
        `unknown capability ${JSON.stringify(n)}${s ? `; did you mean '${s}'?` : ''}`,
        Array.isArray(value) ? `[${i}]` : '',
      );
    }
    mask |= 1n << BigInt(bit);
  });
  const set = keep ? mask : ~mask & UINT64_MAX;
  return single(spec, set, u64(set));
}

export function compileSelinux(ctx: Ctx, name: PropertyName, spec: PropertySpec, value: unknown): Compiled<string> {
  if (typeof value !== 'string' || value.trim() === '') fail(ctx, name, value, 'not an SELinux context');
  if (value.startsWith('-'))
    fail(ctx, name, value, `a '-' prefix is not passed through D-Bus; give the context itself`);
  if (!/^[^:\s]+:[^:\s]+:[^:\s]+(:\S+)?$/.test(value))
    fail(ctx, name, value, 'not a context of the form user:role:type[:level]');
  return single(spec, value);
}

/** AppArmorProfile: [ignore errors, profile]. */
export function compileApparmor(
  ctx: Ctx,
  name: PropertyName,
  spec: PropertySpec,
  value: unknown,
): Compiled<readonly [boolean, string]> {
  let profile: unknown;
  let ignore = false;
  if (typeof value === 'string') {
    ignore = value.startsWith('-');
    profile = ignore ? value.slice(1) : value;
  } else if (isPlainObject(value)) {
    profile = value.profile;
    if (value.ignoreErrors !== undefined && typeof value.ignoreErrors !== 'boolean')
      fail(ctx, name, value, 'ignoreErrors must be a boolean', '.ignoreErrors');
    ignore = value.ignoreErrors === true;
  }
  if (typeof profile !== 'string' || profile.trim() === '' || /\s/.test(profile))
    fail(ctx, name, value, 'not an AppArmor profile name');
  return single(spec, [ignore, profile] as const);
}

/** What the identity check reads. */
export interface Identity {
  readonly user: string | undefined;
  readonly group: string | undefined;
  readonly supplementary: readonly string[];
  readonly dynamicUser: boolean | undefined;
}

/**
 * The user and groups must exist (systemd resolves them only at exec time, failing with status 217/USER); with
 * DynamicUser, User and Group name the dynamic ones, which must not exist. Returns the static user, if one is set.
 */
export function checkIdentities(
  ctx: Ctx,
  id: Identity,
  props: Readonly<Record<string, unknown>>,
  lookup: IdentityLookup,
): UserEntry | undefined {
  const at = (name: PropertyName) => `${ctx.base}.${name}`;
  let userEntry: UserEntry | undefined;
  if (id.dynamicUser) {
    if (id.user !== undefined) {
      if (/^\d+$/.test(id.user))
        throw new OptionError(
          at('User'),
          props.User,
          'with DynamicUser, User names the dynamic user and cannot be a number',
          `a new name like 'myjob', or leave User out`,
        );
      if (!isStrictUserName(id.user))
        throw new OptionError(
          at('User'),
          props.User,
          'not a name systemd can allocate dynamically',
          `letters, digits, _ and -, like 'myjob'`,
        );
      const existing = lookup.user(id.user);
      if (existing) {
        throw new OptionError(
          at('User'),
          props.User,
          `${id.user} already exists (uid ${existing.uid}), so with DynamicUser systemd would run the workers as that static user, not a fresh one`,
          `a name that does not exist, like 'unitpool-job', or leave User out`,
        );
      }
    }
  } else {
    if (id.user !== undefined) {
      userEntry = lookup.user(id.user);
      if (!userEntry)
        throw new OptionError(
          at('User'),
          props.User,
          `no such user on this host (getent passwd ${id.user})`,
          `an existing user like 'nobody', or DynamicUser: true to get a fresh one`,
        );
    }
    if (id.group !== undefined && !lookup.group(id.group)) {
      throw new OptionError(
        at('Group'),
        props.Group,
        `no such group on this host (getent group ${id.group})`,
        `an existing group like 'nogroup'`,
      );
    }
  }
  if (id.dynamicUser && id.group !== undefined && /^\d+$/.test(id.group)) {
    throw new OptionError(
      at('Group'),
      props.Group,
      'with DynamicUser, Group names the dynamic group and cannot be a number',
      'a name, or leave Group out',
    );
  }
  id.supplementary.forEach((g, i) => {
    if (!lookup.group(g))
      throw new OptionError(
        `${at('SupplementaryGroups')}[${i}]`,
        g,
        `no such group on this host (getent group ${g})`,
        expectedOf(TABLE.SupplementaryGroups),
      );
  });
  return userEntry;
}

/** Ambient capabilities must survive the bounding set (else exec fails with status 218/CAPABILITIES). */
export function checkAmbientInBoundingSet(
  ctx: Ctx,
  ambient: bigint | undefined,
  boundingSet: bigint | undefined,
  props: Readonly<Record<string, unknown>>,
): void {
  if (ambient === undefined || boundingSet === undefined || (ambient & ~boundingSet) === 0n) return;
  const lost = CAPABILITIES.filter((_, i) => ((ambient & ~boundingSet) >> BigInt(i)) & 1n);
  throw new OptionError(
    `${ctx.base}.AmbientCapabilities`,
    props.AmbientCapabilities,
    `${lost.join(', ')} ${lost.length > 1 ? 'are' : 'is'} not in CapabilityBoundingSet, so systemd cannot grant ${lost.length > 1 ? 'them' : 'it'}`,
    'capabilities that CapabilityBoundingSet keeps',
  );
}
