import { describe, expect, it } from 'vitest';
import { ProtocolError, SerializationError, TaskTimeoutError, UnitPoolError } from '../../../src/errors.js';
import { Codec, decode, encode, encodeWithPath, MAX_DEPTH, prepare } from '../../../src/wire/codec.js';

const roundTrip = <T>(value: T): T => decode(encode(value)) as T;

describe('codec round trips', () => {
  it.each([
    ['null', null],
    ['true', true],
    ['false', false],
    ['undefined', undefined],
    ['small int', 7],
    ['negative int', -123456],
    ['uint32', 0xffffffff],
    ['2^53', 2 ** 53],
    ['-2^53', -(2 ** 53)],
    ['float', 0.1 + 0.2],
    ['tiny float', 5e-324],
    ['max float', Number.MAX_VALUE],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['empty string', ''],
    ['string', 'héllo wörld ✓ 𝄞'],
    ['long string', 'x'.repeat(100_000)],
    ['array', [1, 'a', null, true]],
    ['nested', { a: { b: { c: [1, { d: 'e' }] } }, f: [] }],
    ['odd keys', { 'a b': 1, '': 2, '0': 3, ünï: 4, constructor: 5 }],
  ])('%s', (_name, value) => {
    expect(roundTrip(value)).toEqual(value);
  });

  it('keeps -0, also inside arrays, objects and maps', () => {
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect(Object.is(roundTrip(0), 0)).toBe(true);
    const out = roundTrip({ a: [1, -0, 0], m: new Map([['z', -0]]) });
    expect(Object.is(out.a[1], -0)).toBe(true);
    expect(Object.is(out.a[2], 0)).toBe(true);
    expect(Object.is(out.m.get('z'), -0)).toBe(true);
  });

  it('keeps numbers as numbers and bigints as bigints', () => {
    expect(typeof roundTrip(2 ** 40)).toBe('number');
    expect(typeof roundTrip(5n)).toBe('bigint');
  });

  it.each([
    0n,
    1n,
    -1n,
    2n ** 63n - 1n,
    -(2n ** 63n),
    2n ** 63n,
    2n ** 64n - 1n,
    2n ** 64n,
    -(2n ** 64n) - 1n,
    2n ** 1000n + 12345n,
    -(3n ** 500n),
    -(2n ** 127n),
    2n ** 127n,
  ])('BigInt %s', (value) => {
    expect(roundTrip(value)).toBe(value);
    expect(roundTrip([value])).toEqual([value]);
  });

  it('keeps undefined inside arrays and objects, and holes as undefined', () => {
    const out = roundTrip({ a: undefined, b: [undefined, 1, undefined], c: 2 });
    expect(Object.keys(out)).toEqual(['a', 'b', 'c']);
    expect(out.a).toBeUndefined();
    expect(out.b).toEqual([undefined, 1, undefined]);
    // eslint-disable-next-line no-sparse-arrays
    expect(roundTrip([1, , 3])).toEqual([1, undefined, 3]);
  });

  it('decodes Buffer as Buffer, Uint8Array as Uint8Array, and every typed array as its class', () => {
    const buf = Buffer.from('bytes');
    const outBuf = roundTrip(buf);
    expect(Buffer.isBuffer(outBuf)).toBe(true);
    expect(outBuf.equals(buf)).toBe(true);
    const u8 = new Uint8Array([1, 2, 3]);
    const outU8 = roundTrip(u8);
    expect(Buffer.isBuffer(outU8)).toBe(false);
    expect(outU8).toBeInstanceOf(Uint8Array);
    expect([...outU8]).toEqual([1, 2, 3]);
    const arrays = [
      new Int8Array([-1, 2]),
      new Uint8ClampedArray([255, 0]),
      new Int16Array([-300, 300]),
      new Uint16Array([65535]),
      new Int32Array([-(2 ** 31)]),
      new Uint32Array([2 ** 32 - 1]),
      new Float32Array([1.5, -0.25]),
      new Float64Array([Math.PI, -0, NaN]),
      new BigInt64Array([-(2n ** 63n)]),
      new BigUint64Array([2n ** 64n - 1n]),
    ];
    for (const array of arrays) {
      const out = roundTrip(array);
      expect(out.constructor).toBe(array.constructor);
      expect(out).toEqual(array);
    }
    // a view on part of a larger buffer sends only its bytes
    const backing = new Float64Array([1, 2, 3, 4]);
    expect(roundTrip(backing.subarray(1, 3))).toEqual(new Float64Array([2, 3]));
  });

  it('round-trips ArrayBuffer and DataView', () => {
    const ab = new Uint8Array([9, 8, 7]).buffer;
    const out = roundTrip(ab);
    expect(out).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(out)]).toEqual([9, 8, 7]);
    const dv = new DataView(new Uint8Array([1, 2, 3, 4, 5]).buffer, 1, 3);
    const outDv = roundTrip(dv);
    expect(outDv).toBeInstanceOf(DataView);
    expect(outDv.byteLength).toBe(3);
    expect(outDv.getUint8(0)).toBe(2);
  });

  it('round-trips Date (including invalid, negative and far dates), RegExp, Map, Set', () => {
    for (const d of [
      new Date(0),
      new Date(-1),
      new Date(1_700_000_000_123),
      new Date(8.64e15),
      new Date(-8.64e15),
      new Date(1234),
    ]) {
      const out = roundTrip(d);
      expect(out).toBeInstanceOf(Date);
      expect(out.getTime()).toBe(d.getTime());
    }
    expect(Number.isNaN(roundTrip(new Date(NaN)).getTime())).toBe(true);
    const re = roundTrip(/a+b/giu);
    expect(re).toBeInstanceOf(RegExp);
    expect(re.source).toBe('a+b');
    expect(re.flags).toBe('giu');
    const key = { k: 1 };
    const map = roundTrip(
      new Map<unknown, unknown>([
        [1, 'one'],
        ['two', 2],
        [key, [key]],
        [null, new Set([1, 'x'])],
      ]),
    );
    expect(map).toBeInstanceOf(Map);
    expect([...map.keys()]).toEqual([1, 'two', { k: 1 }, null]);
    expect(map.get(null)).toEqual(new Set([1, 'x']));
    expect(roundTrip(new Map())).toEqual(new Map());
    expect(roundTrip({ m: new Map(), s: new Set() })).toEqual({ m: new Map(), s: new Set() });
  });

  it('round-trips nested combinations', () => {
    const value = {
      id: 17,
      args: [
        new Map([['buf', Buffer.from('x')]]),
        new Set([new Date(5), 2n ** 70n]),
        [[[undefined, -0]]],
        { f32: new Float32Array([1]) },
      ],
    };
    const out = roundTrip(value);
    expect(out).toEqual(value);
    expect(Object.is((out.args[2] as unknown[][][])[0]![0]![1], -0)).toBe(true);
  });

  it('decodes null-prototype objects as plain objects', () => {
    const o = Object.assign(Object.create(null), { a: 1 });
    expect(roundTrip(o)).toEqual({ a: 1 });
  });

  it('sends what toJSON() returns, for class instances and plain objects', () => {
    class Money {
      constructor(readonly cents: number) {}
      toJSON() {
        return { cents: this.cents, currency: 'EUR' };
      }
    }
    expect(roundTrip([new Money(5)])).toEqual([{ cents: 5, currency: 'EUR' }]);
    expect(roundTrip(new URL('https://example.com/a?b=c'))).toBe('https://example.com/a?b=c');
    expect(roundTrip({ toJSON: () => 'plain' })).toBe('plain');
    class Stamp extends Date {}
    expect(roundTrip(new Stamp(0))).toBe('1970-01-01T00:00:00.000Z');
  });

  it('never modifies the caller value, and copies only when something must be replaced', () => {
    const inner = [1, 2, 3];
    const plain = { a: inner, b: { c: 'd' } };
    expect(prepare(plain)).toBe(plain);
    const err = new Error('x');
    const mixed = { keep: inner, arr: [1, -0], e: err };
    const prepared = prepare(mixed) as typeof mixed;
    expect(prepared).not.toBe(mixed);
    expect(prepared.keep).toBe(inner); // untouched branch is shared, not copied
    expect(Object.is(mixed.arr[1], -0)).toBe(true);
    expect(mixed.e).toBe(err);
    const typed = new Float64Array(10);
    expect(prepare(typed)).toBe(typed);
  });
});

