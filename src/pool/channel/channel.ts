// How the pool reaches one worker: one interface, two implementations (as tinypool's runtimes are).
//
//   relay.ts   the worker's frames travel on the supervisor's control socket, on the worker's channel number;
//              the supervisor forwards them without decoding (isolation 'pool' when no direct link can be opened,
//              and isolation 'none').
//   direct.ts  the worker's own connection to the pool (the link server admitted it, or systemd connected it as
//              the worker unit's stdin/stdout with isolation 'worker').
//
// Frames arriving from the worker are delivered to whoever created the channel (the host), which hands them to
// the Worker; a channel only carries bytes and knows nothing of tasks.

import type { Socket } from 'node:net';

export interface WorkerChannel {
  readonly kind: 'direct' | 'relay';
  /** Sends one pool -> worker message (an encoded payload; the channel frames it). */
  send(payload: Buffer): void;
  /** The socket the worker's frames arrive on: paused while the worker's console output cannot be written. */
  readonly source: Socket | undefined;
  /** Closes the worker's own connection (a relay channel closes only with the supervisor). */
  close(): void;
  /** The connection is gone (always false for a relay channel: the supervisor reports the worker's end). */
  readonly closed: boolean;
}
