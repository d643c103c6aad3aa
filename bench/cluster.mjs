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
const REPEAT = quick ? 1 : 3;
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
  const args = sandboxed(
    process.execPath,
    CLI,
    'agent',
    '--redis',
    redis,
    '--queue',
    queue,
    '--name',
    name,
    '--modules',
    MODULES,
    ...flags,
  );
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

/**
 * `count` work tasks submitted at once, REPEAT times: the median tasks per second, and the CPU share the workers
 * got (tasks/s × the CPU seconds each task reports), to compare with their quota.
 */
async function throughput(count, submit) {
  await Promise.all(Array.from({ length: 2 }, () => submit()));
  const runs = [];
  for (let r = 0; r < REPEAT; r++) {
    const t = performance.now();
    const done = await Promise.all(Array.from({ length: count }, () => submit()));
    const rate = count / ((performance.now() - t) / 1000);
    runs.push({ rate, cpuShare: rate * (done.reduce((a, d) => a + d.cpu, 0) / count) });
  }
  runs.sort((a, b) => a.rate - b.rate);
  return {
    tasksPerSecond: runs[runs.length >> 1].rate,
    cpuShare: runs[runs.length >> 1].cpuShare,
    runs: runs.map((x) => x.rate),
  };
}

/** BullMQ as its users call it: Queue.add, then job.waitUntilFinished(queueEvents). */
async function bullmqClient(redisPort, queueName) {
  const connection = { host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: null };
  const queue = new Queue(queueName, { connection });
  queue.setMaxListeners(0); // waitUntilFinished() listens once per job
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
  const redis = await launch(
    'redis-server',
    ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    /Ready to accept connections/,
  );
  const url = `redis://127.0.0.1:${port}`;
  const results = {
    when: new Date().toISOString(),
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
    quick,
  };
  try {
    // calibrate the CPU task: about 100 ms of one CPU here
    const t = performance.now();
    work(100);
    const rounds = Math.max(10, Math.round(100 * (100 / (performance.now() - t))));
    results.rounds = rounds;

    log('local UnitPool (in a sandbox)');
    const [node, ...args] = sandboxed(process.execPath, 'bench/cluster-local.mjs', String(ROUND_TRIPS));
    results.local = JSON.parse(execFileSync(node, args, { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop());

    log('cluster: one agent, round trips');
    const one = await agent(url, 'rt', 'rt-1', ['--workers', '1', '--concurrency', '1']);
    const pool = new ClusterPool({ connection: url, queue: 'rt' });
    results.cluster = await roundTrips((i) => pool.submit({ module: 'jobs.mjs', name: 'noop' }, [i]));
    await pool.shutdown();
    await stop(one);

    for (const mode of ['inline', 'sandboxed']) {
      log(`BullMQ ${mode} processor, round trips`);
      const worker = await launch(
        `bullmq ${mode}`,
        [process.execPath, 'bench/cluster-bullmq.mjs', url, `bullmq-${mode}`, mode],
        /bullmq worker ready/,
      );
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
      const measured = await throughput(TASKS_PER_AGENT * k, () =>
        scalePool.submit({ module: 'jobs.mjs', name: 'work' }, [rounds]),
      );
      results.scaling.push({ agents: k, ...measured });
      log(`  ${k} agent(s): ${measured.tasksPerSecond.toFixed(2)} tasks/s, ${measured.cpuShare.toFixed(2)} CPU`);
    }
    await scalePool.shutdown();
    await Promise.all(agents.map(stop));

    log('BullMQ sandboxed processor under unitpool run -c 30%');
    const capped = await launch(
      'bullmq capped',
      sandboxed(
        process.execPath,
        CLI,
        'run',
        '-q',
        '-c',
        '30%',
        '--',
        process.execPath,
        'bench/cluster-bullmq.mjs',
        url,
        'bullmq-capped',
        'sandboxed',
      ),
      /bullmq worker ready/,
    );
    const client = await bullmqClient(port, 'bullmq-capped');
    results.bullmq_capped = await throughput(TASKS_PER_AGENT, () => client.run('work', { rounds }));
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
  const row = (m) => `| ${m.p50.toFixed(0)} | ${m.p99.toFixed(0)} | ${(m.p50 / r.local.p50).toFixed(1)}x |`;
  const lines = [
    `unitpool/cluster benchmark, ${r.when}: ${r.cpus} × ${r.cpu}, Node ${r.node}${r.quick ? ' (quick)' : ''}`,
    '',
    '| no-op round trip (sequential) | p50 (µs) | p99 (µs) | p50 vs local UnitPool |',
    '| --- | ---: | ---: | ---: |',
    `| local UnitPool ${row(r.local)}`,
    `| ClusterPool, 1 agent ${row(r.cluster)}`,
    `| BullMQ, inline processor (the queue alone) ${row(r.bullmq_inline)}`,
    `| BullMQ, sandboxed processor ${row(r.bullmq_sandboxed)}`,
    '',
    `Cluster overhead per task at p50: ${((r.cluster.p50 - r.local.p50) / 1000).toFixed(2)} ms over a local UnitPool ` +
      `(goal < 1 ms: ${r.cluster.p50 - r.local.p50 < 1000 ? 'PASS' : 'MISS'}), ${((r.cluster.p50 - r.bullmq_inline.p50) / 1000).toFixed(2)} ms ` +
      `over BullMQ's inline processor; ClusterPool / BullMQ sandboxed processor: ${(r.cluster.p50 / r.bullmq_sandboxed.p50).toFixed(2)}x.`,
    '',
    `CPU-bound tasks (${r.rounds} chained SHA-256 rounds), agents at CPUQuota=30% with one worker each; median of ${r.scaling[0].runs.length} run(s). ` +
      `CPU share: tasks/s × the CPU seconds each task measured itself.`,
    '',
    '| agents | tasks/s | vs k × 1 agent | CPU share | vs total quota (0.3k) |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...r.scaling.map(
      (s) =>
        `| ${s.agents} | ${s.tasksPerSecond.toFixed(2)} | ${(s.tasksPerSecond / (linear * s.agents)).toFixed(2)} | ${s.cpuShare.toFixed(2)} | ${(s.cpuShare / (0.3 * s.agents)).toFixed(2)} |`,
    ),
    `| BullMQ sandboxed processor under \`unitpool run -c 30%\` | ${r.bullmq_capped.tasksPerSecond.toFixed(2)} | 1 agent / this: ${(linear / r.bullmq_capped.tasksPerSecond).toFixed(2)}x | ${r.bullmq_capped.cpuShare.toFixed(2)} | ${(r.bullmq_capped.cpuShare / 0.3).toFixed(2)} |`,
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