describe('errors', () => {
  it('reconstructs built-in classes with message, stack, fields and cause chains', () => {
    const root = new RangeError('root cause');
    const middle = new TypeError('middle', { cause: root });
    const top = Object.assign(new Error('top', { cause: middle }), {
      code: 'E_TOP',
      errno: -2,
      syscall: 'open',
      extra: { n: [1] },
    });
    const out = roundTrip(top);
    expect(out).toBeInstanceOf(Error);
    expect(out.message).toBe('top');
    expect(out.stack).toBe(top.stack);
    expect(out).toMatchObject({ code: 'E_TOP', errno: -2, syscall: 'open', extra: { n: [1] } });
    const c1 = out.cause as Error;
    expect(c1).toBeInstanceOf(TypeError);
    expect(c1.message).toBe('middle');
    expect(c1.stack).toBe(middle.stack);
    const c2 = c1.cause as Error;
    expect(c2).toBeInstanceOf(RangeError);
    expect(c2.message).toBe('root cause');
    expect(Object.hasOwn(c2, 'cause')).toBe(false);
    // fields are enumerable like the sender's; name/stack/cause are not
    expect(Object.keys(out).sort()).toEqual(['code', 'errno', 'extra', 'syscall']);
  });

  it.each([EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, Error])(
    '%o comes back as its class',
    (Class) => {
      const out = roundTrip(new Class('m'));
      expect(out).toBeInstanceOf(Class);
      expect(out.constructor).toBe(Class);
      expect(out.name).toBe(Class.name);
    },
  );

  it('keeps a cause that is not an error, and an explicit undefined cause', () => {
    expect(roundTrip(new Error('x', { cause: { why: 1 } })).cause).toEqual({ why: 1 });
    const out = roundTrip(new Error('x', { cause: undefined }));
    expect(Object.hasOwn(out, 'cause')).toBe(true);
    expect(out.cause).toBeUndefined();
  });

  it('reconstructs AggregateError with its errors', () => {
    const agg = new AggregateError(
      [new TypeError('a'), 'not an error', new AggregateError([new Error('deep')], 'inner')],
      'many',
    );
    const out = roundTrip(agg);
    expect(out).toBeInstanceOf(AggregateError);
    expect(out.message).toBe('many');
    expect(out.errors[0]).toBeInstanceOf(TypeError);
    expect(out.errors[1]).toBe('not an error');
    expect(out.errors[2]).toBeInstanceOf(AggregateError);
    expect((out.errors[2] as AggregateError).errors[0].message).toBe('deep');
    // one unsendable entry does not cost the others
    const mixed = roundTrip(new AggregateError([new Error('kept'), () => 1], 'mixed'));
    expect(mixed.errors[0].message).toBe('kept');
    expect(mixed.errors[1]).toBe('[not sendable: a function]');
  });

  it('turns unknown error classes into Error with the name set', () => {
    class ValidationError extends Error {
      override name = 'ValidationError';
      field = 'email';
    }
    const out = roundTrip(new ValidationError('bad email'));
    expect(out.constructor).toBe(Error);
    expect(out.name).toBe('ValidationError');
    expect(out.message).toBe('bad email');
    expect(out).toMatchObject({ field: 'email' });
    expect(String(out)).toBe('ValidationError: bad email');
    // unitpool's own errors: name from the class, fields kept
    const timeout = roundTrip(new TaskTimeoutError(500));
    expect(timeout.name).toBe('TaskTimeoutError');
    expect(timeout).toMatchObject({ code: 'ERR_UNITPOOL_TIMEOUT', timeout: 500 });
  });

  it('an error is sent even when some of its fields cannot be', () => {
    const err = Object.assign(new Error('request failed'), {
      config: { transform: () => 1 },
      socket: new (class Socket {})(),
      status: 500,
    });
    const out = roundTrip(err);
    expect(out.message).toBe('request failed');
    expect(out).toMatchObject({
      config: '[not sendable: a function]',
      socket: '[not sendable: an instance of Socket]',
      status: 500,
    });
  });

  it('breaks circular causes and fields instead of failing', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    const out = roundTrip(a);
    expect((out.cause as Error).message).toBe('b');
    expect((out.cause as Error).cause).toBe('[not sendable: a circular reference]');
    const self = new Error('self') as Error & { me?: unknown; loop?: unknown };
    self.me = { back: self };
    const loop: Record<string, unknown> = {};
    loop.loop = loop;
    self.loop = loop;
    const out2 = roundTrip(self) as Error & { me: unknown; loop: unknown };
    // the field that leads back is replaced as a whole
    expect(out2.me).toBe('[not sendable: a circular reference]');
    expect(out2.loop).toBe('[not sendable: a circular reference]');
  });

  it('errors nested in values round-trip too', () => {
    const out = roundTrip({ list: [new TypeError('t')], map: new Map([['e', new SyntaxError('s')]]) });
    expect(out.list[0]).toBeInstanceOf(TypeError);
    expect(out.map.get('e')).toBeInstanceOf(SyntaxError);
  });
});

