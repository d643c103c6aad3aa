// BullMQ's own sandboxed processor for bench/cluster.mjs: BullMQ forks a child process that runs this file.
import { noop, work } from './cluster-jobs/jobs.mjs';

export default async function (job) {
  return job.name === 'work' ? work(job.data.rounds) : noop(job.data.x);
}
