// Faults of a cluster, for real: an agent killed with SIGKILL mid-run, Redis restarted mid-run (append-only file
// on), an agent stopped with SIGTERM while it runs a task, and how much a cluster leaves in Redis. Two agents,
// delta and epsilon, each in its own `unitpool sandbox`, with short locks so that a dead agent's jobs come back
// within seconds.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterPool } from '../../src/cluster/index.js';
import { canRun, removeScratch, ROOT, scratch, skipReason, TestAgent, TestRedis, writeModules } from './helpers.js';
import { JOBS } from './modules.js';

const SLOW = { module: 'jobs.mjs', name: 'slow' };

describe.skipIf(!canRun)(`cluster faults${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let dir: string;
  let redis: TestRedis;
  const agents = new Map<string, TestAgent>();
  const mods = () => join(dir, 'mods');

  const startAgent = async (name: string, queue = 'faults', extra: string[] = []) => {
    const agent = await TestAgent.start({
      name,
      redis: redis.url,
      queue,
      flags: [
        '--modules',
        mods(),
        '--env',
        `AGENT=${name}`,
        '--workers',
        '2',
        '--lock-duration',
        '1500',
        '-c',
        '50%',
        ...extra,
      ],
    });
    agents.set(name, agent);
    return agent;
  };

  beforeAll(async () => {
    dir = scratch('faults');
    writeModules(mods(), { 'jobs.mjs': JOBS });
    redis = await TestRedis.start(dir, { persist: true });
    await Promise.all([startAgent('delta'), startAgent('epsilon')]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.stop()));
    await redis?.stop();
    if (dir) removeScratch(dir);
  }, 60_000);

  it('an agent killed with SIGKILL mid-run: its tasks run on the other, and every caller gets exactly one answer', async () => {
    await using pool = new ClusterPool({ connection: redis.url, queue: 'faults' });
    const answers = new Map<number, number>();
    const hosts: string[] = [];
    const tasks = Array.from({ length: 24 }, (_, i) =>
      pool.submit(SLOW, [i, 400]).then((r: { i: number; host: string }) => {
        answers.set(r.i, (answers.get(r.i) ?? 0) + 1);
        hosts.push(r.host);
        return r;
      }),
    );
    // once delta has answered some, it dies with tasks running
    for (let i = 0; i < 200 && !hosts.includes('delta'); i++) await new Promise((r) => setTimeout(r, 25));
    expect(hosts).toContain('delta');
    let running = 0;
    for (let i = 0; i < 200 && running === 0; i++) running = (await pool.stats()).hosts.delta?.running ?? 0;
    expect(running).toBeGreaterThan(0);
    const beforeKill = hosts.length;
    agents.get('delta')!.killAgentProcess();
    const results = await Promise.all(tasks);
    expect(results.map((r) => r.i)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect([...answers.values()].every((n) => n === 1)).toBe(true);
    expect(answers.size).toBe(24);
    expect(hosts.length).toBe(24);
    expect(beforeKill).toBeLessThan(24);
    // the tasks that were running on delta when it died were answered by epsilon
    expect(hosts.slice(beforeKill)).toContain('epsilon');
    await agents.get('delta')!.exited;
    agents.delete('delta');
  }, 90_000);

  it('Redis restarted mid-run: clients and agents reconnect, running and waiting submits complete', async () => {
    await using pool = new ClusterPool({ connection: redis.url, queue: 'faults' });
    expect(await pool.submit({ module: 'jobs.mjs', name: 'square' }, [4])).toBe(16);
    const tasks = Array.from({ length: 12 }, (_, i) => pool.submit(SLOW, [i, 300]));
    await new Promise((r) => setTimeout(r, 500));
    await redis.stop();
    // submitted while Redis is down: waits for it
    const during = pool.submit(SLOW, [100, 10]);
    await new Promise((r) => setTimeout(r, 1000));
    await redis.restart();
    const results = (await Promise.all(tasks)) as { i: number }[];
    expect(results.map((r) => r.i)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(await during).toMatchObject({ i: 100, host: 'epsilon' });
    expect(await pool.submit({ module: 'jobs.mjs', name: 'square' }, [5])).toBe(25);
  }, 90_000);

  it('bounds what finished jobs leave in Redis, also when their client is gone', async () => {
    const queue = 'retention';
    const agent = await startAgent('zeta', queue, ['--concurrency', '4']);
    const pool = new ClusterPool({ connection: redis.url, queue, retention: { count: 10 }, eventsMaxLen: 50 });
    const square = { module: 'jobs.mjs', name: 'square' };
    // In batches of 5: a client reads results from an event stream trimmed to eventsMaxLen (50 here), and a result
    // whose events were trimmed before it read them is found only while its job is among the `retention` kept ones;
    // 150 at once on a loaded 2-core machine could fall that far behind.
    for (let b = 0; b < 150; b += 5)
      await Promise.all(Array.from({ length: 5 }, (_, i) => pool.submit(square, [b + i])));
    await pool.shutdown();
    // a client that submits and dies without reading its results
    const script = join(dir, 'dies.mjs');
    writeFileSync(
      script,
      `import { ClusterPool } from ${JSON.stringify(join(ROOT, 'dist/src/cluster/index.js'))};\n` +
        `const pool = new ClusterPool({ connection: ${JSON.stringify(redis.url)}, queue: '${queue}', retention: { count: 10 } });\n` +
        `for (let i = 0; i < 30; i++) pool.submit({ module: 'jobs.mjs', name: 'square' }, [i]).catch(() => {});\n` +
        `await pool.ready(); await new Promise((r) => setTimeout(r, 200)); process.exit(0);\n`,
    );
    execFileSync(process.execPath, [script], { stdio: 'inherit', timeout: 30_000 });
    for (
      let i = 0;
      i < 100 &&
      Number(redis.cli('LLEN', `bull:${queue}:wait`)) + Number(redis.cli('LLEN', `bull:${queue}:active`)) > 0;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(Number(redis.cli('ZCARD', `bull:${queue}:completed`))).toBeLessThanOrEqual(10);
    const jobKeys = redis
      .cli('--scan', '--pattern', `bull:${queue}:*`)
      .split('\n')
      .filter((k) => /^bull:[^:]+:[0-9a-f]{12}-\d+$/.test(k));
    expect(jobKeys.length).toBeLessThanOrEqual(10);
    // BullMQ trims the event stream approximately (XADD MAXLEN ~: whole stream nodes of up to 100 entries go), so
    // it keeps up to about two nodes beyond eventsMaxLen; 180 jobs wrote more than 700 events
    expect(Number(redis.cli('XLEN', `bull:${queue}:events`))).toBeLessThanOrEqual(50 + 200);
    await agent.stop();
    agents.delete('zeta');
  }, 90_000);

  it('SIGTERM past --stop-timeout: the agent hands its running job back, and another agent answers it', async () => {
    const queue = 'handback';
    const eta = await startAgent('eta', queue, ['--stop-timeout', '300']);
    await using pool = new ClusterPool({ connection: redis.url, queue });
    const task = pool.submit(SLOW, [1, 2500]);
    let running = 0;
    for (let i = 0; i < 200 && running === 0; i++) running = (await pool.stats()).hosts.eta?.running ?? 0;
    expect(running).toBe(1);
    expect(await eta.stop()).toBe(0);
    agents.delete('eta');
    expect(eta.output).toMatch(/handing 1 running job\(s\) back to the queue/);
    await startAgent('theta', queue);
    expect(await task).toMatchObject({ i: 1, host: 'theta' });
    await agents.get('theta')!.stop();
    agents.delete('theta');
  }, 90_000);

  it('a host whose unit died: its job runs again elsewhere (attempts: 2), and that agent stops with status 1', async () => {
    const queue = 'broken';
    const [iota] = await Promise.all([startAgent('iota', queue), startAgent('kappa', queue)]);
    iota!.inSandbox('systemctl', 'stop', iota!.unit);
    await using pool = new ClusterPool({ connection: redis.url, queue, attempts: 2 });
    const results: { host: string }[] = [];
    for (let i = 0; i < 20 && iota!.launcher.exitCode === null; i++) {
      results.push(...((await Promise.all([0, 1, 2, 3].map((j) => pool.submit(SLOW, [j, 50])))) as { host: string }[]));
    }
    await iota!.exited;
    expect(iota!.launcher.exitCode).toBe(1);
    expect(iota!.output).toMatch(/stopped: its pool broke/);
    expect(results.length).toBeGreaterThan(0);
    expect(results.every((r) => r.host === 'kappa')).toBe(true);
    agents.delete('iota');
    await agents.get('kappa')!.stop();
    agents.delete('kappa');
  }, 90_000);

  it('SIGTERM: the agent finishes its running task, stops its unit and exits 0', async () => {
    await using pool = new ClusterPool({ connection: redis.url, queue: 'faults' });
    const epsilon = agents.get('epsilon')!;
    const task = pool.submit(SLOW, [7, 1500]);
    await new Promise((r) => setTimeout(r, 500));
    const stopping = epsilon.stop();
    expect(await task).toMatchObject({ i: 7, host: 'epsilon' });
    expect(await stopping).toBe(0);
    expect(epsilon.output).toMatch(/SIGTERM: finishing the running jobs/);
    agents.delete('epsilon');
  }, 60_000);
});
