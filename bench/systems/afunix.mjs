// The bare AF_UNIX floors: a Node parent and one Node child joined by a socketpair (the child's fd 3).
//
// Ping-pong (round trip, pipelined throughput): the child echoes bytes; a call is a tiny fixed-size message; it
// resolves when as many bytes have come back. Replies come back in order, so a FIFO of waiters is the whole
// protocol: no framing, no msgpack, no ids, no pool logic.
//
// Echo (bandwidth, `echo: true`): a call is [u32 length][the Buffer], written by reference; the child reads it with
// `onread` into one buffer of its size and writes it back whole; the parent reads the reply the same way, into a
// fresh buffer of its size (the caller owns it). So it is the socket's bandwidth between two Node processes with
// fresh memory at each receiving end (what a pool must hand out), and nothing else: no 64 KiB reads copied into
// place. The parent's end comes from child_process, which takes no `onread`: its libuv handle is moved to a socket
// created with one (the `handle` option and `_handle` are Node internals; the pool does the same, see
// src/wire/socket-reader.ts; without them it falls back to 'data' events).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Socket } from 'node:net';

const CHILD = new URL('../floor/pingpong-child.mjs', import.meta.url).pathname;
const MESSAGE = Buffer.from('ping-pong'); // 9 bytes: about the size of a msgpack'd no-op call

export async function create({ echo = false } = {}) {
  const child = spawn(process.execPath, [CHILD, echo ? 'echo' : 'bytes'], {
    stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
  });
  const io = echo ? echoChannel(child.stdio[3]) : pingPongChannel(child.stdio[3]);
  return {
    call: io.call,
    map() {
      throw new Error('the AF_UNIX floor has no map');
    },
    async close() {
      io.socket.end();
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

function pingPongChannel(socket) {
  let waiting = []; // { left, resolve }, oldest first
  let head = 0;
  socket.on('data', (chunk) => {
    let off = 0;
    while (off < chunk.length) {
      const w = waiting[head];
      if (!w) throw new Error(`the ping-pong child sent ${chunk.length - off} bytes nobody waits for`);
      const take = Math.min(w.left, chunk.length - off);
      w.left -= take;
      off += take;
      if (w.left > 0) break;
      waiting[head++] = undefined;
      w.resolve();
    }
    if (head > 4096 && head * 2 > waiting.length) {
      waiting = waiting.slice(head);
      head = 0;
    }
  });
  const call = () =>
    new Promise((resolve) => {
      waiting.push({ left: MESSAGE.length, resolve });
      socket.write(MESSAGE);
    });
  return { socket, call };
}

/** One echo at a time: [u32 length][bytes] out, the same back into a buffer of its size. */
function echoChannel(piped) {
  let header = Buffer.alloc(4);
  let body = null;
  let fill = 0;
  let resolve = null;
  const onread = {
    buffer: () => (body ? body.subarray(fill) : header.subarray(fill)),
    callback: (n) => {
      fill += n;
      if (body === null && fill === 4) {
        body = Buffer.allocUnsafe(header.readUInt32BE(0));
        fill = 0;
      }
      if (body !== null && fill === body.length) {
        const done = body;
        header = Buffer.alloc(4);
        body = null;
        fill = 0;
        resolve(done);
      }
      return true;
    },
  };
  let socket = piped;
  if (typeof piped._handle?.useUserBuffer === 'function') {
    const handle = piped._handle;
    piped._handle = null;
    socket = new Socket({ handle, readable: true, writable: true, onread });
  } else {
    piped.on('data', (chunk) => {
      for (let off = 0; off < chunk.length;) {
        const target = onread.buffer();
        const n = chunk.copy(target, 0, off, off + Math.min(target.length, chunk.length - off));
        off += n;
        onread.callback(n);
      }
    });
  }
  const call = (_name, arg) =>
    new Promise((res) => {
      resolve = res;
      const head = Buffer.alloc(4);
      head.writeUInt32BE(arg.length, 0);
      socket.cork();
      socket.write(head);
      socket.write(arg);
      socket.uncork();
    });
  return { socket, call };
}
