// The pool's end of the workers' direct links (the handshake and why it holds: src/wire/direct.ts). It listens on
// a socket in a private directory of the pool's (0700, root's), which the unit sees through a read-only bind mount
// of that one socket file; it admits a connection as worker k only with the single-use key it drew for k.
//
// Owns: the listening socket and its directory, the keys of the workers whose link has not arrived yet, and the
// connections that have not said hello. It never connects anywhere, and it knows nothing of tasks: an admitted
// connection goes to `onLink`, with any bytes that came after the hello.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, rmSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { HELLO_SIZE, KEY_SIZE, parseLinkHello } from '../../wire/direct.js';
import { listenUnix, privateSocketDir } from '../../unit/sockets.js';

/** How long a connection may take to say hello. */
const HELLO_TIMEOUT_MS = 5_000;
/** Connections that have not said hello yet, at most: past it new ones are closed at once (no fd exhaustion). */
const MAX_UNADMITTED = 64;

export class LinkServer {
  private readonly keys = new Map<number, Buffer>();
  private unadmitted = 0;

  private constructor(
    private readonly server: Server,
    private readonly dir: string,
    /** The socket's path here (the unit sees it at LINK_PATH). */
    readonly path: string,
    private readonly onLink: (id: number, socket: Socket, rest: Buffer) => void,
  ) {
    server.on('connection', (socket) => this.admit(socket));
    server.on('error', () => {});
    server.unref();
  }

  static async listen(
    bus: 'system' | 'user',
    onLink: (id: number, socket: Socket, rest: Buffer) => void,
  ): Promise<LinkServer> {
    const dir = privateSocketDir('l', bus);
    const path = join(dir, 'link.sock');
    try {
      const server = await listenUnix(path);
      // The directory keeps everyone else out; the unit's user, whoever it is, must be able to connect.
      chmodSync(path, 0o666);
      return new LinkServer(server, dir, path, onLink);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Draws the key worker `id` must present (fresh, single-use); it replaces any earlier one. */
  expect(id: number): Buffer {
    const key = randomBytes(KEY_SIZE);
    this.keys.set(id, key);
    return key;
  }

  /** Worker `id` will not connect (it is relayed, or gone): its key is void. */
  forget(id: number): void {
    this.keys.delete(id);
  }

  close(): void {
    this.server.close();
    this.keys.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private admit(socket: Socket): void {
    if (this.unadmitted >= MAX_UNADMITTED) return void socket.destroy();
    this.unadmitted++;
    let parts: Buffer[] = [];
    let got = 0;
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      this.unadmitted--;
      socket.setTimeout(0);
      socket.off('data', onData);
      return true;
    };
    socket.setTimeout(HELLO_TIMEOUT_MS, () => finish() && socket.destroy());
    socket.on('error', () => {});
    socket.once('close', () => finish());
    const onData = (chunk: Buffer) => {
      parts.push(chunk);
      got += chunk.length;
      if (got < HELLO_SIZE) return;
      finish();
      socket.pause();
      const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      parts = [];
      const hello = parseLinkHello(all.subarray(0, HELLO_SIZE));
      const key = hello && this.keys.get(hello.id);
      if (!hello || !key || key.length !== hello.key.length || !timingSafeEqual(key, hello.key))
        return void socket.destroy();
      this.keys.delete(hello.id);
      this.onLink(hello.id, socket, all.subarray(HELLO_SIZE));
    };
    socket.on('data', onData);
  }
}
