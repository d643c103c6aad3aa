// A stream task's flow control is the worker's to follow, and a hostile task controls its worker: it can write
// frames of its own on the channel. The pool must not buffer what the credits did not allow.
import { afterAll, describe, expect, it } from 'vitest';
import { ProtocolError, UnitPool } from '../../src/index.js';

const pool = new UnitPool({ maxWorkers: 1 });
afterAll(() => pool.shutdown());

/**
 * The attack: learn the running task's id by sniffing the worker's own Progress frame (Socket.prototype.write is
 * the task's to patch), then write 2,000 Item frames of 64 KiB for that id straight to fd 3, ignoring the window.
 */
async function* floodItems(): AsyncGenerator<number> {
  const net = await import('node:net');
  const { writeSync } = await import('node:fs');
  const spec = 'unitpool/worker';
  const { progress } = (await import(spec)) as { progress: (v: unknown) => Promise<void> };
  let taskId: number | undefined;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- the attack patches the method and calls the original
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
    // frames: [u32 length][u32 channel][payload]; a Progress payload is [6, taskId, 'sniff'] (fixarray 0x93)
    for (let at = 0; Buffer.isBuffer(chunk) && at + 8 <= chunk.length; at += 8 + chunk.readUInt32BE(at)) {
      const p = at + 8;
      if (chunk[p] === 0x93 && chunk[p + 1] === 0x06)
        taskId = chunk[p + 2] === 0xce ? chunk.readUInt32BE(p + 3) : chunk[p + 2];
    }
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof write;
  await progress('sniff');
  for (let i = 0; i < 100 && taskId === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  net.Socket.prototype.write = write;
  if (taskId === undefined) throw new Error('no task id sniffed');
  const data = Buffer.alloc(64 * 1024, 1);
  const body = Buffer.alloc(12); // 0x93 0x07 0xce id(4) 0xc6 length(4)
  body[0] = 0x93; // fixarray(3)
  body[1] = 0x07; // Item
  body[2] = 0xce; // uint32 task id
  body.writeUInt32BE(taskId, 3);
  body[7] = 0xc6; // bin32
  body.writeUInt32BE(data.length, 8);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(body.length + data.length, 0);
  const frame = Buffer.concat([header, body, data]);
  // fd 3 is non-blocking: when the socket is full, wait and go on (the pool reads, until it cuts this worker off)
  for (let i = 0, at = 0; i < 2000;) {
    try {
      at += writeSync(3, frame, at);
      if (at === frame.length) [i, at] = [i + 1, 0];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      await new Promise((r) => setTimeout(r, 1));
    }
  }
  yield 0;
  await new Promise((r) => setTimeout(r, 10_000));
}

describe('stream flow control against a hostile task', () => {
  it('items beyond the credits granted cut the worker off (ProtocolError); they are not buffered; the pool goes on', async () => {
    const rss = process.memoryUsage().rss;
    let outcome: unknown;
    try {
      for await (const _ of pool.stream(floodItems, [], { window: 4 })) {
        // a slow consumer: the flood arrives while it waits
        await new Promise((r) => setTimeout(r, 2000));
      }
      outcome = 'ended';
    } catch (err) {
      outcome = err;
    }
    expect(outcome).toBeInstanceOf(ProtocolError);
    expect((outcome as Error).message).toMatch(/more stream items than it was granted credits for/);
    // 2,000 x 64 KiB is 125 MiB: none of it stayed here
    expect((process.memoryUsage().rss - rss) / 2 ** 20).toBeLessThan(60);
    expect(await pool.submit(() => 'next')).toBe('next');
  });
});
