// The Node peers: tinypool (child_process runtime), workerpool (process workers), piscina (threads).
// Each is used the way its README shows, with 2 workers started up front; all run bench/workers/tasks.mjs.
import Piscina from 'piscina';
import { Tinypool } from 'tinypool';
import workerpool from 'workerpool';
import { chunkedMap } from './floor.mjs';

const TASKS = new URL('../workers/tasks.mjs', import.meta.url).href;
const WORKERPOOL_WORKER = new URL('../workers/workerpool-worker.mjs', import.meta.url).pathname;

/**
 * `binary`: the workload sends Buffers. The process pools' IPC defaults to JSON, which turns a Buffer into
 * {type:'Buffer', data:[...numbers]}; for those workloads they get serialization: 'advanced' (V8's
 * structured serialization), the setting their docs point to for binary data.
 */
export async function createTinypool({ workers = 2, binary = false } = {}) {
  const pool = new Tinypool({
    filename: TASKS,
    runtime: 'child_process',
    minThreads: workers,
    maxThreads: workers,
    isolateWorkers: false,
    ...(binary ? { serialization: 'advanced' } : {}),
  });
  const call = (name, arg) => pool.run(arg, { name });
  return { call, map: (items, chunksize) => chunkedMap(call, items, chunksize), close: () => pool.destroy() };
}

export async function createWorkerpool({ workers = 2, binary = false } = {}) {
  const pool = workerpool.pool(WORKERPOOL_WORKER, {
    workerType: 'process',
    minWorkers: workers,
    maxWorkers: workers,
    ...(binary ? { forkOpts: { serialization: 'advanced' } } : {}),
  });
  const call = (name, arg) => pool.exec(name, arg === undefined ? [] : [arg]);
  return { call, map: (items, chunksize) => chunkedMap(call, items, chunksize), close: () => pool.terminate() };
}

export async function createPiscina({ workers = 2 } = {}) {
  const pool = new Piscina({ filename: TASKS, minThreads: workers, maxThreads: workers, idleTimeout: Infinity });
  const call = (name, arg) => pool.run(arg, { name });
  return { call, map: (items, chunksize) => chunkedMap(call, items, chunksize), close: () => pool.destroy() };
}
