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
      await Promise.all(children.map(({ child }) => (child.exitCode === null ? once(child, 'exit') : null)));
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
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : null)));
  return ms;
}
