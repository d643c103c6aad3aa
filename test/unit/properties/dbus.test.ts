// The compiled values are in the JS forms dbus-next 0.10 marshals: build a real StartTransientUnit
// message with every property, marshal it to bytes, read it back, and compare.
import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import { type DBusProperty, PROPERTY_NAMES, TABLE, type UnitProperties } from '../../../src/properties/index.js';
import { compile } from './helpers.js';

const require = createRequire(import.meta.url);
const { Message, Variant } = require('dbus-next') as {
  Message: new (m: Record<string, unknown>) => Record<string, unknown>;
  Variant: new (signature: string, value: unknown) => { signature: string; value: unknown };
};
const { marshallMessage, messageToJsFmt } = require('dbus-next/lib/marshall-compat') as {
  marshallMessage: (m: unknown) => [Buffer, unknown[]];
  messageToJsFmt: (m: unknown) => { body: unknown[] };
};
const { unmarshall } = require('dbus-next/lib/message') as { unmarshall: (b: Buffer) => unknown };

/** Marshals the properties as StartTransientUnit's a(sv) argument and reads them back. */
function roundTrip(props: readonly DBusProperty[]): DBusProperty[] {
  const msg = new Message({
    serial: 1,
    destination: 'org.freedesktop.systemd1',
    path: '/org/freedesktop/systemd1',
    interface: 'org.freedesktop.systemd1.Manager',
    member: 'StartTransientUnit',
    signature: 'ssa(sv)a(sa(sv))',
    body: ['unitpool-test.service', 'fail', props.map(([n, sig, v]) => [n, new Variant(sig, v)]), []],
  });
  const [bytes] = marshallMessage(msg);
  const back = messageToJsFmt(unmarshall(bytes));
  const list = back.body[2] as [string, { signature: string; value: unknown }][];
  return list.map(([n, v]) => [n, v.signature, v.value] as const);
}

/** Numbers and BigInts compare by value (dbus-next reads every t back as a BigInt); Buffers by bytes. */
function normal(v: unknown): unknown {
  if (typeof v === 'bigint' || typeof v === 'number') return `#${String(v)}`;
  if (Buffer.isBuffer(v)) return `0x${v.toString('hex')}`;
  if (Array.isArray(v)) return v.map(normal);
  return v;
}

describe('dbus-next 0.10 marshals every compiled property', () => {
  test.each(PROPERTY_NAMES)('%s (example)', (name) => {
    const props = compile({ ...TABLE[name].exampleWith, [name]: TABLE[name].example } as UnitProperties, {
      checkFiles: false,
      jitless: true,
    });
    expect(normal(roundTrip(props))).toEqual(normal(props));
  });

  test('every form at once, including 64-bit values, byte arrays and structs', () => {
    const props = compile(
      {
        CPUQuota: 1.5,
        AllowedCPUs: [0, 9, 63],
        MemoryMax: 'infinity',
        MemoryHigh: '50%',
        MemorySwapMax: 2n ** 60n,
        TasksMax: '10%',
        IOReadBandwidthMax: { '/dev/vda': 'infinity', '/dev/vdb': '1G' },
        LimitNOFILE: '1024:4096',
        LimitAS: 'infinity',
        LimitNICE: -5,
        RuntimeMaxSec: 'infinity',
        Nice: -5,
        OOMScoreAdjust: -1000,
        User: 'nobody',
        SupplementaryGroups: ['nogroup', 0],
        UMask: '0077',
        ProtectSystem: 'strict',
        BindPaths: ['/tmp:/mnt:norbind', { source: '/etc', readOnly: true }],
        TemporaryFileSystem: ['/var:ro,mode=0755', '/srv'],
        RestrictAddressFamilies: { deny: ['AF_INET', 'AF_INET6'] },
        IPAddressDeny: ['any', '2001:db8::/32'],
        RestrictNamespaces: { deny: ['user'] },
        CapabilityBoundingSet: { drop: ['CAP_SYS_ADMIN'] },
        AmbientCapabilities: [],
        SystemCallFilter: { allow: ['@system-service', '@pkey'], deny: ['@mount', 'ptrace:EPERM'] },
        SystemCallArchitectures: ['native'],
        AppArmorProfile: '-unitpool',
        Environment: { A: '1' },
      },
      { checkFiles: false, hostCpus: 64, raw: [['IOSchedulingClass', 'i', 3]] },
    );
    const back = roundTrip(props);
    expect(normal(back)).toEqual(normal(props));
    // 2^64-1 survives exactly.
    expect(back.find(([n]) => n === 'MemoryMax')?.[2]).toBe(18446744073709551615n);
  });
});
