// Connections to Redis for clients and agents: a `redis://` URL or ioredis options, turned into options for
// ioredis clients that never give up (BullMQ opens and closes the connections itself). BullMQ needs `maxRetriesPerRequest: null` on the connections it blocks on; with it on every
// connection, a command sent while Redis is down waits for the reconnection instead of failing, so a submit made
// during a Redis restart completes once Redis is back.

import type { RedisOptions } from 'ioredis';
import { OptionError } from '../errors.js';
import { either, nonEmptyString, object } from '../options/check.js';

export type ConnectionOption = string | RedisOptions;

/** The shape of a ConnectionOption, for checkOptions(); redisOptions() judges the URL. */
export const CONNECTION_FORM = either(
  [nonEmptyString, object],
  "a Redis URL ('redis://127.0.0.1:6380'), a unix socket path or ioredis options",
);

/** Reconnects every 100 ms at first, then every second, for ever. */
function retryStrategy(times: number): number {
  return Math.min(100 * times, 1000);
}

/** ioredis options for a connection; BullMQ opens (and closes) its connections from these. */
export function redisOptions(connection: ConnectionOption, option = 'connection'): RedisOptions {
  const common: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy };
  if (typeof connection === 'string') {
    if (connection.startsWith('/')) return { ...common, path: connection };
    let url: URL;
    try {
      url = new URL(connection);
    } catch {
      url = new URL('invalid:');
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new OptionError(
        option,
        connection,
        'not a Redis URL',
        "'redis://127.0.0.1:6380', 'rediss://host:6379/0' or the path of a unix socket",
      );
    }
    const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined;
    if (db !== undefined && !Number.isInteger(db))
      throw new OptionError(
        option,
        connection,
        `database ${url.pathname.slice(1)} is not a number`,
        "'redis://host:6379/0'",
      );
    return {
      ...common,
      host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
      port: url.port ? Number(url.port) : 6379,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(db !== undefined ? { db } : {}),
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    };
  }
  if (connection === null || typeof connection !== 'object') {
    throw new OptionError(
      option,
      connection,
      'not a Redis URL or ioredis options',
      "'redis://127.0.0.1:6380' or { host, port }",
    );
  }
  return { ...connection, ...common };
}

/** A queue name BullMQ accepts in its keys. */
export function checkQueueName(queue: unknown): string {
  if (typeof queue !== 'string' || !/^[\w.-]{1,200}$/.test(queue)) {
    throw new OptionError('queue', queue, 'not a queue name', "letters, digits, '_', '-' and '.', e.g. 'thumbnails'");
  }
  return queue;
}
