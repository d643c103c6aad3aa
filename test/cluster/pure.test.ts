// Pure parts of unitpool/cluster: the job codec and its limits, module confinement, error revival, the agent's
// command line. No Redis, no systemd (those are in the other files of this directory).
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAgentArgs, poolOptions } from '../../src/cli/agent.js';
import {
  MalformedJobError,
  ModuleRefusedError,
  PayloadTooLargeError,
  reviveRemoteError,
} from '../../src/cluster/errors.js';
import { redisOptions } from '../../src/cluster/connection.js';
import { JobFunctions } from '../../src/cluster/functions.js';
import { decodeJob, decodeOutcome, encodeJob, encodeOutcome } from '../../src/cluster/job.js';
import { ModuleDirectory } from '../../src/cluster/modules.js';
import { OptionError, TaskTimeoutError, UnitPoolError, UsageError, WorkerExitedError } from '../../src/errors.js';
import { decode, encode } from '../../src/wire/codec.js';
import { removeScratch, scratch } from './helpers.js';

describe('job codec', () => {
  it('round-trips what the project codec carries', () => {
    const values = [Buffer.from('x'), new Date(5), new Map([[1, 2n]]), -0, { a: [undefined, null] }];
    const data = encodeJob({ fn: ['m', 'jobs.mjs', 'f'], call: 'call', values, timeout: 50 }, 1 << 20);
    expect(JSON.parse(JSON.stringify(data))).toEqual(data); // BullMQ stores it as JSON
    const spec = decodeJob('1', JSON.parse(JSON.stringify(data)), 1 << 20);
    expect(spec).toEqual({ fn: ['m', 'jobs.mjs', 'f'], call: 'call', values, timeout: 50 });
    expect(Object.is(spec.values[3] as number, -0)).toBe(true);
  });

  it('refuses a payload over the limit before buffering, at both ends', () => {
    const big = {
      fn: ['m', 'a.mjs', 'f'] as const,
      call: 'call' as const,
      values: [Buffer.alloc(2000)],
      timeout: null,
    };
    expect(() => encodeJob(big, 1000)).toThrow(PayloadTooLargeError);
    const data = encodeJob(big, 1 << 20);
    expect(() => decodeJob('1', data, 1000)).toThrow(PayloadTooLargeError);
    expect(() => decodeOutcome('1', encodeOutcome('h', true, Buffer.alloc(2000), 1 << 20), 1000)).toThrow(
      PayloadTooLargeError,
    );
    const tooBig = encodeOutcome('h', true, Buffer.alloc(2000), 1000);
    expect(tooBig.ok).toBe(false);
    expect(decode(Buffer.from(tooBig.p, 'base64'))).toMatchObject({ name: 'PayloadTooLargeError' });
  });

  it('turns every malformed job into a MalformedJobError', () => {
    const bad: unknown[] = [
      null,
      'x',
      { u: 2, p: '' },
      { u: 1 },
      { u: 1, p: 'not base64!' },
      { u: 1, p: Buffer.from([0xc1]).toString('base64') },
      { u: 1, p: encode([1, 2]).toString('base64') },
      { u: 1, p: encode([['m', 'a', 'f'], 'eval', [], null]).toString('base64') },
      { u: 1, p: encode([['m', 'a', 'f'], 'call', 'args', null]).toString('base64') },
      { u: 1, p: encode([['m', 'a', 'f'], 'call', [], -1]).toString('base64') },
      { u: 1, p: encode([['x', 'a', 'f'], 'call', [], null]).toString('base64') },
      { u: 1, p: encode([['m', 1, 'f'], 'call', [], null]).toString('base64') },
    ];
    for (const data of bad)
      expect(() => decodeJob('j', data, 1 << 20), JSON.stringify(data)).toThrow(MalformedJobError);
    for (const rv of ['{', 'null', { u: 1, h: 'h', ok: 'yes', p: '' }, { u: 1, h: 7, ok: true, p: '' }]) {
      expect(() => decodeOutcome('j', rv, 1 << 20)).toThrow(MalformedJobError);
    }
  });
});

