// The type of `properties` is derived from the table. These assertions are checked by the TypeScript
// compiler (tsc over this file); at run time they only make sure the values compile too.
import { expectTypeOf, test } from 'vitest';
import type { InputOf, PropertyName, TABLE, UnitProperties } from '../../../src/properties/index.js';
import { compile } from './helpers.js';

test('UnitProperties is exact', () => {
  const good: UnitProperties = {
    CPUQuota: '20%',
    MemoryMax: '1.5G',
    MemoryHigh: '50%',
    MemorySwapMax: 0,
    TasksMax: 'infinity',
    RuntimeMaxSec: '1h 30s',
    LimitNOFILE: { soft: 1024, hard: 4096 },
    LimitAS: '16G',
    LimitCORE: '0:0',
    ProtectSystem: 'strict',
    ProtectHome: true,
    User: 'nobody',
    SupplementaryGroups: ['nogroup', 0],
    BindPaths: ['/tmp:/mnt', { source: '/etc', readOnly: true }],
    RestrictAddressFamilies: ['AF_UNIX', 'AF_INET'],
    CapabilityBoundingSet: ['CAP_NET_BIND_SERVICE', 'net_admin'],
    SystemCallFilter: { allow: ['@system-service', '@pkey'], deny: ['@mount'] },
    SystemCallArchitectures: 'native',
    RestrictNamespaces: { deny: ['user'] },
    OOMPolicy: 'kill',
    Environment: { NODE_ENV: 'production' },
  };
  compile(good, { checkFiles: false });

  expectTypeOf<UnitProperties['ProtectSystem']>().toEqualTypeOf<boolean | 'full' | 'strict' | undefined>();
  expectTypeOf<UnitProperties['ProtectHome']>().toEqualTypeOf<boolean | 'read-only' | 'tmpfs' | undefined>();
  expectTypeOf<UnitProperties['OOMPolicy']>().toEqualTypeOf<'continue' | 'stop' | 'kill' | undefined>();
  expectTypeOf<UnitProperties['PrivateNetwork']>().toEqualTypeOf<boolean | undefined>();
  expectTypeOf<InputOf<(typeof TABLE)['Nice']>>().toEqualTypeOf<number>();
  expectTypeOf<InputOf<(typeof TABLE)['CPUWeight']>>().toEqualTypeOf<number | 'idle'>();
  expectTypeOf<'CPUQuota'>().toMatchTypeOf<PropertyName>();

  const bad: UnitProperties[] = [
    // @ts-expect-error: names are exact
    { CPUQuta: '20%' },
    // @ts-expect-error: and case-sensitive
    { cpuQuota: '20%' },
    // @ts-expect-error: set by unitpool
    { ExecStart: '/bin/true' },
    // @ts-expect-error: not an enum value
    { ProtectSystem: 'yes' },
    // @ts-expect-error: a boolean, not a string
    { PrivateNetwork: 'true' },
    // @ts-expect-error: no such unit
    { MemoryMax: '512 megabytes' },
    // @ts-expect-error: not a family
    { RestrictAddressFamilies: ['AF_NOPE'] },
    // @ts-expect-error: not a capability
    { CapabilityBoundingSet: ['CAP_EVERYTHING'] },
    // @ts-expect-error: not a namespace
    { RestrictNamespaces: ['network'] },
  ];
  void bad;
});
