// The raw floor: a Node parent and its children exchanging length-prefixed msgpack frames over stdio pipes.
// What it has: one promise per call, each call to the child with the fewest calls pending (the first on a tie,
// so a sequential caller keeps talking to one warm child, as the pools do), frames of one tick in one write.
// What it has not: a queue, a depth limit, function registration, send checks, error mapping, a supervisor.
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Packr } from 'msgpackr';
import { Batcher, Frames } from '../floor/frames.mjs';

const CHILD = new URL('../floor/child.mjs', import.meta.url).pathname;
const FORK_CHILD = new URL('../floor/fork-child.mjs', import.meta.url).pathname;
const OP = { noop: 0, echo: 1, doubleChunk: 2, hash: 3 };

export async function create({ workers = 2 } = {}) {
  const packr = new Packr({ useRecords: false, moreTypes: true });
  const pending = new Map();
  const children = [];
  for (let i = 0; i < workers; i++) {
    const child = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
    const entry = { child, out: new Batcher(child.stdin), pending: 0 };
    const frames = new Frames((payload) => {
      const [id, result] = packr.unpack(payload);
      const resolve = pending.get(id);
      pending.delete(id);
      entry.pending--;
      resolve(result);
    });
    child.stdout.on('data', (chunk) => frames.push(chunk));
    children.push(entry);
  }
  let nextId = 0;
  const call = (name, arg) => {
    const id = ++nextId;
    const payload = packr.pack([id, OP[name], arg]);
    let target = children[0];
    for (let i = 1; i < children.length; i++) if (children[i].pending < target.pending) target = children[i];
    target.pending++;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      target.out.write(payload);
    });
  };
  return {
    call,
    async *map(items, chunksize) {
      yield* chunkedMap(call, items, chunksize);
    },
    async close() {
      for (const { child } of children) child.stdin.end();
      await Promise.all(
        children.filter(({ child }) => child.exitCode === null).map(({ child }) => once(child, 'exit')),
      );
    },
  };
}

/** map() for pools without one: every chunk submitted at once, results yielded in order. */
export async function* chunkedMap(call, items, chunksize) {
  const chunks = [];
  for (let i = 0; i < items.length; i += chunksize) chunks.push(call('doubleChunk', items.slice(i, i + chunksize)));
  for (const chunk of chunks) yield* await chunk;
}

/** The cold-start floor: plain child_process.fork() of `workers` children, until the first reply. */
export async function coldStartFloor({ workers = 2 } = {}) {
  const t0 = performance.now();
  const children = [];
  const first = new Promise((resolve) => {
    for (let i = 0; i < workers; i++) {
      const child = fork(FORK_CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', resolve);
      child.send('ping');
      children.push(child);
    }
  });
  await first;
  const ms = performance.now() - t0;
  for (const child of children) child.kill();
  await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => once(c, 'exit')));
  return ms;
}

/**
 * The floor of a start, for the cold start and for a fresh process per task: one transient unit started and
 * waited for (`systemd-run --wait -q -p Type=exec true`) plus one Node start (`node -e 0`), each timed `reps`
 * times (medians). `ms` is their sum (the cold-start floor: the work a pool's start cannot avoid), `tasksPerSec`
 * the rate the cores allow at that cost per task.
 */
export async function unitStartFloor({ reps = 5 } = {}) {
  const time = async (cmd, argv) => {
    const samples = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const child = spawn(cmd, argv, { stdio: 'ignore' });
      const [code] = await once(child, 'exit');
      if (code !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited with ${code}`);
      samples.push(performance.now() - t0);
    }
    samples.sort((a, b) => a - b);
    return samples[Math.floor((samples.length - 1) / 2)];
  };
  const unitMs = await time('systemd-run', ['--wait', '-q', '-p', 'Type=exec', 'true']);
  const nodeMs = await time(process.execPath, ['-e', '0']);
  const { availableParallelism } = await import('node:os');
  const cores = availableParallelism();
  return { unitMs, nodeMs, ms: unitMs + nodeMs, cores, tasksPerSec: cores / ((unitMs + nodeMs) / 1000) };
}
