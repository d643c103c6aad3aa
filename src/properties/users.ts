// Looking users and groups up the way systemd will when it starts the unit: through NSS (`getent`), so
// LDAP/sssd/nss-systemd users count, synchronously (pool options are validated in the constructor).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { UnitPoolError } from '../errors.js';

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
}

/** How the identity cross-check (kinds/identity.ts) looks identities up; replaceable in tests. `undefined` means: no such user/group. */
export interface IdentityLookup {
  user(nameOrId: string): UserEntry | undefined;
  group(nameOrId: string): GroupEntry | undefined;
}

// systemd synthesizes these even when NSS does not know them (synthesize_user_creds()), so they always
// exist as far as the unit is concerned. Debian's nobody group is 'nogroup'.
const SYNTH_USERS: Readonly<Record<string, UserEntry>> = {
  root: { name: 'root', uid: 0, gid: 0, home: '/root' },
  '0': { name: 'root', uid: 0, gid: 0, home: '/root' },
  nobody: { name: 'nobody', uid: 65534, gid: 65534, home: '/' },
  '65534': { name: 'nobody', uid: 65534, gid: 65534, home: '/' },
};
const SYNTH_GROUPS: Readonly<Record<string, GroupEntry>> = {
  root: { name: 'root', gid: 0 },
  '0': { name: 'root', gid: 0 },
  nobody: { name: 'nobody', gid: 65534 },
  nogroup: { name: 'nogroup', gid: 65534 },
  '65534': { name: 'nogroup', gid: 65534 },
};

type Db = 'passwd' | 'group';

/** One line of `getent DB KEY`, undefined if the key does not exist. Falls back to /etc/DB without getent. */
function getent(db: Db, key: string): string[] | undefined {
  try {
    const out = execFileSync('getent', [db, key], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
    const line = out.split('\n').find((l) => l.length > 0);
    return line === undefined ? undefined : line.split(':');
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number | null };
    if (e.status === 2) return undefined; // key not found
    if (e.code === 'ENOENT') return fromFile(db, key); // no getent on this system
    throw new UnitPoolError(
      `could not look up ${db === 'passwd' ? 'user' : 'group'} ${JSON.stringify(key)} with getent: ${e.message}; check the host's name service (nsswitch.conf)`,
      { cause: err },
    );
  }
}

function fromFile(db: Db, key: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/etc/${db}`, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === key || f[2] === key) return f;
  }
  return undefined;
}

const userCache = new Map<string, UserEntry | undefined>();
const groupCache = new Map<string, GroupEntry | undefined>();

export const nssLookup: IdentityLookup = {
  user(key) {
    if (userCache.has(key)) return userCache.get(key);
    const f = getent('passwd', key);
    const entry = f ? { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' } : SYNTH_USERS[key];
    userCache.set(key, entry);
    return entry;
  },
  group(key) {
    if (groupCache.has(key)) return groupCache.get(key);
    const f = getent('group', key);
    const entry = f ? { name: f[0]!, gid: Number(f[2]) } : SYNTH_GROUPS[key];
    groupCache.set(key, entry);
    return entry;
  },
};

/**
 * systemd's valid_user_group_name() in strict mode, which DynamicUser names must pass: letters, digits,
 * '_' and '-', not starting with a digit or '-', at most 31 characters.
 */
export function isStrictUserName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_-]{0,30}$/.test(name);
}

/** What systemd's relaxed check (valid_user_group_name_or_id_relaxed()) refuses, as a reason, or undefined. */
export function relaxedNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty';
  if (name === '.' || name === '..') return 'not a name';
  if (name.startsWith('-')) return 'a name cannot start with -';
  if (/[\s:/]/.test(name)) return 'a name cannot contain whitespace, : or /';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) return 'a name cannot contain control characters';
  if (/^\d+$/.test(name)) {
    const n = Number(name);
    if (n > 4294967294 || n === 65535) return `${name} is not a valid id`;
  }
  return undefined;
}
