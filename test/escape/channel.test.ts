// The escape suite, the pool's channel: a hostile task of a pool with one unit (isolation: 'pool', where all tasks
// share the unit's uid) tries to take over the links between the pool and its workers, and to break the pool by
// killing the unit's supervisor. Each attack must fail, and the pool must go on answering.
import { afterAll, describe, expect, it } from 'vitest';
import { UnitPool, WorkerExitedError } from '../../src/index.js';
import { startPool } from '../properties-enforced/helpers.js';
import { killParent, plantListeners, readLog } from './attacks.js';

const pools: UnitPool[] = [];
afterAll(() => Promise.all(pools.map((p) => p.shutdown())));
async function pool(options: ConstructorParameters<typeof UnitPool>[0]): Promise<UnitPool> {
  const p = await startPool(options);
  pools.push(p);
  return p;
}
const doubled = (n: number) => Array.from({ length: n }, (_, i) => i * 2);

describe("the links between pool and workers (isolation: 'pool')", () => {
  it('a task that replaces every socket it can reach under /run with its own listener gets no connection from the pool, and no task or result goes astray', async () => {
    const p = await pool({ preset: 'untrusted', isolation: 'pool', maxWorkers: 2 });
    const log = '/tmp/unitpool-hijack.log';
    const taken = await p.submit(plantListeners, [log]);
    // New workers: the task ends its own worker twice, and the pool starts replacements (each needs a link).
    for (let i = 0; i < 2; i++)
      await p.submit(() => process.exit(3)).catch((e: unknown) => expect(e).toBeInstanceOf(WorkerExitedError));
    const results = await Promise.all(
      doubled(8).map((_, i) => p.submit((x: number) => x * 2, [i], { timeout: 10_000 })),
    );
    expect(results).toEqual(doubled(8));
    expect(await p.submit(readLog, [log]), `the task took over ${taken.join(', ') || 'nothing'}`).toBe('');
  });
});

describe('a task that kills the supervisor', () => {
  it("isolation: 'pool': only the running tasks fail, with reason 'supervisor-exit'; the pool starts a fresh unit and goes on", async () => {
    const p = await pool({ preset: 'untrusted', isolation: 'pool', maxWorkers: 2 });
    const first = p.unit!.name;
    const err = await p.submit(killParent).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err).toMatchObject({ reason: 'supervisor-exit', unit: first });
    expect(
      await Promise.all(doubled(6).map((_, i) => p.submit((x: number) => x * 2, [i], { timeout: 20_000 }))),
    ).toEqual(doubled(6));
    expect(p.unit!.name).not.toBe(first);
  });

  it("preset 'untrusted' (a unit per worker): there is no supervisor to kill; the parent refuses the signal", async () => {
    const p = await pool({ preset: 'untrusted', maxWorkers: 1 });
    expect(await p.submit(killParent)).toBe('EPERM');
    expect(await p.submit((a: number) => a + 1, [1])).toBe(2);
  });
});
