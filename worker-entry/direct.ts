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
 * whatever ProtectSystem= says, and removes it when the unit stops). Resolves to the token, or to undefined when that
 * is impossible (no such directory, a syscall filter without listen(2)...): then every worker is relayed.
 */
export async function listenForPool(dirName: string, onWorker: (id: number, channel: Socket) => void): Promise<Buffer | undefined> {
  const dirs = (process.env.RUNTIME_DIRECTORY ?? '').split(':').filter(Boolean);
  const dir = dirs.find((d) => basename(d) === dirName);
  // Ours is not the workers' business: they see only the runtime directories the user asked for.
  const rest = dirs.filter((d) => d !== dir);
  if (rest.length > 0) process.env.RUNTIME_DIRECTORY = rest.join(':');
  else delete process.env.RUNTIME_DIRECTORY;
  if (!dir) return undefined;
  const token = randomBytes(TOKEN_SIZE);
  const server = createServer({ pauseOnConnect: false }, (socket) => admit(socket, token, onWorker));
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', (err) => {
      process.stderr.write(`unitpool supervisor: cannot listen in ${dir} (${(err as Error).message}); relaying every worker\n`);
      resolve(false);
    });
    server.listen(join(dir, DIRECT_SOCKET), () => resolve(true));
  });
  if (!listening) return undefined;
  server.on('error', () => {});
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
