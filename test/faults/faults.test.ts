// Faults, limits and lifecycle, against real systemd: every test asserts the exact error class and fields, and that
// the pool still works afterwards (or is broken, per policy).
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import {
  BrokenPoolError,
  PoolClosedError,
  ProtocolError,
  QueueFullError,
  TaskTimeoutError,
  UnitPool,
  WorkerExitedError,
} from '../../src/index.js';
import { SystemdBus } from '../../src/unit/bus.js';
import { unitExists } from '../support/systemd.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function expectWorks(pool: UnitPool) {
  expect(await pool.submit((a: number) => a * 2, [21])).toBe(42);
}

describe('a worker that dies while running a task', () => {
  it('process.exit: WorkerExitedError with the exit code; the pool goes on', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    const err = await pool.submit(() => process.exit(3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err).toMatchObject({ reason: 'exit', exitCode: 3, signal: null, unit: pool.unit!.name });
    expect((err as WorkerExitedError).pid).toBeGreaterThan(0);
    await expectWorks(pool);
  });

  it('an uncaught exception outside the task fails the running task with that error; the worker is replaced', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    const first = await pool.submit(() => process.pid);
    const err = await pool
      .submit(async () => {
        setTimeout(() => {
          throw new Error('boom outside the task');
        }, 1);
        await new Promise((r) => setTimeout(r, 5000));
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'Error', message: 'boom outside the task' });
    expect((err as Error).stack).toMatch(/boom outside the task\n\s+at Timeout/);
    // Its state unknown, the worker exited (as Node would); a fresh one took its place.
    expect(await pool.submit(() => process.pid)).not.toBe(first);
    await expectWorks(pool);
  });

  it('SIGKILL and SIGSEGV: reason signal, with the signal name', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    const killed = await pool.submit(() => process.kill(process.pid, 'SIGKILL')).catch((e: unknown) => e);
    expect(killed).toMatchObject({ name: 'WorkerExitedError', reason: 'signal', signal: 'SIGKILL', exitCode: null });
    const segv = await pool.submit(() => process.kill(process.pid, 'SIGSEGV')).catch((e: unknown) => e);
    expect(segv).toMatchObject({ name: 'WorkerExitedError', reason: 'signal', signal: 'SIGSEGV' });
    await expectWorks(pool);
  });

  it('a real segfault: the stack overflows under a 256 KiB LimitSTACK (set through raw), reason signal, SIGSEGV', async () => {
    // V8 assumes about 1 MB of stack, so the table refuses LimitSTACK below it; the unchecked raw triples do not, and
    // then deep recursion runs off the end of the real stack instead of throwing a RangeError: what a crashing
    // native addon does. systemd's default LimitCORE (soft 0) keeps the crash from writing a core file.
    const stack = 256 * 1024;
    await using pool = new UnitPool({
      maxWorkers: 1,
      raw: [
        ['LimitSTACK', 't', stack],
        ['LimitSTACKSoft', 't', stack],
      ],
    });
    const deep = () => {
      const f = (n: number): number => (n === 0 ? 0 : 1 + f(n - 1));
      return f(1e6);
    };
    const err = await pool.submit(deep).catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: 'WorkerExitedError',
      reason: 'signal',
      signal: 'SIGSEGV',
      exitCode: null,
      unit: pool.unit!.name,
    });
    await expectWorks(pool);
  });

  it('the OOM killer: reason oom-kill (read from the memory cgroup), and the pool goes on', async () => {
    await using pool = new UnitPool({ maxWorkers: 1, properties: { MemoryMax: '150M' } });
    const err = await pool
      .submit(() => {
        const keep: Buffer[] = [];
        for (let i = 0; i < 40; i++) keep.push(Buffer.alloc(10 * 1024 * 1024, 1));
        return keep.length;
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerExitedError);
    expect(err).toMatchObject({ reason: 'oom-kill', signal: 'SIGKILL' });
    expect((err as Error).message).toMatch(/OOM killer/);
    await expectWorks(pool);
  });

  it("onWorkerExit: 'break' rejects running and pending tasks with BrokenPoolError, and later submits", async () => {
    await using pool = new UnitPool({ maxWorkers: 1, onWorkerExit: 'break' });
    const dying = pool.submit(() => process.exit(9));
    const pending = pool.submit(() => 1);
    await expect(dying).rejects.toBeInstanceOf(WorkerExitedError);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokenPoolError);
    expect((err as Error).cause).toBeInstanceOf(WorkerExitedError);
    await expect(pool.submit(() => 2)).rejects.toBeInstanceOf(BrokenPoolError);
  });
});