describe('remote errors', () => {
  it('come back as unitpool classes, with fields, cause and host', () => {
    const sent = new WorkerExitedError(
      { exitCode: null, signal: 'SIGKILL', reason: 'oom-kill', pid: 12 },
      { unit: 'u.service', cause: new Error('c') },
    );
    const err = reviveRemoteError(decode(encode(sent)), 'host-1');
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err).toBeInstanceOf(UnitPoolError);
    expect(err).toMatchObject({
      name: 'WorkerExitedError',
      reason: 'oom-kill',
      signal: 'SIGKILL',
      pid: 12,
      unit: 'u.service',
      host: 'host-1',
    });
    expect(err.message).toBe(sent.message);
    expect(err.stack).toBe(sent.stack);
    expect((err.cause as Error).message).toBe('c');
    expect(reviveRemoteError(decode(encode(new TaskTimeoutError(5))), 'h')).toBeInstanceOf(TaskTimeoutError);
    const own = Object.assign(new Error('mine'), { name: 'MyError', code: 'E1' });
    expect(reviveRemoteError(decode(encode(own)), 'h')).toMatchObject({ name: 'MyError', code: 'E1', host: 'h' });
    expect(reviveRemoteError(decode(encode('a string')), 'h').message).toMatch(/non-error value: a string/);
  });
});

describe('module confinement', () => {
  const dir = scratch('pure');
  const mods = join(dir, 'mods');
  mkdirSync(join(mods, 'sub'), { recursive: true });
  writeFileSync(join(mods, 'ok.mjs'), '');
  writeFileSync(join(mods, 'sub', 'deep.mjs'), '');
  writeFileSync(join(dir, 'out.mjs'), '');
  symlinkSync('../out.mjs', join(mods, 'escape.mjs'));
  symlinkSync('ok.mjs', join(mods, 'alias.mjs'));
  afterAll(() => removeScratch(dir));

  it('resolves inside the directory and refuses everything else', () => {
    const m = new ModuleDirectory(mods);
    expect(m.resolve('ok.mjs', 'f').module).toBe(`file://${mods}/ok.mjs`);
    expect(m.resolve('sub/deep.mjs', 'default').module).toBe(`file://${mods}/sub/deep.mjs`);
    expect(m.resolve('alias.mjs', 'f').module).toBe(`file://${mods}/ok.mjs`);
    for (const bad of [
      '../out.mjs',
      'sub/../../out.mjs',
      'escape.mjs',
      '/etc/passwd',
      'file:///etc/passwd',
      'data:text/javascript,1',
      'node:fs',
      'sub',
      'a\0b',
      'a\\b',
      '',
      'nope.mjs',
    ]) {
      expect(() => m.resolve(bad, 'f'), bad).toThrow(ModuleRefusedError);
    }
    expect(() => m.resolve('ok.mjs', 'a-b')).toThrow(ModuleRefusedError);
    expect(() => new ModuleDirectory(undefined).resolve('ok.mjs', 'f')).toThrow(/without a modules directory/);
  });

  it("maps the client's absolute references into the directory", () => {
    const f = new JobFunctions(mods);
    expect(f.of({ module: join(mods, 'sub', 'deep.mjs'), name: 'x' })).toEqual(['m', 'sub/deep.mjs', 'x']);
    expect(f.of({ module: new URL(`file://${mods}/ok.mjs`) })).toEqual(['m', 'ok.mjs', 'default']);
    expect(f.of({ module: 'rel/x.mjs', name: 'y' })).toEqual(['m', 'rel/x.mjs', 'y']);
    expect(() => f.of({ module: join(dir, 'out.mjs') })).toThrow(/not inside the modules directory/);
    expect(() => new JobFunctions(undefined).of({ module: '/abs.mjs' })).toThrow(/relative to their --modules/);
    expect(f.of((x: number) => x + 1)[0]).toBe('s');
    expect(() => f.of(Math.max)).toThrow(/native/);
  });
});

