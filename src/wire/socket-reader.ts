// Frames from a socket the pool accepted (a worker's direct link, from net.Server), read the way the worker reads
// its channel: with net.Socket's `onread` (FrameDecoder.socketReader), a large payload straight into its own buffer,
// other reads into one slab, never a 64 KiB Buffer per read that is then copied into the payload's.
//
// net.Server creates its sockets itself and takes no `onread` option, so readFrames() moves the accepted socket's
// libuv handle to a new net.Socket created with one: the `handle` option (what net.Server and child_process use to
// wrap a handle) and the `_handle` property are Node internals, so this is guarded: only a socket that is
// plainly what Node 20 and 22 make (a handle with useUserBuffer, nothing read or buffered yet besides what the caller
// took, not destroyed) is moved; any other goes on with 'data' events, which is slower but the same frames. The old
// socket stays a stand-in for whoever still holds it: destroy() on it destroys the new one, and it emits 'close'
// when the new one closes (so a net.Server counts it gone).
//
// It owns nothing but that move: the decoder is the caller's, and so are the returned socket and its errors.

import { Socket } from 'node:net';
import type { FrameDecoder } from './frame-decoder.js';

interface Internals {
  _handle?: { useUserBuffer?: unknown } | null;
  _readableState?: { ended?: boolean };
}

/** Whether readFrames() moves sockets to `onread` (false: it reads them with 'data'); for tests and benchmarks. */
export let movesHandles = process.env.UNITPOOL_NO_ONREAD !== '1';

/** For tests: read with 'data' events only (false), or move handles where possible (true). */
export function setMovesHandles(on: boolean): void {
  movesHandles = on;
}

/**
 * Makes `socket` feed `decoder`: first `first` (bytes the caller read already) and what the socket holds buffered,
 * in a microtask (so the caller can finish setting up before the first frame), then what arrives. `onError` gets
 * what the decoder throws (nothing more is read then). Returns the socket to use from now on: a new one over the
 * same connection, or `socket` itself.
 */
export function readFrames(
  socket: Socket,
  decoder: FrameDecoder,
  onError: (err: Error) => void,
  first: Buffer = Buffer.alloc(0),
): Socket {
  const early: Buffer[] = first.length > 0 ? [first] : [];
  for (let chunk: unknown; (chunk = socket.read()) !== null;) early.push(chunk as Buffer);
  const moved = movable(socket) ? moveHandle(socket, decoder, onError) : undefined;
  queueMicrotask(() => {
    try {
      for (const chunk of early) decoder.push(chunk);
    } catch (err) {
      return onError(err as Error);
    }
    if (moved) return;
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        onError(err as Error);
      }
    });
    socket.resume();
  });
  return moved ?? socket;
}

function movable(socket: Socket): boolean {
  const internals = socket as unknown as Internals;
  const handle = internals._handle;
  return (
    movesHandles &&
    handle != null &&
    typeof handle.useUserBuffer === 'function' &&
    Object.getPrototypeOf(socket) === Socket.prototype &&
    !socket.destroyed &&
    socket.readableLength === 0 &&
    internals._readableState?.ended === false &&
    socket.writableLength === 0
  );
}

function moveHandle(socket: Socket, decoder: FrameDecoder, onError: (err: Error) => void): Socket {
  const internals = socket as unknown as Internals;
  const handle = internals._handle;
  internals._handle = null; // the old socket gives the connection up: its own destroy() closes nothing now
  const moved = new Socket({
    handle,
    readable: true,
    writable: true,
    allowHalfOpen: socket.allowHalfOpen,
    onread: decoder.socketReader(undefined, onError),
  } as ConstructorParameters<typeof Socket>[0]);
  const close = Socket.prototype.destroy.bind(socket);
  socket.destroy = (err?: Error) => {
    moved.destroy(err);
    return socket;
  };
  moved.once('close', () => close());
  return moved;
}
