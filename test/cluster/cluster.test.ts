// The cluster across three simulated hosts, each `unitpool agent` in its own `unitpool sandbox` with its own
// confinement, against a real redis-server of the test's own:
//   alpha  queue main    --allow-source, MemoryMax 200M
//   beta   queue main    --allow-source, PrivateNetwork, User=nobody
//   gamma  queue strict  modules only, MemoryMax 150M (the OOM host)
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterPool,
  JobFailedError,
  MalformedJobError,
  ModuleRefusedError,
  PayloadTooLargeError,
  reviveRemoteError,
  SourceRefusedError,
} from '../../src/cluster/index.js';
import { decodeOutcome, encodeJob } from '../../src/cluster/job.js';
import { TaskTimeoutError, WorkerExitedError } from '../../src/errors.js';
import { canRun, removeScratch, scratch, skipReason, TestAgent, TestRedis, writeModules } from './helpers.js';
import { JOBS } from './modules.js';

/** The outcome of a job added by hand, once an agent answered it. */
async function finished(queue: Queue, id: string): Promise<ReturnType<typeof decodeOutcome>> {
  for (let i = 0; i < 200; i++) {
    const job = await queue.getJob(id);
    if (job?.finishedOn) return decodeOutcome(id, job.returnvalue, 1 << 20);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${id} was not answered`);
}

describe.skipIf(!canRun)(`cluster over three agents${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let dir: string;
  let redis: TestRedis;
  let agents: TestAgent[] = [];
  let main: ClusterPool;
  let strict: ClusterPool;
  const mods = () => join(dir, 'mods');

  beforeAll(async () => {
    dir = scratch('cluster');
    writeModules(mods(), { 'jobs.mjs': JOBS });
    writeFileSync(join(dir, 'outside.mjs'), 'export function secret() { return "outside"; }\n');
    symlinkSync('../outside.mjs', join(mods(), 'escape.mjs'));
    redis = await TestRedis.start(dir);
    const common = (name: string) => ['--modules', mods(), '--env', `AGENT=${name}`, '--workers', '2'];
    agents = await Promise.all([
      TestAgent.start({
        name: 'alpha',
        redis: redis.url,
        queue: 'main',
        flags: [...common('alpha'), '--allow-source', '-m', '200M'],
      }),
      TestAgent.start({
        name: 'beta',
        redis: redis.url,
        queue: 'main',
        flags: [...common('beta'), '--allow-source', '--no-network', '-p', 'User=nobody'],
      }),
      TestAgent.start({
        name: 'gamma',
        redis: redis.url,
        queue: 'strict',
        flags: [...common('gamma'), '-m', '150M', '--max-payload', '65536'],
      }),
    ]);
    main = new ClusterPool({ connection: redis.url, queue: 'main', modules: mods() });
    strict = new ClusterPool({ connection: redis.url, queue: 'strict', maxPayload: 1024 * 1024 });
    await Promise.all([main.ready(), strict.ready()]);
  }, 120_000);

  afterAll(async () => {
    await main?.shutdown({ cancelPending: true });
    await strict?.shutdown({ cancelPending: true });
    const codes = await Promise.all(agents.map((a) => a.stop()));
    await redis?.stop();
    if (dir) removeScratch(dir);
    expect(codes.every((c) => c === 0)).toBe(true);
  }, 60_000);

  it('spreads tasks over the agents, each running them in its own confinement', async () => {
    const slow = { module: join(mods(), 'jobs.mjs'), name: 'slow' };
    const tasks = Array.from({ length: 24 }, (_, i) => main.submit(slow, [i, 150]));
    const results = (await Promise.all(tasks)) as { i: number; host: string }[];
    expect(results.map((r) => r.i)).toEqual(Array.from({ length: 24 }, (_, i) => i));
    const hosts = new Set(results.map((r) => r.host));
    expect([...hosts].sort()).toEqual(['alpha', 'beta']);
    // what each host's confinement looks like from inside its tasks
    const where = { module: 'jobs.mjs', name: 'where' };
    const seen = new Map<string, { uid: number; interfaces: string[] }>();
    for (let round = 0; round < 20 && seen.size < 2; round++) {
      for (const r of (await Promise.all(Array.from({ length: 8 }, (_, i) => main.submit(where, [i])))) as {
        host: string;
        uid: number;
        interfaces: string[];
      }[])
        seen.set(r.host, r);
    }
    expect(seen.get('alpha')!.uid).toBe(0);
    expect(seen.get('beta')!.uid).toBe(65534);
    expect(seen.get('beta')!.interfaces).toEqual(['lo']);
    const stats = await main.stats();
    expect(stats.hosts.alpha!.done + stats.hosts.beta!.done).toBeGreaterThanOrEqual(24);
    expect(stats.pending).toBe(0);
  });

  it('runs functions sent as source text on agents with --allow-source, and map() in order', async () => {
    expect(await main.submit((a: number, b: bigint) => [a + 1, b * 2n], [1, 21n])).toEqual([2, 42n]);
    const out: number[] = [];
    for await (const y of main.map(
      (x: number) => x * x,
      Array.from({ length: 50 }, (_, i) => i),
      { chunksize: 7 },
    ))
      out.push(y);
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i * i));
  });

  it('map() pulls lazily with a bounded number of jobs in flight, and leaving the loop cancels what has not started', async () => {
    await using pool = new ClusterPool({ connection: redis.url, queue: 'main', maxInFlight: 6 });
    let pulled = 0;
    function* items() {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield i;
      }
    }
    const seen: number[] = [];
    for await (const r of pool.map({ module: 'jobs.mjs', name: 'slow' }, items(), { chunksize: 1 }) as AsyncIterable<{
      i: number;
    }>) {
      // slow(i) gets one argument here: its ms is undefined, a 0 ms wait
      seen.push(r.i);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(pulled).toBeLessThanOrEqual(3 + 6 + 1);
    const raw = new Queue('main', { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      let waiting = await raw.getWaitingCount();
      for (let i = 0; i < 40 && waiting > 0; i++)
        waiting = await new Promise((r) => setTimeout(r, 50)).then(() => raw.getWaitingCount());
      expect(waiting).toBe(0);
    } finally {
      await raw.close();
    }
    expect((await pool.stats()).done).toBeLessThanOrEqual(10);
  });

  it("caps the cluster with BullMQ's global concurrency and rate limit", async () => {
    const span = { module: 'jobs.mjs', name: 'span' };
    const raw = new Queue('main', { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      {
        await using capped = new ClusterPool({ connection: redis.url, queue: 'main', concurrency: 1 });
        await capped.ready();
        const spans = (await Promise.all(Array.from({ length: 5 }, () => capped.submit(span, [150])))) as {
          start: number;
          end: number;
        }[];
        spans.sort((a, b) => a.start - b.start);
        for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end - 5); // one at a time, cluster-wide
      }
      await raw.removeGlobalConcurrency();
      {
        await using limited = new ClusterPool({
          connection: redis.url,
          queue: 'main',
          rateLimit: { max: 2, duration: 1000 },
        });
        await limited.ready();
        const spans = (await Promise.all(Array.from({ length: 5 }, () => limited.submit(span, [1])))) as {
          start: number;
        }[];
        const starts = spans.map((x) => x.start).sort((a, b) => a - b);
        expect(starts[4]! - starts[0]!).toBeGreaterThanOrEqual(1900); // 2 per second: the 5th starts in the third second
      }
    } finally {
      await raw.removeGlobalConcurrency();
      await raw.removeGlobalRateLimit();
      await raw.close();
    }
  });

  it('times out and aborts jobs no agent has taken yet: off the queue, rejected at once', async () => {
    const span = { module: 'jobs.mjs', name: 'span' };
    const busy = [strict.submit(span, [1500]), strict.submit(span, [1500])]; // gamma's two workers
    await new Promise((r) => setTimeout(r, 300));
    const t = Date.now();
    const late = await strict.submit(span, [1], { timeout: 300 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(TaskTimeoutError);
    expect((late as { host?: string }).host).toBeUndefined(); // no agent ran it
    expect(Date.now() - t).toBeLessThan(1000);
    const controller = new AbortController();
    const aborted = strict.submit(span, [1], { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('changed my mind')), 100);
    expect(await aborted).toMatchObject({ message: 'changed my mind' });
    const done = (await Promise.all(busy)) as { end: number }[];
    const raw = new Queue('strict', { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      expect(await raw.getWaitingCount()).toBe(0); // neither was left behind to run later
    } finally {
      await raw.close();
    }
    expect(done).toHaveLength(2);
  });

  it('refuses source text on an agent without --allow-source, with a clear error class', async () => {
    const err = await strict.submit((x: number) => x, [1]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceRefusedError);
    expect(err).toMatchObject({ host: 'gamma', code: 'ERR_UNITPOOL_SOURCE_REFUSED' });
    expect((err as Error).message).toMatch(/--allow-source/);
  });

  it("resolves modules only inside the agent's --modules directory", async () => {
    // the client refuses absolute references outside its copy of the directory (strict has none) ...
    await expect(strict.submit({ module: '/etc/passwd', name: 'x' }, [])).rejects.toThrow(
      /relative to their --modules directory/,
    );
    // ... and the agent refuses every escape, whatever a writer of the queue puts in the job
    const raw = new Queue('strict', { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      for (const module of [
        '../outside.mjs',
        'sub/../../outside.mjs',
        '/etc/passwd',
        'file:///etc/passwd',
        'escape.mjs',
        'missing.mjs',
        'a\\b.mjs',
      ]) {
        const data = encodeJob({ fn: ['m', module, 'secret'], call: 'call', values: [], timeout: null }, 1 << 20);
        const job = await raw.add('call', data);
        const outcome = await finished(raw, job.id!);
        expect(outcome.host, module).toBe('gamma');
        const err = reviveRemoteError(outcome.value, outcome.host);
        expect(err, module).toBeInstanceOf(ModuleRefusedError);
        expect(err, module).toMatchObject({ module });
      }
    } finally {
      await raw.close();
    }
    expect(await strict.submit({ module: 'jobs.mjs', name: 'square' }, [12])).toBe(144);
  });

  it('brings remote errors back as the same classes, with the host', async () => {
    const fail = await strict.submit({ module: 'jobs.mjs', name: 'fail' }, ['E_NOPE']).catch((e: unknown) => e);
    expect(fail).toBeInstanceOf(RangeError);
    expect(fail).toMatchObject({ name: 'RangeError', message: 'no such thing', code: 'E_NOPE', host: 'gamma' });
    expect((fail as Error).cause).toMatchObject({ message: 'the root cause' });
    expect((fail as { detail: unknown }).detail).toEqual({ when: new Date(0), bytes: Buffer.from('abc') });
    expect((fail as Error).stack).toMatch(/jobs\.mjs/);

    const timeout = await strict
      .submit({ module: 'jobs.mjs', name: 'spin' }, [10_000], { timeout: 500 })
      .catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(TaskTimeoutError);
    expect(timeout).toMatchObject({ timeout: 500, host: 'gamma' });

    const died = await strict.submit({ module: 'jobs.mjs', name: 'die' }, []).catch((e: unknown) => e);
    expect(died).toBeInstanceOf(WorkerExitedError);
    expect(died).toMatchObject({ reason: 'signal', signal: 'SIGKILL', host: 'gamma' });
  });

  it('reruns a job whose worker died while attempts remain', async () => {
    await using retrying = new ClusterPool({ connection: redis.url, queue: 'strict', attempts: 2 });
    const err = await retrying.submit({ module: 'jobs.mjs', name: 'die' }, ['twice']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerExitedError);
    const raw = new Queue('strict', { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      const jobs = await raw.getJobs(['completed']);
      const job = jobs.find((j) => j.opts.attempts === 2);
      expect(job?.attemptsStarted).toBe(2);
    } finally {
      await raw.close();
    }
  });

  it('reports an OOM kill on one host with that host, and the host goes on', async () => {
    const err = await strict.submit({ module: 'jobs.mjs', name: 'hog' }, []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err).toMatchObject({ reason: 'oom-kill', host: 'gamma' });
    expect((err as Error).message).toMatch(/OOM/);
    expect(await strict.submit({ module: 'jobs.mjs', name: 'square' }, [3])).toBe(9);
  });

  it('refuses payloads over the limit: at submit on the client, on the agent for what it reads and sends', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024);
    const atSubmit = await strict.submit({ module: 'jobs.mjs', name: 'echo' }, [big]).catch((e: unknown) => e);
    expect(atSubmit).toBeInstanceOf(PayloadTooLargeError);
    expect(atSubmit).toMatchObject({ what: 'args', limit: 1024 * 1024 });
    // gamma's own limit is 64 KiB: it refuses to read this one
    const atAgent = await strict
      .submit({ module: 'jobs.mjs', name: 'echo' }, [Buffer.alloc(200 * 1024)])
      .catch((e: unknown) => e);
    expect(atAgent).toBeInstanceOf(PayloadTooLargeError);
    expect(atAgent).toMatchObject({ host: 'gamma', limit: 65536 });
  });

  it('fails a malformed job alone: the agent goes on with the next ones', async () => {
    const raw = new Queue('strict', { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      const junk = [
        { u: 1, p: '!!!' },
        { u: 1, p: Buffer.from('\xc1\xc1').toString('base64') },
        'text',
        { u: 1, p: 12 },
        { u: 1 },
      ];
      const jobs = await Promise.all(junk.map((data, i) => raw.add('junk', data, { jobId: `junk-${i}` })));
      const good = strict.submit({ module: 'jobs.mjs', name: 'square' }, [5]);
      expect(await good).toBe(25);
      for (const job of jobs) {
        const outcome = await finished(raw, job.id!);
        expect(outcome).toMatchObject({ ok: false, host: 'gamma' });
        expect(reviveRemoteError(outcome.value, outcome.host)).toBeInstanceOf(MalformedJobError);
      }
    } finally {
      await raw.close();
    }
  });

  it('fails a job whose outcome is malformed, and nothing else, on the client', async () => {
    // a hostile "agent": a plain BullMQ worker that answers junk, on a queue of its own
    const replies: unknown[] = [
      { u: 1, h: 'evil', ok: true, p: '@@@' },
      'junk',
      { u: 1, h: 'x'.repeat(300), ok: true, p: '' },
      null,
    ];
    const hostile = new Worker(
      'hostile',
      async (job) =>
        job.data.u === 1 && replies.length > 0
          ? replies.shift()
          : { u: 1, h: 'evil', ok: true, p: Buffer.from([0x2a]).toString('base64') },
      {
        connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null },
        concurrency: 1,
      },
    );
    await using client = new ClusterPool({ connection: redis.url, queue: 'hostile' });
    try {
      for (let i = 0; i < 4; i++) {
        const err = await client.submit({ module: 'x.mjs', name: 'f' }, [i]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(MalformedJobError);
      }
      // an event that is not even JSON kills QueueEvents' reading loop: the client starts a new one
      redis.cli('XADD', 'bull:hostile:events', '*', 'event', 'completed', 'jobId', 'nobody', 'returnvalue', '{bad');
      const t = Date.now();
      expect(await client.submit({ module: 'x.mjs', name: 'f' }, [9])).toBe(42);
      // from the event stream, not from the sweep that looks up jobs older than 2 s
      expect(Date.now() - t).toBeLessThan(1900);
      expect(await client.stats()).toMatchObject({ pending: 0, done: 1, failed: 4 });
    } finally {
      await hostile.close();
    }
  });

  it('rejects with JobFailedError what BullMQ failed without an outcome', async () => {
    const failing = new Worker(
      'failing',
      async () => {
        throw new Error('a worker that is not a unitpool agent');
      },
      { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null } },
    );
    await using client = new ClusterPool({ connection: redis.url, queue: 'failing' });
    try {
      const err = await client.submit({ module: 'x.mjs', name: 'f' }, []).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JobFailedError);
      expect((err as JobFailedError).failedReason).toMatch(/not a unitpool agent/);
    } finally {
      await failing.close();
    }
  });
});