describe('timeouts and abort', () => {
  it('a running task past its timeout: TaskTimeoutError, its worker replaced', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    const t0 = Date.now();
    const err = await pool
      .submit(
        () => {
          for (;;);
        },
        [],
        { timeout: 300 },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskTimeoutError);
    expect(err).toMatchObject({ timeout: 300, unit: pool.unit!.name });
    expect(Date.now() - t0).toBeLessThan(3000);
    await expectWorks(pool);
  });

  it('a queued task past its timeout is removed from the queue and never runs', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    const blocker = pool.submit(() => new Promise((r) => setTimeout(r, 800)));
    const queued = pool.submit(() => 'ran', [], { timeout: 100 });
    await expect(queued).rejects.toBeInstanceOf(TaskTimeoutError);
    await blocker;
    expect(pool.stats().done).toBe(1);
  });

  it('AbortSignal: a running task is stopped with the reason; a queued one removed', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    const ac = new AbortController();
    const running = pool.submit(
      () => {
        for (;;);
      },
      [],
      { signal: ac.signal },
    );
    const queued = pool.submit(() => 'ran', [], { signal: ac.signal });
    await sleep(300);
    ac.abort(new Error('user gave up'));
    await expect(running).rejects.toThrow('user gave up');
    await expect(queued).rejects.toThrow('user gave up');
    await expectWorks(pool);
  });

  it('map() with a timeout: a chunk that runs too long ends the loop with TaskTimeoutError; the pool goes on', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    const seen: number[] = [];
    const stuck = (x: number) => {
      if (x === 3) for (;;);
      return x;
    };
    const err = await (async () => {
      for await (const y of pool.map(stuck, [1, 2, 3, 4, 5], { timeout: 1000 })) seen.push(y);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskTimeoutError);
    expect(err).toMatchObject({ timeout: 1000, unit: pool.unit!.name });
    expect(seen).toEqual([1, 2]);
    await expectWorks(pool);
    expect(pool.stats()).toMatchObject({ queued: 0, running: 0 });
  });

  it('map() with an AbortSignal: aborting ends the loop with the reason, stops the running chunk, drops the rest', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    const ac = new AbortController();
    const seen: number[] = [];
    const slowAt3 = (x: number) => {
      if (x === 3) for (;;);
      return x;
    };
    const loop = (async () => {
      for await (const y of pool.map(slowAt3, [1, 2, 3, 4, 5, 6], { signal: ac.signal })) seen.push(y);
    })().catch((e: unknown) => e);
    while (seen.length < 2) await sleep(20);
    await sleep(100);
    ac.abort(new Error('map given up'));
    const err = await loop;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('map given up');
    expect(seen).toEqual([1, 2]);
    await expectWorks(pool);
    expect(pool.stats()).toMatchObject({ queued: 0, running: 0 });
  });
});

describe('worker lifecycle', () => {
  it('initializer runs once in each worker before its tasks', async () => {
    await using pool = new UnitPool({
      maxWorkers: 2,
      initializer: (greeting: string) => {
        (globalThis as Record<string, unknown>).greeting = `${greeting} from ${process.pid}`;
      },
      initArgs: ['hello'],
    });
    const got = await pool.submit(() => (globalThis as Record<string, unknown>).greeting);
    expect(got).toMatch(/^hello from \d+$/);
  });

  it('an initializer that throws breaks the pool with it as cause', async () => {
    await using pool = new UnitPool({
      maxWorkers: 1,
      initializer: () => {
        throw new TypeError('bad config');
      },
    });
    const err = await pool.submit(() => 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokenPoolError);
    expect((err as Error).cause).toBeInstanceOf(TypeError);
    expect(((err as Error).cause as Error).message).toBe('bad config');
  });

  it('maxTasksPerWorker: workers are replaced, no task is lost', async () => {
    await using pool = new UnitPool({ maxWorkers: 2, maxTasksPerWorker: 3 });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => pool.submit((x: number) => [x, process.pid], [i])),
    );
    expect(results.map((r) => r[0])).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const perWorker = tasksPerWorker(results);
    expect(Math.max(...perWorker.values())).toBeLessThanOrEqual(3);
    expect(perWorker.size).toBeGreaterThanOrEqual(7);
  });

  it("maxTasksPerWorker: 1 task each, whichever of a new worker's Ready and its fork report comes first", async () => {
    // A direct link's Ready and the supervisor's report of the fork come on different sockets, in either order; a
    // worker that takes tasks before its fork is reported must still retire after its share.
    await using pool = new UnitPool({ maxWorkers: 2, maxTasksPerWorker: 1 });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => pool.submit((x: number) => [x, process.pid], [i])),
    );
    expect(new Set(tasksPerWorker(results).values())).toEqual(new Set([1]));
  });

  it('idleTimeout: idle workers exit and are forked again on demand', async () => {
    await using pool = new UnitPool({ maxWorkers: 2, idleTimeout: 200 });
    const first = await pool.submit(() => process.pid);
    // They go after 200 ms idle; how soon their exits are reported depends on the machine's load.
    await vi.waitFor(() => expect(pool.stats().workers.filter((w) => w.state !== 'dead')).toEqual([]), {
      timeout: 5000,
      interval: 50,
    });
    const second = await pool.submit(() => process.pid);
    expect(second).not.toBe(first);
  });
});

