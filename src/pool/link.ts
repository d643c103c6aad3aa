// A worker's direct connection from the pool (the handshake is in src/wire/direct.ts): frames to and from that
// worker skip the supervisor. What arrives is the worker's, so untrusted: frames over the pool's limit or broken
// framing are a fault of that worker.

import { createConnection, type Socket } from 'node:net';
import { encodeDirectHello } from '../wire/direct.js';
import { FrameDecoder, FrameWriter } from '../wire/frame.js';

export interface LinkEvents {
  /** A whole frame from the worker. */
  onFrame(payload: Buffer): void;
  /** The worker broke the framing (the link is closed already). */
  onFault(err: Error): void;
  /** The connection is gone; `connected` says whether it was ever established. */
  onClose(connected: boolean): void;
}

export class DirectLink {
  /** Frames to the worker; use it only after the worker's Ready (the supervisor reads the hello, nothing more). */
  readonly writer: FrameWriter;
  connected = false;
  closed = false;
  private readonly socket: Socket;

  constructor(path: string, token: Buffer, workerId: number, maxFrame: number, events: LinkEvents) {
    const socket = createConnection(path);
    this.socket = socket;
    socket.write(encodeDirectHello(token, workerId));
    this.writer = new FrameWriter(socket, { maxFrame: Number.MAX_SAFE_INTEGER });
    const decoder = new FrameDecoder({ maxFrame, onFrame: (_channel: number, payload: Buffer) => events.onFrame(payload) });
    socket.once('connect', () => (this.connected = true));
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        socket.destroy();
        events.onFault(err as Error);
      }
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      this.closed = true;
      events.onClose(this.connected);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}
