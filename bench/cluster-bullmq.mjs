// A plain BullMQ worker for bench/cluster.mjs's baselines: `node bench/cluster-bullmq.mjs REDIS_URL QUEUE inline|sandboxed`.
// inline: the processor runs in this process (the queue's own cost, no process boundary); sandboxed: BullMQ's
// sandboxed processor (a child process, no confinement), the baseline a BullMQ user has today.
import { Worker } from 'bullmq';
import { noop, work } from './cluster-jobs/jobs.mjs';

const [url, queue, mode] = process.argv.slice(2);
const { hostname, port } = new URL(url);
const processor =
  mode === 'sandboxed'
    ? new URL('./cluster-bullmq-processor.mjs', import.meta.url)
    : async (job) => (job.name === 'work' ? work(job.data.rounds) : noop(job.data.x));
const worker = new Worker(queue, processor, {
  connection: { host: hostname, port: Number(port), maxRetriesPerRequest: null },
  concurrency: 1,
});
worker.on('error', (e) => process.stderr.write(`bullmq worker: ${e.message}\n`));
await worker.waitUntilReady();
process.stderr.write(`bullmq worker ready (${mode})\n`);
// SIGTERM: close (the job in hand finishes first), then exit; a close that fails still exits, and says why.
process.on('SIGTERM', () => {
  worker.close().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`bullmq worker: close failed: ${e.message}\n`);
      process.exit(1);
    },
  );
});
