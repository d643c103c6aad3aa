// A relayed worker: its frames share the supervisor's control socket, on channel `id`. The supervisor forwards
// them verbatim, and reports the worker's exit only after every frame of it was forwarded, so nothing is in flight
// when the exit arrives.

import type { Socket } from 'node:net';
import type { FrameWriter } from '../../wire/frame-writer.js';
import type { WorkerChannel } from './channel.js';

export class RelayChannel implements WorkerChannel {
  readonly kind = 'relay';
  readonly closed = false;

  constructor(
    private readonly writer: FrameWriter,
    private readonly id: number,
    /** The control socket. */
    readonly source: Socket,
  ) {}

  send(payload: Buffer): void {
    this.writer.write(this.id, payload);
  }

  close(): void {}
}