describe('serialization errors', () => {
  function failure(value: unknown, root = 'args'): SerializationError {
    try {
      encode(value, root);
    } catch (err) {
      expect(err).toBeInstanceOf(SerializationError);
      expect(err).toBeInstanceOf(UnitPoolError);
      expect((err as SerializationError).code).toBe('ERR_UNITPOOL_SERIALIZE');
      return err as SerializationError;
    }
    throw new Error('expected encode() to throw');
  }

  it('names the path of a function', () => {
    const err = failure([1, { handler() {} }]);
    expect(err.path).toBe('args[1].handler');
    expect(err.message).toMatch(/^args\[1\]\.handler cannot be sent to a worker: it is a function \(handler\)/);
    expect(err.code).toBe('ERR_UNITPOOL_SERIALIZE');
  });

  it.each([
    ['a symbol', [Symbol('s')], 'args[0]', /it is a symbol \(Symbol\(s\)\)/],
    ['a Promise', { p: Promise.resolve(1) }, 'args.p', /it is a Promise; await it/],
    ['a WeakMap', [new WeakMap()], 'args[0]', /it is a WeakMap/],
    ['a WeakSet', [new WeakSet()], 'args[0]', /it is a WeakSet/],
    ['a WeakRef', [new WeakRef({})], 'args[0]', /it is a WeakRef/],
    ['a SharedArrayBuffer', [new SharedArrayBuffer(8)], 'args[0]', /SharedArrayBuffer; shared memory/],
    ['a boxed primitive', [Object('str')], 'args[0]', /boxed primitive \(a String object\)/],
    ['a top-level function', () => 1, 'args', /it is a function/],
    ['an odd key', { 'my key': { 'x-y': [() => 1] } }, 'args["my key"]["x-y"][0]', /function/],
    ['a Map value', [new Map([['k', () => 1]])], 'args[0].get("k")', /function/],
    ['a Map key', [new Map([[Symbol('k'), 1]])], 'args[0].keys()[0]', /symbol/],
    ['a Set element', [new Set([1, 2, () => 3])], 'args[0].values()[2]', /function/],
    ['a toJSON result', [{ toJSON: () => ({ f: () => 1 }) }], 'args[0].toJSON().f', /function/],
  ])('%s', (_what, value, path, message) => {
    const err = failure(value);
    expect(err.path).toBe(path);
    expect(err.message).toMatch(message);
  });

  it('explains class instances: plain object or toJSON()', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const err = failure([{ where: new Point(1, 2) }]);
    expect(err.path).toBe('args[0].where');
    expect(err.message).toContain('instance of class Point');
    expect(err.message).toContain('pass a plain object, e.g. `{ ...value }`, or give the class a toJSON() method');
    for (const v of [
      new (class Bag extends Map {})(),
      new (class List extends Array {})(),
      new (class Bytes extends Uint8Array {})(2),
    ]) {
      expect(failure([v]).message).toMatch(/instance of class (Bag|List|Bytes)/);
    }
  });

  it('reports a throwing toJSON()', () => {
    const err = failure({
      a: {
        toJSON() {
          throw new Error('nope');
        },
      },
    });
    expect(err.path).toBe('args.a');
    expect(err.message).toContain('its toJSON() method threw: nope');
    expect((err.cause as Error).message).toBe('nope');
  });

  it('reports circular references with both ends', () => {
    const o: Record<string, unknown> = { list: [] };
    (o.list as unknown[]).push({ parent: o });
    const err = failure([o]);
    expect(err.path).toBe('args[0].list[0].parent');
    expect(err.message).toContain('circular reference to args[0]');
    const self: unknown[] = [];
    self.push(self);
    expect(failure(self).path).toBe('args[0]');
    const m = new Map<string, unknown>();
    m.set('me', m);
    expect(failure(m).message).toContain('circular reference to args (the value contains itself)');
  });

  it('accepts shared (non-circular) references', () => {
    const shared = { x: 1 };
    expect(roundTrip([shared, shared, { s: shared }])).toEqual([{ x: 1 }, { x: 1 }, { s: { x: 1 } }]);
  });

  it('refuses nesting deeper than MAX_DEPTH, and accepts it at the limit', () => {
    let ok: unknown = 1;
    for (let i = 0; i < MAX_DEPTH; i++) ok = [ok];
    expect(() => encode(ok)).not.toThrow();
    const tooDeep = [ok];
    const err = failure(tooDeep, 'value');
    expect(err.message).toContain(`nested more than ${MAX_DEPTH} levels deep`);
    expect(err.path.startsWith('value[0][0]')).toBe(true);
  });

  it('encodeWithPath names the user part of an envelope', () => {
    let err: unknown;
    try {
      encodeWithPath([2, 17, 3, [1, { cb: () => 1 }]], 'args', 3);
    } catch (e) {
      err = e;
    }
    expect((err as SerializationError).path).toBe('args[1].cb');
    try {
      encodeWithPath([1, 2, Symbol('x')], 'result', 2);
    } catch (e) {
      err = e;
    }
    expect((err as SerializationError).path).toBe('result');
    expect(decode(encodeWithPath([2, 17, 3, [new Error('e'), -0]], 'args', 3))).toMatchObject([
      2,
      17,
      3,
      [{ message: 'e' }, -0],
    ]);
  });
});

