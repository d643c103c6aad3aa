// The supervisor's side of direct links (the handshake, and why it cannot be hijacked: src/wire/direct.ts): open
// worker k's link to the pool's socket with the key the pool sent for k, before forking k on it.

import { readSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { encodeLinkHello, parseBoot } from '../src/wire/direct.js';
import { HEADER_SIZE } from '../src/wire/header.js';

/** Connects to the pool's link socket and says hello as worker `id`; rejects if the socket cannot be reached. */
export function openLink(path: string, key: Uint8Array, id: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      socket.write(encodeLinkHello(key, id));
      resolve(socket);
    });
  });
}

/**
 * Reads the pool's boot frame (the first workers' ids and keys) from the control channel, synchronously: the codec
 * and the relay are not loaded yet, and nothing else may read the channel before it.
 */
export function readBoot(fd: number): [number, Buffer][] {
  const header = readExactly(fd, HEADER_SIZE);
  const length = header.readUInt32BE(0);
  if (header.readUInt32BE(4) !== 0 || length > 1 << 20)
    throw new Error('the first frame from the pool is not a boot frame');
  return parseBoot(readExactly(fd, length));
}

function readExactly(fd: number, n: number): Buffer {
  const buf = Buffer.alloc(n);
  for (let got = 0; got < n;) {
    let read: number;
    try {
      read = readSync(fd, buf, got, n - got, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      continue;
    }
    if (read === 0) process.exit(0); // the pool went away before it booted us
    got += read;
  }
  return buf;
}
