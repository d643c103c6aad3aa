// Users and groups are looked up through NSS (getent), as systemd will when it starts the unit.
import { describe, expect, test } from 'vitest';
import { nssLookup } from '../../../src/properties/index.js';
import type { IdentityLookup } from '../../../src/properties/index.js';
import { compile, message } from './helpers.js';

const NO_SUCH_USER = 'unitpool-no-such-user-7f3a9c';
const NO_SUCH_GROUP = 'unitpool-no-such-group-7f3a9c';

describe('real NSS lookups', () => {
  test('nobody exists', () => {
    expect(nssLookup.user('nobody')).toMatchObject({ name: 'nobody', uid: 65534 });
    expect(compile({ User: 'nobody' })).toEqual([['User', 's', 'nobody']]);
  });

  test('root by name and by uid', () => {
    expect(nssLookup.user('root')).toMatchObject({ uid: 0, gid: 0 });
    expect(nssLookup.user('0')).toMatchObject({ name: 'root' });
    expect(compile({ User: 0 })).toEqual([['User', 's', '0']]);
  });

  test('an unknown user is refused at once', () => {
    expect(nssLookup.user(NO_SUCH_USER)).toBeUndefined();
    expect(message({ User: NO_SUCH_USER })).toBe(
      `properties.User: no such user on this host (getent passwd ${NO_SUCH_USER}) (got "${NO_SUCH_USER}"); expected an existing user like 'nobody', or DynamicUser: true to get a fresh one`,
    );
  });

  test('an unknown uid is refused too (systemd needs its group)', () => {
    expect(message({ User: 4000000000 })).toBe(
      `properties.User: no such user on this host (getent passwd 4000000000) (got 4000000000); expected an existing user like 'nobody', or DynamicUser: true to get a fresh one`,
    );
  });

  test('groups', () => {
    expect(nssLookup.group('root')).toMatchObject({ gid: 0 });
    expect(compile({ Group: 'root', SupplementaryGroups: ['root'] })).toEqual([
      ['Group', 's', 'root'],
      ['SupplementaryGroups', 'as', ['root']],
    ]);
    expect(message({ Group: NO_SUCH_GROUP })).toBe(
      `properties.Group: no such group on this host (getent group ${NO_SUCH_GROUP}) (got "${NO_SUCH_GROUP}"); expected an existing group like 'nogroup'`,
    );
    expect(message({ SupplementaryGroups: ['root', NO_SUCH_GROUP] })).toBe(
      `properties.SupplementaryGroups[1]: no such group on this host (getent group ${NO_SUCH_GROUP}) (got "${NO_SUCH_GROUP}"); expected an array of group names or gids (['video', 1001]); each must exist (e.g. ['nogroup'])`,
    );
  });
});

describe('DynamicUser', () => {
  test('a new name is fine without a lookup hit', () => {
    expect(compile({ DynamicUser: true, User: 'unitpool-job' })).toEqual([
      ['User', 's', 'unitpool-job'],
      ['DynamicUser', 'b', true],
    ]);
  });

  test('an existing user would be used statically: refused', () => {
    expect(message({ DynamicUser: true, User: 'root' })).toBe(
      `properties.User: root already exists (uid 0), so with DynamicUser systemd would run the workers as that static user, not a fresh one (got "root"); expected a name that does not exist, like 'unitpool-job', or leave User out`,
    );
    expect(message({ DynamicUser: true, User: 'nobody' })).toContain('nobody already exists (uid 65534)');
  });

  test('numbers and odd names are refused', () => {
    expect(message({ DynamicUser: true, User: 1234 })).toBe(
      `properties.User: with DynamicUser, User names the dynamic user and cannot be a number (got 1234); expected a new name like 'myjob', or leave User out`,
    );
    expect(message({ DynamicUser: true, User: 'job.name' })).toBe(
      `properties.User: not a name systemd can allocate dynamically (got "job.name"); expected letters, digits, _ and -, like 'myjob'`,
    );
    expect(message({ DynamicUser: true, Group: 5 })).toBe(
      `properties.Group: with DynamicUser, Group names the dynamic group and cannot be a number (got 5); expected a name, or leave Group out`,
    );
  });

  test('DynamicUser: false still checks User', () => {
    expect(message({ DynamicUser: false, User: NO_SUCH_USER })).toContain('no such user on this host');
  });
});

describe('the lookup can be replaced', () => {
  test('a stub lookup', () => {
    const lookup: IdentityLookup = {
      user: (n) => (n === 'alice' ? { name: 'alice', uid: 1000, gid: 1000, home: '/home/alice' } : undefined),
      group: (n) => (n === 'staff' ? { name: 'staff', gid: 50 } : undefined),
    };
    expect(compile({ User: 'alice', Group: 'staff' }, { lookup })).toEqual([
      ['User', 's', 'alice'],
      ['Group', 's', 'staff'],
    ]);
    expect(message({ User: 'bob' }, { lookup })).toContain('no such user on this host (getent passwd bob)');
  });
});
