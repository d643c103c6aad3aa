// Every error class unitpool exports is a UnitPoolError with a code, a name that survives minification (it is set
// on the prototype from a literal, not read from constructor.name), and the cause it was given.
import { afterEach, describe, expect, it } from 'vitest';
import * as clusterApi from '../../src/cluster/index.js';
import * as api from '../../src/index.js';
import { FrameTooLargeError } from '../../src/wire/frame.js';
import { PtyError } from '../../src/cli/run-pty.js';
import { reviveRemoteError } from '../../src/cluster/errors.js';
import { UnitPoolError } from '../../src/errors.js';

type Make = (cause: unknown) => Error;
const o = (cause: unknown) => ({ cause });

/** How to build one of each; a class missing here fails the test below (add it, with its real arguments). */
const MAKE: Record<string, Make> = {
  UnitPoolError: (c) => new api.UnitPoolError('host failure', o(c)),
  OptionError: (c) => new api.OptionError('maxWorkers', '4', 'not a number', 'a positive integer', o(c)),
  CapabilityError: (c) => new api.CapabilityError('MemoryMax', 'no memory controller', o(c)),
  SystemdUnavailableError: (c) => new api.SystemdUnavailableError('unix:path=/x', 'ENOENT', o(c)),
  UnitStartError: (c) => new api.UnitStartError('refused', 'failed', 'out', o(c)),
  WorkerExitedError: (c) => new api.WorkerExitedError({ exitCode: 1, signal: null, reason: 'exit', pid: 7 }, o(c)),
  BrokenPoolError: (c) => new api.BrokenPoolError('broken', o(c)),
  PoolClosedError: (c) => new api.PoolClosedError('closed', o(c)),
  TaskTimeoutError: (c) => new api.TaskTimeoutError(100, o(c)),
  QueueFullError: (c) => new api.QueueFullError(3, o(c)),
  ProtocolError: (c) => new api.ProtocolError('bad bytes', o(c)),
  SerializationError: (c) => new api.SerializationError('args[0]', 'a function', o(c)),
  ResultTooLargeError: (c) => new api.ResultTooLargeError('result', 10, 5, o(c)),
  UsageError: (c) => new api.UsageError('unknown option --x', o(c)),
  DBusCallError: (c) => new api.DBusCallError('StartTransientUnit', 'org.freedesktop.DBus.Error.Failed', 'no', o(c)),
  SandboxError: (c) => new api.SandboxError('boot', 'did not boot', '', o(c)),
  PayloadTooLargeError: (c) => new clusterApi.PayloadTooLargeError('args', 10, 5, o(c)),
  SourceRefusedError: (c) => new clusterApi.SourceRefusedError('h1', o(c)),
  ModuleRefusedError: (c) => new clusterApi.ModuleRefusedError('x.mjs', 'missing', o(c)),
  MalformedJobError: (c) => new clusterApi.MalformedJobError('1', 'no data', o(c)),
  JobFailedError: (c) => new clusterApi.JobFailedError('1', 'stalled', o(c)),
  FrameTooLargeError: (c) => new FrameTooLargeError(10, 5, 0, o(c)),
  PtyError: (c) => new PtyError('no terminal', o(c)),
};

type ErrorClass = (abstract new (...args: never[]) => Error) & { prototype: Error };

function errorClasses(mod: Record<string, unknown>): Array<[string, ErrorClass]> {
  return Object.entries(mod).filter(
    (e): e is [string, ErrorClass] =>
      typeof e[1] === 'function' && (e[1] as { prototype?: unknown }).prototype instanceof Error,
  );
}

const EXPORTED = new Map([
  ...errorClasses(api),
  ...errorClasses(clusterApi),
  ['FrameTooLargeError', FrameTooLargeError],
  ['PtyError', PtyError],
] as Array<[string, ErrorClass]>);
const renamed: Array<[ErrorClass, PropertyDescriptor]> = [];

afterEach(() => {
  for (const [Class, descriptor] of renamed.splice(0)) Object.defineProperty(Class, 'name', descriptor);
});

describe('error classes', () => {
  it('finds the exported classes (and every one has a maker here)', () => {
    expect(EXPORTED.size).toBeGreaterThanOrEqual(20);
    expect([...EXPORTED.keys()].filter((name) => !(name in MAKE))).toEqual([]);
  });

  it.each([...EXPORTED])('%s is a UnitPoolError with a code, its name and its cause', (exportName, Class) => {
    const cause = new RangeError('underneath');
    const err = MAKE[exportName]!(cause);
    expect(err).toBeInstanceOf(Class);
    expect(err).toBeInstanceOf(UnitPoolError);
    expect((err as UnitPoolError).code).toMatch(/^ERR_UNITPOOL(_[A-Z0-9]+)*$/);
    expect(err.name).toBe(exportName);
    expect(String(err).startsWith(`${exportName}: `)).toBe(true);
    expect(err.cause).toBe(cause);
    expect(Object.keys(err)).not.toContain('name');
    expect(Object.prototype.hasOwnProperty.call(Class.prototype, 'name')).toBe(true);
    expect(MAKE[exportName]!(undefined)).not.toHaveProperty('cause');
  });

  it.each([...EXPORTED])('%s keeps its name when a minifier renames the class', (exportName, Class) => {
    renamed.push([Class, Object.getOwnPropertyDescriptor(Class, 'name')!]);
    Object.defineProperty(Class, 'name', { value: 'e', configurable: true });
    expect(Class.name).toBe('e');
    const err = MAKE[exportName]!(undefined);
    expect(err.name).toBe(exportName);
    expect(err.stack?.startsWith(`${exportName}: `)).toBe(true);
  });

  it('gives every class its own code', () => {
    const codes = new Map<string, string>();
    for (const [name] of EXPORTED) {
      if (name === 'FrameTooLargeError') continue; // a ProtocolError: same code on purpose
      const code = (MAKE[name]!(undefined) as UnitPoolError).code;
      expect(codes.get(code), `${name} and ${codes.get(code)} share ${code}`).toBeUndefined();
      codes.set(code, name);
    }
  });

  it.each([...EXPORTED].filter(([name]) => !['SandboxError', 'PtyError', 'FrameTooLargeError'].includes(name)))(
    '%s comes back as its class from another host',
    (exportName, Class) => {
      const decoded = Object.assign(new Error('remote'), { code: 'X' });
      Object.defineProperty(decoded, 'name', { value: exportName, writable: true, configurable: true });
      renamed.push([Class, Object.getOwnPropertyDescriptor(Class, 'name')!]);
      Object.defineProperty(Class, 'name', { value: 'e', configurable: true });
      const revived = reviveRemoteError(decoded, 'h1');
      expect(revived).toBeInstanceOf(Class);
      expect(revived.name).toBe(exportName);
      expect(revived.host).toBe('h1');
    },
  );
});
