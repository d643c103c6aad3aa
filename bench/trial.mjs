// One trial: one system, one workload, in a fresh process (so no system inherits another's garbage, JIT state
// or leftover processes, and the parent's RSS and CPU are its own). Run by bench/run.mjs:
//   node bench/trial.mjs <system> <workload> '<params json>'
// Prints one line `@@result {json}` on stdout (workers may print other lines).
import * as W from './workloads.mjs';
import { coldStartFloor, create as createFloor, unitStartFloor } from './systems/floor.mjs';
import { create as createAfUnix } from './systems/afunix.mjs';
import { createPiscina, createTinypool, createWorkerpool } from './systems/peers.mjs';
import { createUnitpool } from './systems/unitpool.mjs';

const [system, workload, paramsJson = '{}'] = process.argv.slice(2);
const params = JSON.parse(paramsJson);
const workers = params.workers ?? 2;
const binary = workload === 'echo';

function factory() {
  switch (system) {
    case 'floor':
      return () => createFloor({ workers });
    case 'afunix':
      return () => createAfUnix();
    case 'tinypool':
      return () => createTinypool({ workers, binary });
    case 'workerpool':
      return () => createWorkerpool({ workers, binary });
    case 'piscina':
      return () => createPiscina({ workers });
    case 'unitpool':
    case 'unitpool-untrusted':
    case 'unitpool-untrusted-pool':
    case 'unitpool-fresh':
    case 'unitpool-cpuquota': {
      const variant = system === 'unitpool' ? 'none' : system.slice('unitpool-'.length);
      return () => createUnitpool({ workers, variant, maxFrame: params.maxFrame });
    }
    default:
      throw new Error(`unknown system ${system}`);
  }
}

async function main() {
  // One unit start + one Node start: the floor of a cold start (timed n times, like the pools) and of a fresh task.
  if (system === 'startfloor') return unitStartFloor({ reps: workload === 'cold' ? params.n : params.reps });
  if (workload === 'cold') {
    if (system === 'floor') {
      const samples = [];
      for (let i = 0; i < (params.n ?? 1); i++) samples.push(await coldStartFloor({ workers }));
      samples.sort((a, b) => a - b);
      return { ms: samples[Math.floor((samples.length - 1) / 2)], samples };
    }
    return W.cold(factory(), params);
  }
  const fn = W[workload];
  if (typeof fn !== 'function') throw new Error(`unknown workload ${workload}`);
  const sys = await factory()();
  try {
    return await fn(sys, params);
  } finally {
    await sys.close();
  }
}

main().then(
  (result) => {
    process.stdout.write(`@@result ${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (err) => {
    process.stdout.write(`@@result ${JSON.stringify({ error: String(err?.stack ?? err) })}\n`);
    process.exit(1);
  },
);
