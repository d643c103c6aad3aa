// npm run bench:cluster [-- --quick]: unitpool/cluster against its floors and peers, measured in the same run.
//
//   1. per-task overhead: sequential round trips of a no-op task through a ClusterPool (one agent in its own
//      `unitpool sandbox`), against a local UnitPool (in a sandbox too), BullMQ with an inline processor (the
//      queue's own cost) and BullMQ's sandboxed processor (a forked child, no confinement);
//   2. scaling: CPU-bound tasks of fixed work over 1, 2 and 3 agents each at CPUQuota=30% (one worker each),
//      against linear in the agents' total quota, and BullMQ's sandboxed processor capped the same way
//      (`unitpool run -c 30%`).
//
// Redis is a redis-server of the benchmark's own on a random loopback port. Writes bench/results/cluster.json.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import { ClusterPool } from '../dist/src/cluster/index.js';
import { work } from './cluster-jobs/jobs.mjs';
import { percentile } from './cluster-stats.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const MODULES = join(ROOT, 'bench', 'cluster-jobs');
const quick = process.argv.includes('--quick');
const ROUND_TRIPS = quick ? 300 : 1000;
const TASKS_PER_AGENT = quick ? 6 : 12;
const children = new Set();

function log(line) {
  process.stderr.write(`bench:cluster: ${line}\n`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Spawns a process and resolves once its stderr matches `ready`. */
function launch(name, args, ready) {
  const child = spawn(args[0], args.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const read = (s) => {
      output += s;
      if (ready.test(output)) resolve(child);
    };
    child.stdout.setEncoding('utf8').on('data', read);
    child.stderr.setEncoding('utf8').on('data', read);
    child.once('exit', (code) => {
      children.delete(child);
      reject(new Error(`${name} exited with ${code}:\n${output}`));
    });
  });
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

const sandboxed = (...command) => [process.execPath, CLI, 'sandbox', '--', ...command];

function agent(redis, queue, name, flags) {
  const args = sandboxed(process.execPath, CLI, 'agent', '--redis', redis, '--queue', queue, '--name', name, '--modules', MODULES, ...flags);
  return launch(`agent ${name}`, args, /takes jobs from queue/);
}

async function roundTrips(submit) {
  for (let i = 0; i < 100; i++) await submit(i);
  const times = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t = performance.now();
    await submit(i);
    times.push((performance.now() - t) * 1000);
  }
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

/** Tasks per second of `count` work tasks submitted at once. */
async function throughput(count, submit) {
  await Promise.all(Array.from({ length: 2 }, () => submit()));
  const t = performance.now();
  await Promise.all(Array.from({ length: count }, () => submit()));
  return count / ((performance.now() - t) / 1000);
}

/** BullMQ as its users call it: Queue.add, then job.waitUntilFinished(queueEvents). */
async function bullmqClient(redisPort, queueName) {
  const connection = { host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: null };
  const queue = new Queue(queueName, { connection });
  const events = new QueueEvents(queueName, { connection });
  await events.waitUntilReady();
  return {
    run: async (name, data) => (await queue.add(name, data, { removeOnComplete: 1000 })).waitUntilFinished(events),
    close: async () => {
      await events.close();
      await queue.close();
    },
  };
}

async function main() {
  const dir = join(ROOT, '.cache', `bench-cluster-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const redis = await launch('redis-server', ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], /Ready to accept connections/);
  const url = `redis://127.0.0.1:${port}`;
  const results = { when: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, quick };
  try {
    // calibrate the CPU task: about 100 ms of one CPU here
    const t = performance.now();
    work(100);
    const rounds = Math.max(10, Math.round(100 * (100 / (performance.now() - t))));
    results.rounds = rounds;

    log('local UnitPool (in a sandbox)');
    const [node, ...args] = sandboxed(process.execPath, 'bench/cluster-local.mjs', String(ROUND_TRIPS), String(rounds));
    results.local = JSON.parse(execFileSync(node, args, { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop());

    log('cluster: one agent, round trips');
    const one = await agent(url, 'rt', 'rt-1', ['--workers', '1', '--concurrency', '1']);
    const pool = new ClusterPool({ connection: url, queue: 'rt' });
    results.cluster = await roundTrips((i) => pool.submit({ module: 'jobs.mjs', name: 'noop' }, [i]));
    await pool.shutdown();
    await stop(one);

    for (const mode of ['inline', 'sandboxed']) {
      log(`BullMQ ${mode} processor, round trips`);
      const worker = await launch(`bullmq ${mode}`, [process.execPath, 'bench/cluster-bullmq.mjs', url, `bullmq-${mode}`, mode], /bullmq worker ready/);
      const client = await bullmqClient(port, `bullmq-${mode}`);
      results[`bullmq_${mode}`] = await roundTrips((i) => client.run('noop', { x: i }));
      await client.close();
      await stop(worker);
    }

    log('scaling: 1, 2, 3 agents at CPUQuota=30%');
    results.scaling = [];
    const scalePool = new ClusterPool({ connection: url, queue: 'scale' });
    const agents = [];
    for (let k = 1; k <= 3; k++) {
      agents.push(await agent(url, 'scale', `scale-${k}`, ['-c', '30%', '--workers', '1', '--concurrency', '1']));
      const rate = await throughput(TASKS_PER_AGENT * k, () => scalePool.submit({ module: 'jobs.mjs', name: 'work' }, [rounds]));
      results.scaling.push({ agents: k, tasksPerSecond: rate });
      log(`  ${k} agent(s): ${rate.toFixed(2)} tasks/s`);
    }
    await scalePool.shutdown();
    await Promise.all(agents.map(stop));

    log('BullMQ sandboxed processor under unitpool run -c 30%');
    const capped = await launch('bullmq capped', sandboxed(process.execPath, CLI, 'run', '-q', '-c', '30%', '--', process.execPath, 'bench/cluster-bullmq.mjs', url, 'bullmq-capped', 'sandboxed'), /bullmq worker ready/);
    const client = await bullmqClient(port, 'bullmq-capped');
    results.bullmq_capped = { tasksPerSecond: await throughput(TASKS_PER_AGENT, () => client.run('work', { rounds })) };
    await client.close();
    await stop(capped);
  } finally {
    for (const child of children) await stop(child);
    await stop(redis);
    rmSync(dir, { recursive: true, force: true });
  }
  report(results);
}

function report(r) {
  const linear = r.scaling[0].tasksPerSecond;
  const quota = (k) => (0.3 * k) / r.local.workSeconds;
  const lines = [
    `unitpool/cluster benchmark, ${r.when}: ${r.cpus} × ${r.cpu}, Node ${r.node}${r.quick ? ' (quick)' : ''}`,
    '',
    '| no-op round trip (sequential) | p50 (µs) | p99 (µs) | p50 vs local UnitPool |',
    '| --- | ---: | ---: | ---: |',
    ...[
      ['local UnitPool', r.local],
      ['ClusterPool, 1 agent', r.cluster],
      ['BullMQ, inline processor (the queue alone)', r.bullmq_inline],
      ['BullMQ, sandboxed processor', r.bullmq_sandboxed],
    ].map(([name, m]) => `| ${name} | ${m.p50.toFixed(0)} | ${m.p99.toFixed(0)} | ${(m.p50 / r.local.p50).toFixed(1)}x |`),
    '',
    `cluster overhead per task over a local UnitPool: ${((r.cluster.p50 - r.local.p50) / 1000).toFixed(2)} ms at p50; ` +
      `over BullMQ's inline processor: ${((r.cluster.p50 - r.bullmq_inline.p50) / 1000).toFixed(2)} ms; ` +
      `ClusterPool / BullMQ sandboxed processor: ${(r.cluster.p50 / r.bullmq_sandboxed.p50).toFixed(2)}x`,
    '',
    `CPU-bound tasks (${r.rounds} SHA-256 rounds, ${(r.local.workSeconds * 1000).toFixed(0)} ms of CPU each uncapped), agents at CPUQuota=30%, one worker each:`,
    '',
    '| agents | tasks/s | vs linear in agents (k × 1 agent) | vs linear in total quota (0.3k CPU) |',
    '| ---: | ---: | ---: | ---: |',
    ...r.scaling.map((s) => `| ${s.agents} | ${s.tasksPerSecond.toFixed(2)} | ${(s.tasksPerSecond / (linear * s.agents)).toFixed(2)} | ${(s.tasksPerSecond / quota(s.agents)).toFixed(2)} |`),
    `| BullMQ sandboxed processor, 1 worker under CPUQuota=30% | ${r.bullmq_capped.tasksPerSecond.toFixed(2)} | cluster 1 agent / this: ${(linear / r.bullmq_capped.tasksPerSecond).toFixed(2)}x | ${(r.bullmq_capped.tasksPerSecond / quota(1)).toFixed(2)} |`,
  ];
  const text = lines.join('\n');
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'cluster.json'), JSON.stringify(r, null, 2) + '\n');
  writeFileSync(join(ROOT, 'bench', 'results', 'cluster.md'), text + '\n');
  process.stdout.write(text + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:cluster: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
