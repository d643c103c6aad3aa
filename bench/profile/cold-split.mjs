#!/usr/bin/env node
// Cold start, split: constructor -> ready() (D-Bus, StartTransientUnit, supervisor connected) -> first result
// (worker forked by the supervisor, booted, function imported, task run). Under systemd:
//   node bench/profile/cold-split.mjs [n] [preset]
import { fork } from 'node:child_process';
const { UnitPool } = await import(new URL('../../dist/src/index.js', import.meta.url).href);
const n = Number(process.argv[2] ?? 5);
const preset = process.argv[3];
const fn = { module: new URL('../workers/tasks.mjs', import.meta.url).href, name: 'noop' };
const rows = [];
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  const pool = new UnitPool({ maxWorkers: 2, ...(preset ? { preset } : {}) });
  await pool.ready();
  const t1 = performance.now();
  await pool.submit(fn);
  const t2 = performance.now();
  await pool.shutdown();
  // a bare node process boot on this machine right now, for scale
  const t3 = performance.now();
  const c = fork(new URL('../floor/fork-child.mjs', import.meta.url).pathname, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise((r) => {
    c.on('message', r);
    c.send(1);
  });
  const t4 = performance.now();
  c.kill();
  rows.push([t1 - t0, t2 - t1, t2 - t0, t4 - t3]);
}
const med = (k) => rows.map((r) => r[k]).sort((a, b) => a - b)[rows.length >> 1];
console.log(
  `${preset ?? 'no properties'}: ready() ${med(0).toFixed(0)} ms + first result ${med(1).toFixed(0)} ms = ${med(2).toFixed(0)} ms; one bare fork()+reply ${med(3).toFixed(0)} ms (medians of ${n})`,
);
