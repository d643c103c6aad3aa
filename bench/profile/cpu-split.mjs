#!/usr/bin/env node
// Where the CPU of a unitpool run goes: the pool process, the unit's supervisor (the relay), its workers.
// Under systemd:  node bench/profile/cpu-split.mjs [n] [distDir] [echoBytes]
// n no-op tasks all in flight; with echoBytes, n sequential echoes of a Buffer of that size instead.
import { readFileSync, readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const n = Number(process.argv[2] ?? 50000);
const dist = resolve(process.argv[3] ?? new URL('../../dist', import.meta.url).pathname);
const { UnitPool } = await import(pathToFileURL(`${dist}/src/index.js`).href);
const HZ = 100;
const ticks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * (1000 / HZ); // utime + stime, ms
};
const children = (pid) => {
  const out = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(
        ...readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
      );
    } catch {
      /* the thread ended while we read */
    }
  }
  return out;
};
const echoBytes = process.argv[4] ? Number(process.argv[4]) : 0;
const fn = { module: new URL('../workers/tasks.mjs', import.meta.url).href, name: 'noop' };
const echo = { module: fn.module, name: 'echo' };
const pool = new UnitPool({ maxWorkers: 2 });
const big = Buffer.alloc(echoBytes, 1);
const work = echoBytes
  ? async () => {
      for (let i = 0; i < n; i++) await pool.submit(echo, [big]);
    }
  : () => Promise.all(Array.from({ length: n }, () => pool.submit(fn)));
await Promise.all(Array.from({ length: 2000 }, () => pool.submit(fn)));
const sup = pool.unit.mainPid;
const workers = children(sup);
const pids = {
  pool: process.pid,
  supervisor: sup,
  ...Object.fromEntries(workers.map((p, i) => [`worker${i + 1}`, p])),
};
const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ticks(p)]));
const t0 = performance.now();
await work();
const ms = performance.now() - t0;
const after = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ticks(p)]));
console.log(
  echoBytes
    ? `${n} echoes of ${echoBytes} bytes in ${ms.toFixed(0)} ms = ${((n * echoBytes) / 1048576 / (ms / 1000)).toFixed(0)} MiB/s (${dist})`
    : `${n} no-op tasks in ${ms.toFixed(0)} ms = ${((n / ms) * 1000).toFixed(0)}/s (${dist})`,
);
let total = 0;
for (const k of Object.keys(pids)) total += after[k] - before[k];
for (const k of Object.keys(pids)) {
  const used = after[k] - before[k];
  console.log(
    `  ${k.padEnd(11)} ${used.toFixed(0).padStart(6)} ms CPU  ${((100 * used) / total).toFixed(0).padStart(3)}%   ${((used / n) * 1000).toFixed(1)} µs/task`,
  );
}
await pool.shutdown();
