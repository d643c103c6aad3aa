// The opening frame of a direct worker connection. Instead of relaying every frame through the supervisor, the pool
// connects once per worker to a socket the supervisor listens on inside the unit's RuntimeDirectory=, and the
// supervisor forks that worker with the connection as its channel (fd 3):
//
//   pool ──connect(/run/unitpool-<id>/pool.sock), hello [token, worker id]──> supervisor
//   supervisor ──fork(worker, fd 3 = that connection)──> worker ──[Ready]──> pool   (then tasks and results)
//
// The token comes from the supervisor's Hello on the control socket, which only the pool can read; a connection
// without it (another process of the unit's user) is closed. The hello is one fixed-size frame: header, 32 token
// bytes, the worker id (u32). The pool sends nothing more until the worker's Ready, so the supervisor never reads a
// byte meant for the worker.

import { timingSafeEqual } from 'node:crypto';
import { encodeFrame, HEADER_SIZE } from './frame.js';

export const TOKEN_SIZE = 32;
export const HELLO_SIZE = HEADER_SIZE + TOKEN_SIZE + 4;
/** The file name of the listening socket, in the runtime directory. */
export const DIRECT_SOCKET = 'pool.sock';

/**
 * The supervisor's Hello, [FromSupervisor.Hello, pid, token], encoded by hand: the supervisor sends it as soon as
 * it listens, before it has loaded the codec, so the pool can connect for the first workers while it loads.
 * (msgpack: fixarray of 3, positive fixint, uint32, bin8.)
 */
export function encodeSupervisorHello(helloOp: number, pid: number, token: Uint8Array): Buffer {
  const body = Buffer.alloc(1 + 1 + 5 + 2 + TOKEN_SIZE);
  body[0] = 0x93;
  body[1] = helloOp;
  body[2] = 0xce;
  body.writeUInt32BE(pid, 3);
  body[7] = 0xc4;
  body[8] = TOKEN_SIZE;
  body.set(token.subarray(0, TOKEN_SIZE), 9);
  return encodeFrame(0, body);
}

export function encodeDirectHello(token: Uint8Array, workerId: number): Buffer {
  const body = Buffer.alloc(TOKEN_SIZE + 4);
  body.set(token.subarray(0, TOKEN_SIZE));
  body.writeUInt32BE(workerId, TOKEN_SIZE);
  return encodeFrame(0, body);
}

/** The worker id a hello asks for, or undefined if it is not a well-formed hello carrying `token`. */
export function parseDirectHello(bytes: Buffer, token: Buffer): number | undefined {
  if (bytes.length !== HELLO_SIZE) return undefined;
  if (bytes.readUInt32BE(0) !== TOKEN_SIZE + 4 || bytes.readUInt32BE(4) !== 0) return undefined;
  if (!timingSafeEqual(bytes.subarray(HEADER_SIZE, HEADER_SIZE + TOKEN_SIZE), token)) return undefined;
  const id = bytes.readUInt32BE(HEADER_SIZE + TOKEN_SIZE);
  return id >= 1 ? id : undefined;
}
