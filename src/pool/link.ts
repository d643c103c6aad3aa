// A worker's direct link, once the link server admitted it (the handshake is in src/wire/direct.ts): frames to
// and from that worker skip the supervisor. What arrives is the worker's, so untrusted: frames over the pool's
// limit or broken framing are a fault of that worker.

import type { Socket } from 'node:net';
import { FrameDecoder } from '../wire/frame-decoder.js';
import { FrameWriter } from '../wire/frame-writer.js';

export interface LinkEvents {
  /** A whole frame from the worker. */
  onFrame(payload: Buffer): void;
  /** The worker broke the framing (the link is closed already). */
  onFault(err: Error): void;
  /** The connection is gone. */
  onClose(): void;
}

export class DirectLink {
  /** Frames to the worker; use it only after the worker's Ready. */
  readonly writer: FrameWriter;
  closed = false;

  /** `socket` is admitted and paused; `rest` is what arrived after its hello (the worker's first frames). */
  constructor(
    /** The connection (console output on it pauses it while the destination is full). */
    readonly socket: Socket,
    rest: Buffer,
    maxFrame: number,
    events: LinkEvents,
  ) {
    this.writer = new FrameWriter(socket);
    const decoder = new FrameDecoder({ maxFrame, onFrame: (_channel: number, payload: Buffer) => events.onFrame(payload) });
    const push = (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        socket.destroy();
        events.onFault(err as Error);
      }
    };
    socket.on('data', push);
    socket.once('close', () => {
      this.closed = true;
      events.onClose();
    });
    // After the constructor returns (the pool holds the link by then), and before anything read later.
    if (rest.length > 0) queueMicrotask(() => push(rest));
    socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