describe('the unit and the parent', () => {
  it('the parent is SIGKILLed: the unit and its workers are gone within 2 s', async () => {
    const script = `
      import { UnitPool } from ${JSON.stringify(new URL('../../dist/src/index.js', import.meta.url).href)};
      const pool = new UnitPool({ maxWorkers: 2 });
      await pool.submit(() => 1);
      console.log(JSON.stringify({ unit: pool.unit.name, pid: pool.unit.mainPid }));
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(String(d))));
    const { unit } = JSON.parse(line) as { unit: string };
    expect(await unitExists(unit)).toBe(true);
    child.kill('SIGKILL');
    const t0 = Date.now();
    while ((await unitExists(unit)) && Date.now() - t0 < 5000) await sleep(50);
    expect(await unitExists(unit)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('the unit is stopped under the pool: tasks reject saying so, the pool is broken, shutdown works', async () => {
    const pool = new UnitPool({ maxWorkers: 1 });
    await pool.ready();
    const running = pool.submit(() => new Promise((r) => setTimeout(r, 10_000)));
    await sleep(200);
    const bus = await SystemdBus.connect('system');
    await bus.call('/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'StopUnit', 'ss', [
      pool.unit!.name,
      'replace',
    ]);
    bus.close();
    const err = await running.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokenPoolError);
    expect((err as Error).message).toMatch(/stopped/);
    await expect(pool.submit(() => 1)).rejects.toBeInstanceOf(BrokenPoolError);
    await pool.shutdown();
  });

  it('the D-Bus connection drops: running tasks are unaffected, shutdown reconnects to stop the unit', async () => {
    const pool = new UnitPool({ maxWorkers: 1 });
    await pool.ready();
    const task = pool.submit(() => new Promise((r) => setTimeout(() => r('done'), 300)));
    (pool as unknown as { host: { bus: SystemdBus } }).host.bus.close();
    expect(await task).toBe('done');
    const name = pool.unit!.name;
    await pool.shutdown();
    expect(await unitExists(name)).toBe(false);
  });
});

describe('untrusted bytes from the unit', () => {
  // Tasks write straight to fd 3, the worker's channel, bypassing the worker's own framing.
  it('a frame that is not msgpack: ProtocolError, worker killed, pool goes on', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    const err = await pool
      .submit(async () => {
        const { writeSync } = await import('node:fs');
        writeSync(3, Buffer.from([0, 0, 0, 4, 0, 0, 0, 1, 0xc1, 0xc1, 0xc1, 0xc1]));
        await new Promise((r) => setTimeout(r, 5000));
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    await expectWorks(pool);
  });

  it('a reply for a task that is not running on that worker: ProtocolError', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    const err = await pool
      .submit(async () => {
        const { writeSync } = await import('node:fs');
        // [1, 987654, 'forged'] as msgpack: fixarray(3), 1, uint32 987654, fixstr
        const body = Buffer.from([0x93, 0x01, 0xce, 0x00, 0x0f, 0x12, 0x06, 0xa6, ...Buffer.from('forged')]);
        const header = Buffer.alloc(8);
        header.writeUInt32BE(body.length, 0);
        writeSync(3, Buffer.concat([header, body]));
        await new Promise((r) => setTimeout(r, 5000));
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/987654/);
    await expectWorks(pool);
  });

  it('a message of the wrong shape: ProtocolError naming what is wrong, worker killed, pool goes on', async () => {
    await using pool = new UnitPool({ maxWorkers: 1 });
    const err = await pool
      .submit(async () => {
        const { writeSync } = await import('node:fs');
        // [1, '7', 1] as msgpack: a Result whose task id is a string
        const body = Buffer.from([0x93, 0x01, 0xa1, 0x37, 0x01]);
        const header = Buffer.alloc(8);
        header.writeUInt32BE(body.length, 0);
        writeSync(3, Buffer.concat([header, body]));
        await new Promise((r) => setTimeout(r, 5000));
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/a Result message whose taskId is "7", not a task id/);
    await expectWorks(pool);
  });

  it('a frame larger than maxFrame: ProtocolError before it is buffered', async () => {
    await using pool = new UnitPool({ maxWorkers: 1, maxFrame: 1024 * 1024 });
    const err = await pool
      .submit(async () => {
        const { writeSync } = await import('node:fs');
        const header = Buffer.alloc(8);
        header.writeUInt32BE(0xfffffff0, 0);
        writeSync(3, header);
        await new Promise((r) => setTimeout(r, 5000));
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/bad frame/);
    await expectWorks(pool);
  });

  it('a flood of console output reaches a slow consumer in full, with bounded memory', async () => {
    let bytes = 0;
    const sink = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        setImmediate(cb);
      },
    });
    await using pool = new UnitPool({ maxWorkers: 1, stdout: sink });
    const rss0 = process.memoryUsage().rss;
    await pool.submit(() => {
      const line = 'x'.repeat(1023) + '\n';
      for (let i = 0; i < 100_000; i++) process.stdout.write(line);
    });
    for (let waited = 0; bytes < 100_000 * 1024 && waited < 20_000; waited += 50) await sleep(50);
    expect(bytes).toBe(100_000 * 1024);
    // 100 MB went through; what the pool holds at once is bounded by socket buffers, not by the output.
    expect(process.memoryUsage().rss - rss0).toBeLessThan(64 * 1024 * 1024);
    await expectWorks(pool);
  });

  it('fuzz: random and mutated frames from a worker never take the pool down', async () => {
    await using pool = new UnitPool({ maxWorkers: 2, maxFrame: 1 << 20 });
    for (let round = 0; round < 12; round++) {
      const outcome = await pool
        .submit(
          async (seed: number) => {
            const { writeSync } = await import('node:fs');
            let x = seed * 2654435761;
            const rnd = () => (x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32;
            const valid = Buffer.from([0x93, 0x01, 0x01, 0xa2, 0x68, 0x69]);
            const body = Buffer.from(valid);
            for (let i = 0; i < 3; i++) body[Math.floor(rnd() * body.length)] = Math.floor(rnd() * 256);
            const header = Buffer.alloc(8);
            header.writeUInt32BE(rnd() < 0.3 ? Math.floor(rnd() * 2 ** 32) : body.length, 0);
            header.writeUInt32BE(Math.floor(rnd() * 5), 4);
            writeSync(
              3,
              Buffer.concat([
                header,
                rnd() < 0.5 ? body : Buffer.from(Array.from({ length: 64 }, () => Math.floor(rnd() * 256))),
              ]),
            );
            await new Promise((r) => setTimeout(r, 2000));
            return 'survived';
          },
          [round + 1],
          { timeout: 5000 },
        )
        .catch((e: unknown) => (e as Error).name);
      expect(['ProtocolError', 'WorkerExitedError', 'TaskTimeoutError', 'survived']).toContain(outcome);
    }
    await expectWorks(pool);
  });
});

describe('stopping and backpressure', () => {
  it('shutdown({ wait: false, cancelPending: true }): queued tasks cancelled, running ones finish, unit stops', async () => {
    const pool = new UnitPool({ maxWorkers: 1 });
    await pool.ready();
    const name = pool.unit!.name;
    const running = pool.submit(() => new Promise((r) => setTimeout(() => r('finished'), 300)));
    await sleep(100);
    const queued = pool.submit(() => 'never');
    await pool.shutdown({ wait: false, cancelPending: true });
    await expect(queued).rejects.toBeInstanceOf(PoolClosedError);
    expect(await running).toBe('finished');
    await pool.shutdown();
    expect(await unitExists(name)).toBe(false);
  });

  it('terminate() and kill(): everything rejects, idempotent, nothing left', async () => {
    for (const how of ['terminate', 'kill'] as const) {
      const pool = new UnitPool({ maxWorkers: 1 });
      await pool.ready();
      const name = pool.unit!.name;
      const running = pool.submit(() => new Promise((r) => setTimeout(r, 60_000))).catch((e: unknown) => e);
      await sleep(100);
      await Promise.all([pool[how](), pool[how]()]);
      await pool[how]();
      expect(await running).toBeInstanceOf(PoolClosedError);
      expect(await unitExists(name)).toBe(false);
    }
  });

  it('maxQueue: QueueFullError beyond it, or waiting with queueMode wait', async () => {
    await using pool = new UnitPool({ maxWorkers: 1, maxQueue: 2 });
    await pool.ready();
    const slow = () => new Promise((r) => setTimeout(r, 300));
    const first = pool.submit(slow);
    await sleep(100);
    const queued = [pool.submit(slow), pool.submit(slow)];
    await expect(pool.submit(slow)).rejects.toBeInstanceOf(QueueFullError);
    await Promise.all([first, ...queued]);

    await using waiting = new UnitPool({ maxWorkers: 1, maxQueue: 1, queueMode: 'wait' });
    const all = await Promise.all(Array.from({ length: 6 }, (_, i) => waiting.submit((x: number) => x, [i])));
    expect(all).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

/** How many of the [input, pid] results each worker process produced. */
function tasksPerWorker(results: [number, number][]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const [, pid] of results) counts.set(pid, (counts.get(pid) ?? 0) + 1);
  return counts;
}
