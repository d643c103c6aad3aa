// The escape suite, task against task: under preset 'untrusted' (a unit and a dynamic uid per worker), a hostile
// task tries to read another task's arguments from its worker's memory, to kill it, and to leave state behind for
// the tasks after it. Each attack must fail, and the victim must finish as if nothing happened.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnitPool } from '../../src/index.js';
import { startPool } from '../properties-enforced/helpers.js';
import { holdSecret, readSiblings, signalOthers, tamper, visibleProcesses } from './attacks.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The pids of the pool's workers, once `n` of them have one. */
async function workerPids(pool: UnitPool, n: number): Promise<number[]> {
  for (let i = 0; i < 200; i++) {
    const pids = pool.stats().workers.flatMap((w) => (w.pid ? [w.pid] : []));
    if (pids.length >= n) return pids;
    await sleep(25);
  }
  throw new Error(`fewer than ${n} workers have a pid: ${JSON.stringify(pool.stats().workers)}`);
}

describe("preset: 'untrusted': a task cannot reach another task", () => {
  let pool: UnitPool;
  beforeAll(async () => {
    pool = await startPool({ preset: 'untrusted', maxWorkers: 2 });
  });
  afterAll(() => pool?.shutdown());

  it("cannot read another worker's memory, command line or environment (another caller's arguments)", async () => {
    const secret = `secret-${randomUUID()}`;
    const victim = pool.submit(holdSecret, [secret, 3000]);
    await sleep(300);
    const attack = await pool.submit(readSiblings, [await workerPids(pool, 2), secret]);
    expect(attack.found).toEqual([]);
    await expect(victim).resolves.toMatch(/held by/);
  });

  it('cannot see any other process of the pool: no other worker, no supervisor', async () => {
    const victim = pool.submit(holdSecret, ['x', 2000]);
    await sleep(300);
    const pids = await workerPids(pool, 2);
    const seen = await pool.submit(visibleProcesses);
    expect(seen.filter((p) => pids.includes(p.pid) || /unitpool|supervisor|worker\.js/.test(p.cmd))).toEqual([]);
    await victim;
  });

  it('cannot signal another worker: the kill is refused and the victim finishes', async () => {
    const victim = pool.submit(holdSecret, ['x', 2000]);
    await sleep(300);
    const answers = await pool.submit(signalOthers, [await workerPids(pool, 2), 'SIGKILL']);
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.filter((a) => a === 'sent')).toEqual([]);
    await expect(victim).resolves.toMatch(/held by/);
  });
});

describe("isolation: 'pool' is one trust domain", () => {
  it("isolation: 'pool': the workers share the unit's uid, so a task can signal another (one trust domain)", async () => {
    const pool = await startPool({ preset: 'untrusted', isolation: 'pool', maxWorkers: 2 });
    try {
      const victim = pool.submit(holdSecret, ['x', 3000]).catch((e: unknown) => e);
      await sleep(300);
      const answers = await pool.submit(signalOthers, [await workerPids(pool, 2), 'SIGKILL']);
      expect(answers).toContain('sent');
      expect(await victim).toMatchObject({ name: 'WorkerExitedError', signal: 'SIGKILL' });
    } finally {
      await pool.shutdown();
    }
  });
});

describe('state from one task to the next', () => {
  it('fresh: true: every task runs in a process no earlier task touched (patched globals, prototypes and eval are gone)', async () => {
    const pool = await startPool({ preset: 'untrusted', fresh: true, maxWorkers: 2 });
    try {
      const runs = [];
      for (let i = 0; i < 5; i++) runs.push(await pool.submit(tamper));
      expect(new Set(runs.map((r) => r.pid)).size).toBe(5);
      expect(runs.flatMap((r) => r.before)).toEqual([]);
    } finally {
      await pool.shutdown();
    }
  });

  it('without fresh, a worker is reused, and what a task leaves in it is seen by the tasks after it (one trust domain per worker)', async () => {
    const pool = await startPool({ preset: 'untrusted', maxWorkers: 1 });
    try {
      const first = await pool.submit(tamper);
      const second = await pool.submit(tamper);
      expect(second.pid).toBe(first.pid);
      expect(second.before).toEqual(['global', 'Object.prototype', 'eval']);
    } finally {
      await pool.shutdown();
    }
  });
});
