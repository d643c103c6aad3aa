// Direct links (src/wire/direct.ts): each worker's frames travel on a link of its own to the pool's link socket,
// which the unit sees read-only at LINK_PATH; a connection is admitted only with the key drawn for that worker.
// Where no link can be opened, frames are relayed by the supervisor.
import { describe, expect, it } from 'vitest';
import { UnitPool } from '../../src/index.js';
import { LINK_PATH } from '../../src/wire/direct.js';

/** From inside a task: connects to the link socket with each of `hellos` (hex), and says what came back. */
async function knock(path: string, hellos: string[]): Promise<{ closed: boolean; received: number }[]> {
  const net = await import('node:net');
  const one = (hex: string) =>
    new Promise<{ closed: boolean; received: number }>((resolve) => {
      let received = 0;
      const sock = net.createConnection(path);
      const timer = setTimeout(() => {
        sock.destroy();
        resolve({ closed: false, received });
      }, 12_000);
      sock.on('data', (d: Buffer) => (received += d.length));
      sock.on('error', () => {});
      sock.on('close', () => {
        clearTimeout(timer);
        resolve({ closed: true, received });
      });
      sock.write(Buffer.from(hex, 'hex'));
    });
  return Promise.all(hellos.map(one));
}

async function until(ok: () => boolean): Promise<void> {
  for (let waited = 0; !ok(); waited += 10) {
    if (waited > 5000) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A well-formed hello for worker `id` with a key that was never drawn. */
function forgedHello(id: number): string {
  const b = Buffer.alloc(44, 7);
  b.writeUInt32BE(36, 0);
  b.writeUInt32BE(0, 4);
  b.writeUInt32BE(id, 40);
  return b.toString('hex');
}

describe('direct links', () => {
  it('every worker has one; the unit sees the socket read-only, and cannot unlink or replace it', async () => {
    await using pool = new UnitPool({ maxWorkers: 2, properties: { User: 'nobody' } });
    expect(await pool.submit(() => 1)).toBe(1);
    expect(pool.stats().workers.map((w) => w.channel)).toEqual(['direct', 'direct']);
    const tries = await pool.submit(
      async (path: string) => {
        const fs = await import('node:fs');
        const code = (f: () => void) => {
          try {
            f();
            return 'done';
          } catch (e) {
            return (e as NodeJS.ErrnoException).code;
          }
        };
        return {
          socket: fs.statSync(path).isSocket(),
          unlink: code(() => fs.unlinkSync(path)),
          rename: code(() => fs.renameSync(path, `${path}.x`)),
          over: code(() => fs.writeFileSync(path, 'x')),
        };
      },
      [LINK_PATH],
    );
    expect(tries.socket).toBe(true);
    expect(tries.unlink).not.toBe('done');
    expect(tries.rename).not.toBe('done');
    expect(tries.over).not.toBe('done');
  });

  it('a connection without the key drawn for a worker is closed, whatever it claims; a flood of silent ones too; the pool goes on', async () => {
    await using pool = new UnitPool({ maxWorkers: 2, properties: { User: 'nobody' } });
    expect(await pool.submit(() => 1)).toBe(1);
    // A worker's Ready (on its link) can arrive before the supervisor's Spawned report, which carries its pid.
    await until(() => pool.stats().workers.every((w) => w.pid !== undefined));
    const pids = pool.stats().workers.map((w) => w.pid);
    // Ids of the live workers, and of the next ones; then garbage, a short hello, and an oversized one.
    // With them, 100 connections that never say hello: the ones past the server's limit are closed at once, the
    // rest at its hello timeout.
    const knocks = [1, 2, 3, 4].map(forgedHello).concat(
      ['ff'.repeat(44), '00'.repeat(8), '01'.repeat(100_000)],
      Array.from({ length: 100 }, () => ''),
    );
    const answers = await pool.submit(knock, [LINK_PATH, knocks]);
    expect(
      answers.every((a) => a.closed && a.received === 0),
      JSON.stringify(answers),
    ).toBe(true);
    expect(await pool.submit((x: number) => x * 2, [21])).toBe(42);
    expect(pool.stats().workers.map((w) => w.pid)).toEqual(pids);
  });

  it('fall back to relaying when the supervisor cannot open a link (a syscall filter without connect(2))', async () => {
    await using pool = new UnitPool({
      maxWorkers: 2,
      stderr: new (await import('node:stream')).PassThrough(),
      properties: { SystemCallFilter: { deny: ['connect:EPERM'] } },
    });
    expect(await pool.submit((a: number, b: number) => a + b, [2, 3])).toBe(5);
    expect(pool.stats().workers.map((w) => w.channel)).toEqual(['relay', 'relay']);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => pool.submit((x: number) => x + 1, [i])));
    expect(results[199]).toBe(200);
  });
});
