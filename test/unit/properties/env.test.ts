import { describe, expect, test } from 'vitest';
import { DEFAULT_ENV_NAMES, environmentFromPolicy } from '../../../src/properties/index.js';
import { compile, optionError } from './helpers.js';

const parent = {
  PATH: '/opt/node/bin:/usr/bin',
  LANG: 'de_DE.UTF-8',
  TZ: 'Europe/Berlin',
  LC_TIME: 'en_GB.UTF-8',
  HOME: '/home/alice',
  AWS_SECRET_ACCESS_KEY: 'hunter2',
  NODE_ENV: 'production',
  NODE_OPTIONS: '--inspect',
  NOTIFY_SOCKET: '/run/systemd/notify',
  INVOCATION_ID: 'abc',
  NODE_CHANNEL_FD: '3',
  'BASH_FUNC_x%%': '() { :; }',
  UNSET: undefined,
};

describe('env policy', () => {
  test('default: PATH, the locale and TZ only', () => {
    expect(environmentFromPolicy(undefined, parent)).toEqual({
      PATH: '/opt/node/bin:/usr/bin',
      LANG: 'de_DE.UTF-8',
      TZ: 'Europe/Berlin',
      LC_TIME: 'en_GB.UTF-8',
    });
    expect(DEFAULT_ENV_NAMES).toContain('PATH');
  });

  test('names: the default plus those, if set', () => {
    expect(environmentFromPolicy(['NODE_ENV', 'UNSET', 'NOT_THERE'], parent)).toEqual({
      PATH: '/opt/node/bin:/usr/bin',
      LANG: 'de_DE.UTF-8',
      TZ: 'Europe/Berlin',
      LC_TIME: 'en_GB.UTF-8',
      NODE_ENV: 'production',
    });
    // Named explicitly, NODE_OPTIONS is copied.
    expect(environmentFromPolicy(['NODE_OPTIONS'], parent).NODE_OPTIONS).toBe('--inspect');
  });

  test('a record: the default plus exactly those', () => {
    expect(environmentFromPolicy({ MODE: 'fast', PATH: '/usr/bin' }, parent)).toEqual({
      PATH: '/usr/bin',
      LANG: 'de_DE.UTF-8',
      TZ: 'Europe/Berlin',
      LC_TIME: 'en_GB.UTF-8',
      MODE: 'fast',
    });
  });

  test("'inherit': all but what describes this process, NODE_OPTIONS and invalid names", () => {
    expect(environmentFromPolicy('inherit', parent)).toEqual({
      PATH: '/opt/node/bin:/usr/bin',
      LANG: 'de_DE.UTF-8',
      TZ: 'Europe/Berlin',
      LC_TIME: 'en_GB.UTF-8',
      HOME: '/home/alice',
      AWS_SECRET_ACCESS_KEY: 'hunter2',
      NODE_ENV: 'production',
    });
  });

  test("'none': nothing", () => {
    expect(environmentFromPolicy('none', parent)).toEqual({});
  });

  test('malformed policies', () => {
    expect(optionError(() => environmentFromPolicy('all' as never, parent)).message).toBe(
      `env: unknown policy "all" (got "all"); expected 'inherit', 'none', an array of variable names to copy (['NODE_ENV']), or { NAME: 'value' }`,
    );
    expect(optionError(() => environmentFromPolicy(['OK', 'NOT-OK'], parent)).message).toBe(
      'env[1]: "NOT-OK" is not a valid variable name (got "NOT-OK"); expected names of letters, digits and _, not starting with a digit',
    );
    expect(optionError(() => environmentFromPolicy([1 as never], parent)).message).toBe(
      `env[0]: not a variable name (got 1); expected 'inherit', 'none', an array of variable names to copy (['NODE_ENV']), or { NAME: 'value' }`,
    );
    expect(optionError(() => environmentFromPolicy({ A: 2 as never }, parent)).message).toBe(
      "env.A: an environment value must be a string (got 2); expected a string, e.g. { A: '1' }",
    );
    expect(optionError(() => environmentFromPolicy(['NODE_CHANNEL_FD'], parent)).message).toBe(
      'env[0]: NODE_CHANNEL_FD cannot be passed to workers (Node would treat it as its own IPC channel) (got "NODE_CHANNEL_FD"); expected other variable names',
    );
    expect(optionError(() => environmentFromPolicy(42 as never, parent)).message).toBe(
      `env: not an environment policy (got 42); expected 'inherit', 'none', an array of variable names to copy (['NODE_ENV']), or { NAME: 'value' }`,
    );
  });
});

describe('the Environment property', () => {
  test('properties.Environment is set over the policy', () => {
    expect(compile({ Environment: { LANG: 'C.UTF-8', EXTRA: '1' } }, { env: ['NODE_ENV'], parentEnv: parent })).toEqual(
      [
        [
          'Environment',
          'as',
          [
            'PATH=/opt/node/bin:/usr/bin',
            'LANG=C.UTF-8',
            'TZ=Europe/Berlin',
            'LC_TIME=en_GB.UTF-8',
            'NODE_ENV=production',
            'EXTRA=1',
          ],
        ],
      ],
    );
  });

  test('no Environment property when there is nothing to set', () => {
    expect(compile({ Nice: 1 }, { env: 'none' })).toEqual([['Nice', 'i', 1]]);
  });

  test('by default the workers get this process PATH', () => {
    const out = compile({}, { env: undefined, parentEnv: { PATH: '/x/bin', SECRET: 's' } });
    expect(out).toEqual([['Environment', 'as', ['PATH=/x/bin']]]);
  });

  test('values keep newlines and = signs', () => {
    expect(compile({ Environment: { A: 'x=y\nz' } })).toEqual([['Environment', 'as', ['A=x=y\nz']]]);
  });
});
