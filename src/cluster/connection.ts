// Connections to Redis for clients and agents: a `redis://` URL or ioredis options, turned into ioredis clients
// that never give up. BullMQ needs `maxRetriesPerRequest: null` on the connections it blocks on; with it on every
// connection, a command sent while Redis is down waits for the reconnection instead of failing, so a submit made
// during a Redis restart completes once Redis is back.

import { Redis, type RedisOptions } from 'ioredis';
import { OptionError } from '../errors.js';

export type ConnectionOption = string | RedisOptions;

/** Reconnects every 100 ms at first, then every second, for ever. */
function retryStrategy(times: number): number {
  return Math.min(100 * times, 1000);
}

export function connect(connection: ConnectionOption, option = 'connection'): Redis {
  const common: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy };
  if (typeof connection === 'string') {
    if (!/^rediss?:\/\//.test(connection) && !connection.startsWith('/')) {
      throw new OptionError(option, connection, 'not a Redis URL', "'redis://127.0.0.1:6380', 'rediss://host:6379/0' or the path of a unix socket");
    }
    return connection.startsWith('/') ? new Redis({ ...common, path: connection }) : new Redis(connection, common);
  }
  if (connection === null || typeof connection !== 'object') {
    throw new OptionError(option, connection, 'not a Redis URL or ioredis options', "'redis://127.0.0.1:6380' or { host, port }");
  }
  return new Redis({ ...connection, ...common });
}

/** A queue name BullMQ accepts in its keys. */
export function checkQueueName(queue: unknown): string {
  if (typeof queue !== 'string' || !/^[\w.-]{1,200}$/.test(queue)) {
    throw new OptionError('queue', queue, 'not a queue name', "letters, digits, '_', '-' and '.', e.g. 'thumbnails'");
  }
  return queue;
}
