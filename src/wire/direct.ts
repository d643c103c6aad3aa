// The handshake of a worker's direct link, and the supervisor's boot frame.
//
// A worker's tasks and results do not pass through the supervisor: each worker has a link of its own to the pool.
// The pool LISTENS, the unit connects:
//
//   pool: listen(<0700 root dir>/link.sock), bound read-only into the unit at LINK_PATH (BindReadOnlyPaths=)
//   pool ──control socket: [Spawn, k, key_k] (or the boot frame for the first workers)──> supervisor
//   supervisor ──connect(LINK_PATH), hello [key_k, k]──> pool;  fork(worker k, fd 3 = that connection)
//   worker k ──[Ready]──> pool   (then tasks and results)
//
// Why this cannot be hijacked: the pool, as root, never connects to, opens or follows any path inside the unit; it
// only accepts on a socket in a directory no process of the unit can write (the unit sees the socket through a
// read-only bind mount of that one file, which it can neither unlink, rename nor replace). A connection is admitted
// as worker k only with the key the pool drew for k, once (a second hello for k, a wrong key, a wrong size or
// silence closes it); no key is ever reused. So no process of the unit can make the pool talk to a socket of its
// own, and one that is not the supervisor cannot become a worker without reading the supervisor's memory (which,
// in a unit where every process has the same uid, a task can: that is why untrusted code gets a unit and a uid per
// worker, isolation: 'worker', whose links are the units' stdin, connected by systemd itself).
//
// The hello is one fixed-size frame: header, 32 key bytes, the worker id (u32). The pool sends nothing until the
// worker's Ready, so the supervisor never reads a byte meant for the worker.

// It imports no more than the frame header: the supervisor uses it before it loads anything else (the keys are drawn
// and compared by the pool's link server).
import { encodeFrame, HEADER_SIZE } from './header.js';

export const KEY_SIZE = 32;
export const HELLO_SIZE = HEADER_SIZE + KEY_SIZE + 4;
/** Where the unit sees the pool's link socket (a read-only bind mount of that one socket file). */
export const LINK_PATH = '/run/unitpool-link.sock';

export function encodeLinkHello(key: Uint8Array, workerId: number): Buffer {
  const body = Buffer.alloc(KEY_SIZE + 4);
  body.set(key.subarray(0, KEY_SIZE));
  body.writeUInt32BE(workerId, KEY_SIZE);
  return encodeFrame(0, body);
}

/** The worker id and key a hello carries, or undefined if it is not a well-formed hello. */
export function parseLinkHello(bytes: Buffer): { id: number; key: Buffer } | undefined {
  if (bytes.length !== HELLO_SIZE) return undefined;
  if (bytes.readUInt32BE(0) !== KEY_SIZE + 4 || bytes.readUInt32BE(4) !== 0) return undefined;
  const id = bytes.readUInt32BE(HEADER_SIZE + KEY_SIZE);
  return id >= 1 ? { id, key: bytes.subarray(HEADER_SIZE, HEADER_SIZE + KEY_SIZE) } : undefined;
}

/**
 * The first frame on the control socket, written by the pool as soon as the supervisor is connected: the ids and
 * keys of the workers to fork at once, so the supervisor forks them before it has loaded the codec (the Node
 * start-ups overlap). Encoded by hand: [u32 count] then per worker [u32 id][32 key bytes].
 */
export function encodeBoot(workers: readonly (readonly [id: number, key: Buffer])[]): Buffer {
  const body = Buffer.alloc(4 + workers.length * (4 + KEY_SIZE));
  body.writeUInt32BE(workers.length, 0);
  workers.forEach(([id, key], i) => {
    body.writeUInt32BE(id, 4 + i * (4 + KEY_SIZE));
    body.set(key.subarray(0, KEY_SIZE), 8 + i * (4 + KEY_SIZE));
  });
  return encodeFrame(0, body);
}

/** The boot frame's body: [id, key] pairs; throws on anything else. */
export function parseBoot(body: Buffer): [number, Buffer][] {
  const count = body.length >= 4 ? body.readUInt32BE(0) : -1;
  if (count < 0 || body.length !== 4 + count * (4 + KEY_SIZE))
    throw new Error(`malformed boot frame (${body.length} bytes)`);
  return Array.from({ length: count }, (_, i) => [
    body.readUInt32BE(4 + i * (4 + KEY_SIZE)),
    Buffer.from(body.subarray(8 + i * (4 + KEY_SIZE), 8 + i * (4 + KEY_SIZE) + KEY_SIZE)),
  ]);
}