describe('decoding', () => {
  it('returns Buffers that alias the input (zero-copy), or copies with copyBuffers', () => {
    const payload = Buffer.from('0123456789abcdef'.repeat(8));
    const bytes = Buffer.concat([Buffer.alloc(5), encode({ data: payload })]);
    const view = bytes.subarray(5);
    const out = decode(view) as { data: Buffer };
    expect(Buffer.isBuffer(out.data)).toBe(true);
    expect(out.data.buffer).toBe(bytes.buffer);
    expect(out.data.equals(payload)).toBe(true);
    const copying = new Codec({ copyBuffers: true });
    const copied = copying.decode(copying.encode({ data: payload })) as { data: Buffer };
    expect(copied.data.equals(payload)).toBe(true);
    const source = copying.encode({ data: payload });
    expect((copying.decode(source) as { data: Buffer }).data.buffer).not.toBe(source.buffer);
  });

  it('decodes from a plain Uint8Array, Buffers still as Buffer', () => {
    const enc = encode([Buffer.from('x')]);
    const u8 = new Uint8Array(enc.buffer, enc.byteOffset, enc.length);
    expect(Buffer.isBuffer((decode(u8) as Buffer[])[0])).toBe(true);
  });

  it('throws ProtocolError on malformed input', () => {
    for (const bad of [
      Buffer.alloc(0),
      Buffer.from([0x92, 1]),
      Buffer.from([1, 2]),
      Buffer.from([0xd4, 0x55, 0, 0x91, 9]),
    ]) {
      expect(() => decode(bad)).toThrow(ProtocolError);
    }
  });

  it('writes few objects as maps and many as records; one decoder reads both', () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({ id: i, name: `row ${i}`, ok: i % 2 === 0 }));
    const asRecords = encode(rows);
    const asMaps = new Codec({ recordsFrom: Infinity }).encode(rows);
    expect(asRecords.length).toBeLessThan(asMaps.length / 2);
    expect(decode(asRecords)).toEqual(rows);
    expect(decode(asMaps)).toEqual(rows);
    expect(new Codec({ recordsFrom: 0 }).decode(encode({ a: 1 }))).toEqual({ a: 1 });
    // an object with more keys than a 16-bit map header can count
    const wide = Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i]));
    const out = decode(encode(wide)) as Record<string, number>;
    expect(Object.keys(out)).toHaveLength(70_000);
    expect(out.k69999).toBe(69_999);
  });
});

describe('edge cases', () => {
  it('toJSON() wins over fields that could not be sent', () => {
    expect(roundTrip({ handler: () => 1, toJSON: () => ({ kind: 'handler' }) })).toEqual({ kind: 'handler' });
  });

  it('plain objects and arrays from another realm (vm) are plain', async () => {
    const { runInNewContext } = await import('node:vm');
    const foreign = runInNewContext('({ a: [1, { b: 2 }], c: "d" })') as object;
    expect(Object.getPrototypeOf(foreign)).not.toBe(Object.prototype);
    expect(roundTrip(foreign)).toEqual({ a: [1, { b: 2 }], c: 'd' });
    expect(() => encode(runInNewContext('new (class Foo {})()'))).toThrow(/instance of class Foo/);
  });

  it('strings with unpaired surrogates arrive with U+FFFD (UTF-8 cannot carry them)', () => {
    for (const s of ['a\ud800b', 'x'.repeat(100) + '\udc00']) {
      const out = roundTrip(s);
      expect(out).toContain('\ufffd');
      expect(out).not.toMatch(/[\ud800-\udfff]/);
    }
    expect(roundTrip('ok 𝄞')).toBe('ok 𝄞');
  });
});