describe('unitpool agent arguments', () => {
  it("parses the agent flags and hands the pool flags to unitpool run's parser", () => {
    const args = parseAgentArgs([
      '--redis',
      'redis://127.0.0.1:7000',
      '--queue=q',
      '-m',
      '256M',
      '--allow-source',
      '-p',
      'CPUQuota=30%',
      '--concurrency',
      '3',
      '--preset',
      'untrusted',
      '--env',
      'A=1',
    ]);
    expect(args).toMatchObject({ redis: 'redis://127.0.0.1:7000', queue: 'q', allowSource: true, concurrency: 3 });
    const { pool } = poolOptions(args, '/');
    expect(pool.properties).toMatchObject({ MemoryMax: '256M', CPUQuota: '30%', PrivateNetwork: true });
    expect(pool.properties!.Environment).toEqual(['A=1']);
  });

  it('refuses what it does not know, with a usage error', () => {
    expect(() => parseAgentArgs(['--queue', 'q'])).toThrow(/--redis URL is required/);
    expect(() => parseAgentArgs(['--redis', 'redis://x', '--queue', 'q', '--concurrency', '0'])).toThrow(UsageError);
    expect(() => poolOptions(parseAgentArgs(['--redis', 'redis://x', '--queue', 'q', '--bogus']), '/')).toThrow(
      /unknown option --bogus/,
    );
    expect(() => poolOptions(parseAgentArgs(['--redis', 'redis://x', '--queue', 'q', 'stray']), '/')).toThrow(
      /unexpected argument "stray"/,
    );
  });

  it('turns Redis URLs and socket paths into connection options that never give up', () => {
    expect(redisOptions('redis://u%40x:p%3Aw@10.0.0.5:6380/3')).toMatchObject({
      host: '10.0.0.5',
      port: 6380,
      username: 'u@x',
      password: 'p:w',
      db: 3,
      maxRetriesPerRequest: null,
    });
    expect(redisOptions('rediss://[::1]')).toMatchObject({ host: '::1', port: 6379, tls: {} });
    expect(redisOptions('/run/redis/redis.sock')).toMatchObject({ path: '/run/redis/redis.sock' });
    expect(redisOptions({ host: 'h', port: 1, maxRetriesPerRequest: 3 })).toMatchObject({
      host: 'h',
      maxRetriesPerRequest: null,
    });
    expect(() => redisOptions('redis://h/x')).toThrow(OptionError);
  });

  it('refuses a connection that is not Redis, and a bad queue name, with OptionError', async () => {
    const { ClusterPool } = await import('../../src/cluster/client.js');
    expect(() => new ClusterPool({ connection: 'http://x', queue: 'q' })).toThrow(OptionError);
    expect(() => new ClusterPool({ connection: 'redis://127.0.0.1:1', queue: 'a:b' })).toThrow(OptionError);
  });

  it('refuses misspelt and mistyped options of clients and agents before connecting', async () => {
    const { ClusterPool } = await import('../../src/cluster/client.js');
    const { Agent } = await import('../../src/cluster/agent.js');
    const connection = 'redis://127.0.0.1:1';
    const refused = (make: () => unknown) => {
      try {
        make();
      } catch (err) {
        expect(err).toBeInstanceOf(OptionError);
        return (err as OptionError).message;
      }
      throw new Error('not refused');
    };
    expect(refused(() => new ClusterPool({ connection, queue: 'q', maxInflight: 4 } as never))).toBe(
      `new ClusterPool(): unknown option 'maxInflight'; did you mean 'maxInFlight'?`,
    );
    expect(refused(() => new ClusterPool({ connection, queue: 'q', attempts: '3' } as never))).toBe(
      `new ClusterPool(): attempts must be a positive integer (a number, not a string), got '3'`,
    );
    expect(refused(() => new ClusterPool({ connection, queue: 'q', retention: { age: 0 } }))).toBe(
      'new ClusterPool(): retention.age must be a positive integer, got 0',
    );
    expect(refused(() => new ClusterPool({ queue: 'q' } as never))).toMatch(
      /^new ClusterPool\(\): connection is required/,
    );
    expect(refused(() => new Agent({ connection, queue: 'q', pool: { maxWorker: 2 } } as never))).toBe(
      `new Agent(): unknown option 'pool.maxWorker'; did you mean 'pool.maxWorkers'?`,
    );
    expect(refused(() => new Agent({ connection, queue: 'q', alowSource: true } as never))).toBe(
      `new Agent(): unknown option 'alowSource'; did you mean 'allowSource'?`,
    );
  });
});
