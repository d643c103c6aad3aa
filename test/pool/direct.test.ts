// Direct worker connections (src/wire/direct.ts): the pool connects to each worker through a socket in the unit's
// runtime directory, admitted by a token only the pool knows; where that cannot work, frames are relayed.
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { describe, expect, it } from 'vitest';
import { UnitPool } from '../../src/index.js';
import { encodeDirectHello } from '../../src/wire/direct.js';

function socketPath(pool: UnitPool): string {
  return `/run/${pool.unit!.name.replace(/\.service$/, '')}/pool.sock`;
}

/** Connects, writes `bytes`, and resolves with what came back once the supervisor closed the connection. */
function knock(path: string, bytes: Buffer): Promise<{ closed: boolean; received: number }> {
  return new Promise((resolve) => {
    let received = 0;
    const sock = createConnection(path);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ closed: false, received });
    }, 5000);
    sock.on('data', (d: Buffer) => (received += d.length));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, received });
    });
    sock.write(bytes);
  });
}

async function until(ok: () => boolean): Promise<void> {
  for (let waited = 0; !ok(); waited += 10) {
    if (waited > 5000) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('direct worker connections', () => {
  it('connect the pool to each worker through the unit runtime directory, which workers do not see and systemd removes', async () => {
    const pool = new UnitPool({ maxWorkers: 2, properties: { RuntimeDirectory: ['unitpool-test-rt'] } });
    expect(await pool.submit(() => process.env.RUNTIME_DIRECTORY)).toBe('/run/unitpool-test-rt');
    expect(pool.stats().workers.map((w) => w.channel)).toEqual(['direct', 'direct']);
    const path = socketPath(pool);
    expect(existsSync(path)).toBe(true);
    await pool.shutdown();
    expect(existsSync(path)).toBe(false);
  });

  it('close a connection without the token, and the pool goes on', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    expect(await pool.submit(() => 1)).toBe(1);
    const path = socketPath(pool);
    // A worker's Ready (on its link) can arrive before the supervisor's Spawned report, which carries its pid.
    await until(() => pool.stats().workers.every((w) => w.pid !== undefined));
    const pids = pool.stats().workers.map((w) => w.pid);
    // A well-formed hello with a wrong token, for the next worker id and for the running one; then garbage.
    for (const id of [1, 2]) expect(await knock(path, encodeDirectHello(Buffer.alloc(32, 7), id))).toEqual({ closed: true, received: 0 });
    expect(await knock(path, Buffer.alloc(44, 0xff))).toEqual({ closed: true, received: 0 });
    expect((await knock(path, Buffer.alloc(100_000, 1))).closed).toBe(true);
    expect(await pool.submit((x: number) => x * 2, [21])).toBe(42);
    expect(pool.stats().workers.map((w) => w.pid)).toEqual(pids);
  });

  it('fall back to relaying when the supervisor cannot listen (a syscall filter without listen(2))', async () => {
    await using pool = new UnitPool({ maxWorkers: 2, properties: { SystemCallFilter: { deny: ['listen:EPERM'] } } });
    expect(await pool.submit((a: number, b: number) => a + b, [2, 3])).toBe(5);
    expect(pool.stats().workers.map((w) => w.channel)).toEqual(['relay', 'relay']);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => pool.submit((x: number) => x + 1, [i])));
    expect(results[199]).toBe(200);
  });
});
