// The same pool across several hosts: a ClusterPool submits to a BullMQ queue in Redis, and agents (one per host)
// run the jobs in their own confined UnitPool. With UNITPOOL_REDIS set, this is only the client, for agents you
// started yourself (README, "Beyond one machine"); without it, it starts a private redis-server and two agents
// in this process, each with its own unit and confinement, as stand-ins for two hosts.
//   npm run example -- cluster
//   UNITPOOL_REDIS=redis://127.0.0.1:6390 node dist/examples/cluster.js
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterPool, startAgent, type Agent } from 'unitpool/cluster';

const queue = process.env.UNITPOOL_QUEUE ?? 'example';
const local = process.env.UNITPOOL_REDIS ? undefined : await localCluster();
const connection = process.env.UNITPOOL_REDIS ?? local!.url;

try {
  await using pool = new ClusterPool({ connection, queue });

  // CPU-bound work, spread over whichever agents serve the queue
  const digests: string[] = [];
  for await (const digest of pool.map(
    async (seed: number) => {
      const { createHash } = await import('node:crypto');
      let data = Buffer.alloc(64 * 1024, seed);
      for (let i = 0; i < 300; i++)
        data = Buffer.concat([createHash('sha256').update(data).digest(), data.subarray(32)]);
      return data.subarray(0, 4).toString('hex');
    },
    Array.from({ length: 40 }, (_, i) => i),
    { chunksize: 2 },
  )) {
    digests.push(digest);
  }
  console.log(`40 digests, the first ${digests[0]}, the last ${digests.at(-1)}`);

  // values travel as on one machine: BigInt, Map, Date, Buffer
  const summary = await pool.submit(
    (m: Map<string, bigint>, when: Date) => ({
      total: [...m.values()].reduce((a, b) => a + b, 0n),
      year: when.getUTCFullYear(),
      raw: Buffer.from('ok'),
    }),
    [
      new Map([
        ['a', 2n ** 70n],
        ['b', 1n],
      ]),
      new Date(Date.UTC(2030, 0, 1)),
    ],
  );
  console.log('summary:', summary);

  // errors too, with the host that ran the task
  try {
    await pool.submit(() => JSON.parse('{ not json') as unknown);
  } catch (e) {
    const err = e as Error & { host: string };
    console.log(`${err.name} on ${err.host}: ${err.message}`);
  }

  console.log('per host:', (await pool.stats()).hosts);
} finally {
  await local?.stop();
}

/** A redis-server on a free loopback port and two agents, each with its own unit and confinement. */
async function localCluster(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'unitpool-example-'));
  const redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    redis.once('error', (e) =>
      reject(new Error(`cannot start redis-server (apt-get install redis-server): ${e.message}`)),
    );
    redis.stdout.on('data', (chunk: Buffer) => String(chunk).includes('Ready to accept connections') && resolve());
  });
  const url = `redis://127.0.0.1:${port}`;
  const agents: Agent[] = await Promise.all([
    startAgent({
      connection: url,
      queue,
      host: 'alpha',
      allowSource: true,
      pool: { maxWorkers: 2, properties: { CPUQuota: '50%', MemoryMax: '256M' } },
    }),
    startAgent({
      connection: url,
      queue,
      host: 'beta',
      allowSource: true,
      pool: { maxWorkers: 2, properties: { CPUQuota: '50%', PrivateNetwork: true, User: 'nobody' } },
    }),
  ]);
  console.log(`redis-server on ${url}; agents ${agents.map((a) => `${a.host} (${a.pool.unit?.name})`).join(', ')}`);
  return {
    url,
    async stop() {
      await Promise.all(agents.map((a) => a.close()));
      redis.kill('SIGTERM');
      await new Promise((r) => redis.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
