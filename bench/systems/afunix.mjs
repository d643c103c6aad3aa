// The bare AF_UNIX ping-pong (issue 17's floor for round trip and pipelined throughput): a Node parent and one
// Node child joined by a socketpair (the child's fd 3), the child echoing bytes. A call is a tiny fixed-size
// message (or, for echo, the Buffer itself); it resolves when as many bytes have come back. Replies come back
// in order, so a FIFO of waiters is the whole protocol: no framing, no msgpack, no ids, no pool logic.
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const CHILD = new URL('../floor/pingpong-child.mjs', import.meta.url).pathname;
const MESSAGE = Buffer.from('ping-pong'); // 9 bytes: about the size of a msgpack'd no-op call

export async function create() {
  const child = spawn(process.execPath, [CHILD], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
  const socket = child.stdio[3];
  let waiting = []; // { left, buf, fill, resolve }, oldest first
  let head = 0;
  socket.on('data', (chunk) => {
    let off = 0;
    while (off < chunk.length) {
      const w = waiting[head];
      if (!w) throw new Error(`the ping-pong child sent ${chunk.length - off} bytes nobody waits for`);
      const take = Math.min(w.left, chunk.length - off);
      if (w.buf) w.fill += chunk.copy(w.buf, w.fill, off, off + take);
      w.left -= take;
      off += take;
      if (w.left > 0) break;
      waiting[head++] = undefined;
      w.resolve(w.buf);
    }
    if (head > 4096 && head * 2 > waiting.length) {
      waiting = waiting.slice(head);
      head = 0;
    }
  });
  const call = (name, arg) => {
    const payload = name === 'echo' ? arg : MESSAGE;
    return new Promise((resolve) => {
      waiting.push({
        left: payload.length,
        buf: name === 'echo' ? Buffer.allocUnsafe(payload.length) : undefined,
        fill: 0,
        resolve,
      });
      socket.write(payload);
    });
  };
  return {
    call,
    map() {
      throw new Error('the AF_UNIX ping-pong has no map');
    },
    async close() {
      socket.end();
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}
