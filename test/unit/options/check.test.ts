// checkOptions(): unknown keys (with the nearest known one), values of the wrong form, not an object at all; and the
// pool's schemas on the mistakes plain JavaScript lets through.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../../src/errors.js';
import {
  boolean,
  checkOptions,
  either,
  milliseconds,
  nested,
  oneOf,
  positiveInteger,
  required,
  type Schema,
  writable,
} from '../../../src/options/check.js';
import {
  MAP_OPTIONS_SCHEMA,
  SHUTDOWN_OPTIONS_SCHEMA,
  SUBMIT_OPTIONS_SCHEMA,
  UNIT_POOL_OPTIONS_SCHEMA,
} from '../../../src/options/pool.js';

function refusal(where: string, value: unknown, schema: Schema): OptionError {
  try {
    checkOptions(where, value, schema);
  } catch (err) {
    expect(err).toBeInstanceOf(OptionError);
    return err as OptionError;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be refused`);
}

describe('unknown keys', () => {
  it.each([
    ['new UnitPool()', { maxWorker: 4 }, UNIT_POOL_OPTIONS_SCHEMA, 'maxWorker', 'maxWorkers'],
    ['new UnitPool()', { propertes: { MemoryMax: '1G' } }, UNIT_POOL_OPTIONS_SCHEMA, 'propertes', 'properties'],
    ['submit()', { timout: 100 }, SUBMIT_OPTIONS_SCHEMA, 'timout', 'timeout'],
    ['map()', { chunkSize: 10 }, MAP_OPTIONS_SCHEMA, 'chunkSize', 'chunksize'],
    ['shutdown()', { cancelpending: true }, SHUTDOWN_OPTIONS_SCHEMA, 'cancelpending', 'cancelPending'],
    ['new UnitPool()', { Preset: 'batch' }, UNIT_POOL_OPTIONS_SCHEMA, 'Preset', 'preset'],
  ])('%s %o: did you mean', (where, value, schema, key, near) => {
    const err = refusal(where, value, schema);
    expect(err.message).toBe(`${where}: unknown option '${key}'; did you mean '${near}'?`);
    expect(err.option).toBe(key);
    expect(err.value).toBe((value as Record<string, unknown>)[key]);
    expect(err.expected).toBe(near);
    expect(err.code).toBe('ERR_UNITPOOL_OPTION');
  });

  it('lists the known keys when none is near', () => {
    const err = refusal('shutdown()', { now: true }, SHUTDOWN_OPTIONS_SCHEMA);
    expect(err.message).toBe(`shutdown(): unknown option 'now'; the known ones are wait, cancelPending`);
    expect(err.expected).toBe('one of wait, cancelPending');
  });

  it('names a key inside a nested object by its path', () => {
    const schema = { retention: nested({ age: positiveInteger, count: positiveInteger }) };
    const err = refusal('new ClusterPool()', { retention: { agee: 3 } }, schema);
    expect(err.option).toBe('retention.agee');
    expect(err.message).toBe(`new ClusterPool(): unknown option 'retention.agee'; did you mean 'retention.age'?`);
  });
});

describe('values of the wrong form', () => {
  it.each([
    [{ maxWorkers: '4' }, `maxWorkers must be a positive integer (a number, not a string), got '4'`],
    [{ maxWorkers: 0 }, 'maxWorkers must be a positive integer, got 0'],
    [{ maxWorkers: 2.5 }, 'maxWorkers must be a positive integer, got 2.5'],
    [{ maxWorkers: null }, 'maxWorkers must be a positive integer (a number, not null), got null'],
    [{ fresh: 'true' }, `fresh must be true or false (a boolean, not a string), got 'true'`],
    [{ onWorkerExit: 'restart' }, `onWorkerExit must be 'replace' or 'break', got 'restart'`],
    [{ isolation: 'unit' }, `isolation must be 'pool', 'worker', 'systemd' or 'none', got 'unit'`],
    [{ queueMode: 1 }, `queueMode must be 'reject' or 'wait' (a string, not a number), got 1`],
    [{ idleTimeout: -1 }, 'idleTimeout must be a number of milliseconds (0 or more), got -1'],
    [{ idleTimeout: Infinity }, 'idleTimeout must be a number of milliseconds (0 or more), got Infinity'],
    [{ initArgs: 'a' }, `initArgs must be an array, got 'a'`],
    [{ properties: ['MemoryMax'] }, 'properties must be an object, got array of 1'],
    [{ stdout: 'out.log' }, `stdout must be a writable stream (an object, not a string), got 'out.log'`],
    [{ bus: 'session' }, `bus must be 'system', 'user' or { address: 'unix:path=...' }, got 'session'`],
    [{ bus: {} }, `bus.address is required: a non-empty string`],
    [{ bus: { adress: 'unix:path=/x' } }, `unknown option 'bus.adress'; did you mean 'bus.address'?`],
    [
      { initializer: 42 },
      `initializer must be a function or a module reference { module: 'file.mjs', name: 'exportName' }, got 42`,
    ],
    [
      { initializer: { module: 'a.mjs', nmae: 'f' } },
      `unknown option 'initializer.nmae'; did you mean 'initializer.name'?`,
    ],
  ])('new UnitPool(%o)', (value, message) => {
    const err = refusal('new UnitPool()', value, UNIT_POOL_OPTIONS_SCHEMA);
    expect(err.message).toBe(`new UnitPool(): ${message}`);
    const key = Object.keys(value)[0]!;
    expect(err.option.startsWith(key)).toBe(true);
  });

  it('keeps the value and the expected form as fields', () => {
    const err = refusal('map()', { chunksize: '10' }, MAP_OPTIONS_SCHEMA);
    expect(err.option).toBe('chunksize');
    expect(err.value).toBe('10');
    expect(err.expected).toBe('a positive integer');
  });

  it('refuses a timeout that is not a positive number of ms, and a signal that is not an AbortSignal', () => {
    expect(refusal('submit()', { timeout: 0 }, SUBMIT_OPTIONS_SCHEMA).message).toBe(
      'submit(): timeout must be a positive number of milliseconds, got 0',
    );
    expect(refusal('submit()', { timeout: '5s' }, SUBMIT_OPTIONS_SCHEMA).message).toContain('(a number, not a string)');
    expect(refusal('submit()', { signal: { aborted: false } }, SUBMIT_OPTIONS_SCHEMA).message).toBe(
      'submit(): signal must be an AbortSignal, got {"aborted":false}',
    );
  });

  it('requires required keys', () => {
    const err = refusal('new ClusterPool()', {}, { queue: required(oneOf('a')) });
    expect(err.message).toBe(`new ClusterPool(): queue is required: 'a'`);
    expect(err.option).toBe('queue');
  });
});

describe('the options themselves', () => {
  it.each([
    [5, '5'],
    ['fast', `'fast'`],
    [null, 'null'],
    [[1, 2], 'array of 2'],
    [() => 1, 'function (anonymous)'],
  ])('refuses %o as the options object', (value, shown) => {
    const err = refusal('submit()', value, SUBMIT_OPTIONS_SCHEMA);
    expect(err.message.startsWith(`submit(): the options must be an object`)).toBe(true);
    expect(err.message.endsWith(`, got ${shown}`)).toBe(true);
    expect(err.option).toBe('options');
  });

  it('accepts no options, undefined values and every valid key', () => {
    expect(() => checkOptions('submit()', undefined, SUBMIT_OPTIONS_SCHEMA)).not.toThrow();
    expect(() => checkOptions('submit()', {}, SUBMIT_OPTIONS_SCHEMA)).not.toThrow();
    expect(() =>
      checkOptions('submit()', { timeout: undefined, signal: undefined }, SUBMIT_OPTIONS_SCHEMA),
    ).not.toThrow();
    expect(() =>
      checkOptions(
        'new UnitPool()',
        {
          properties: { MemoryMax: '1G' },
          preset: ['untrusted'],
          scratchSize: '64M',
          env: ['HOME'],
          raw: [['IOSchedulingClass', 'i', 3]],
          bestEffort: ['MemoryMax'],
          maxWorkers: 2,
          bus: { address: 'unix:path=/run/x' },
          isolation: 'worker',
          maxFrame: 1024,
          callSites: true,
          stdout: new PassThrough(),
          stderr: process.stderr,
          onWorkerExit: 'break',
          initializer: { module: new URL('file:///x.mjs'), name: 'init' },
          initArgs: [1],
          maxTasksPerWorker: 5,
          fresh: false,
          idleTimeout: 0,
          maxQueue: 0,
          queueMode: 'wait',
          startTimeout: 1000,
        },
        UNIT_POOL_OPTIONS_SCHEMA,
      ),
    ).not.toThrow();
    expect(() =>
      checkOptions(
        'map()',
        { chunksize: 3, onProgress: () => {}, signal: new AbortController().signal, timeout: 5 },
        MAP_OPTIONS_SCHEMA,
      ),
    ).not.toThrow();
  });

  it('builds forms that say what they take', () => {
    expect(either([boolean, milliseconds]).expected).toBe('true or false or a number of milliseconds (0 or more)');
    expect(writable.test({ write() {}, on() {} })).toBe(true);
    expect(writable.test({ write() {} })).toBe(false);
    expect(oneOf('a', 'b', 'c').expected).toBe(`'a', 'b' or 'c'`);
  });
});
