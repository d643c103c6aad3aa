// The supervisor's side of direct worker connections (see src/wire/direct.ts for the handshake): listen in the
// unit's own runtime directory, admit connections that carry the token, and hand each to the fork of its worker.

import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { basename, join } from 'node:path';
import { DIRECT_SOCKET, HELLO_SIZE, parseDirectHello, TOKEN_SIZE } from '../src/wire/direct.js';

/** How long a connection may take to send its hello. */
const HELLO_TIMEOUT_MS = 10_000;

/**
 * Listens on `pool.sock` in the runtime directory named `dirName` (systemd created it, writable by the unit's user
 * whatever ProtectSystem= says, and removes it when the unit stops). Returns the token at once (a Unix socket is
 * bound and listening when listen() returns), or undefined when that is impossible (no such directory, a syscall
 * filter without listen(2)...): then every worker is relayed.
 */
export function listenForPool(dirName: string, onWorker: (id: number, channel: Socket) => void): Buffer | undefined {
  const dirs = (process.env.RUNTIME_DIRECTORY ?? '').split(':').filter(Boolean);
  const dir = dirs.find((d) => basename(d) === dirName);
  // Ours is not the workers' business: they see only the runtime directories the user asked for.
  const rest = dirs.filter((d) => d !== dir);
  if (rest.length > 0) process.env.RUNTIME_DIRECTORY = rest.join(':');
  else delete process.env.RUNTIME_DIRECTORY;
  if (!dir) return undefined;
  const token = randomBytes(TOKEN_SIZE);
  const server = createServer((socket) => admit(socket, token, onWorker));
  server.on('error', (err) => process.stderr.write(`unitpool supervisor: cannot listen in ${dir} (${err.message}); relaying every worker\n`));
  try {
    server.listen(join(dir, DIRECT_SOCKET));
  } catch {
    return undefined;
  }
  if (!server.listening) return undefined;
  // The server must not keep the supervisor alive: it exits when the control connection closes.
  server.unref();
  return token;
}

/** Reads exactly the hello; a wrong token, a wrong size or silence closes the connection. */
function admit(socket: Socket, token: Buffer, onWorker: (id: number, channel: Socket) => void): void {
  const parts: Buffer[] = [];
  let got = 0;
  socket.setTimeout(HELLO_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => {});
  const onData = (chunk: Buffer) => {
    parts.push(chunk);
    got += chunk.length;
    if (got < HELLO_SIZE) return;
    socket.off('data', onData);
    socket.pause();
    socket.setTimeout(0);
    const id = got === HELLO_SIZE ? parseDirectHello(Buffer.concat(parts), token) : undefined;
    if (id === undefined) socket.destroy();
    else onWorker(id, socket);
  };
  socket.on('data', onData);
}
