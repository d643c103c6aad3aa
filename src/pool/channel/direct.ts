// A worker's direct connection (the handshake is in src/wire/direct.ts): frames to and from that worker skip the
// supervisor. What arrives is the worker's, so untrusted: frames over the pool's limit or broken framing are a
// fault of that worker, reported to onFault (the connection is closed by then).

import type { Socket } from 'node:net';
import { FrameDecoder } from '../../wire/frame-decoder.js';
import { FrameWriter } from '../../wire/frame-writer.js';
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
  private readonly writer: FrameWriter;
  closed = false;

  /** `socket` is admitted and paused; `rest` is what arrived after its hello (the worker's first frames). */
  constructor(
    readonly source: Socket,
    rest: Buffer,
    private readonly id: number,
    maxFrame: number,
    events: DirectEvents,
  ) {
    this.writer = new FrameWriter(source);
    const decoder = new FrameDecoder({
      maxFrame,
      onFrame: (_channel: number, payload: Buffer) => events.onFrame(payload),
    });
    const push = (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        source.destroy();
        events.onFault(err as Error);
      }
    };
    source.on('data', push);
    source.on('error', () => {});
    source.once('close', () => {
      this.closed = true;
      events.onClose();
    });
    // After the constructor returns (the worker holds the channel by then), and before anything read later.
    if (rest.length > 0) queueMicrotask(() => push(rest));
    source.resume();
  }

  send(payload: Buffer): void {
    this.writer.write(this.id, payload);
  }

  close(): void {
    this.source.destroy();
  }
}
