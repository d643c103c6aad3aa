// A worker's direct connection (the handshake is in src/wire/direct.ts): frames to and from that worker skip the
// supervisor. What arrives is the worker's, so untrusted: frames over the pool's limit or broken framing are a
// fault of that worker, reported to onFault (the connection is closed by then).

import type { Socket } from 'node:net';
import { FrameDecoder } from '../../wire/frame-decoder.js';
import { FrameWriter } from '../../wire/frame-writer.js';
import { readFrames } from '../../wire/socket-reader.js';
import type { WorkerChannel } from './channel.js';

export interface DirectEvents {
  /** A whole frame from the worker. */
  onFrame(payload: Buffer): void;
  /** The worker broke the framing (the connection is closed already). */
  onFault(err: Error): void;
  /** The connection is gone. */
  onClose(): void;
}

export class DirectChannel implements WorkerChannel {
  readonly kind = 'direct';
  /** The connection (readFrames() may have moved it to a socket of its own: use this one, not the one given). */
  readonly source: Socket;
  private readonly writer: FrameWriter;
  closed = false;

  /** `socket` is admitted and paused; `rest` is what arrived after its hello (the worker's first frames). */
  constructor(
    socket: Socket,
    rest: Buffer,
    private readonly id: number,
    maxFrame: number,
    events: DirectEvents,
  ) {
    const decoder = new FrameDecoder({
      maxFrame,
      onFrame: (_channel: number, payload: Buffer) => events.onFrame(payload),
    });
    // Delivers `rest` after the constructor returns (the worker holds the channel by then), before anything later.
    const source = readFrames(
      socket,
      decoder,
      (err) => {
        source.destroy();
        events.onFault(err);
      },
      rest,
    );
    this.source = source;
    this.writer = new FrameWriter(source);
    source.on('error', () => {});
    source.once('close', () => {
      this.closed = true;
      events.onClose();
    });
  }

  send(payload: Buffer): void {
    this.writer.write(this.id, payload);
  }

  close(): void {
    this.source.destroy();
  }
}
