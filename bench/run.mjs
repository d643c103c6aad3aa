#!/usr/bin/env node
// The side-by-side benchmark (issue 6): unitpool against Python's ProcessPoolExecutor, tinypool, workerpool,
// piscina and a raw pipe+msgpack floor, in one run and one process tree, the systems interleaved, several
// repetitions. Needs systemd: run it as `npm run bench` / `npm run bench:quick`, which wrap it in
// `unitpool sandbox --if-needed`.
//
//   node bench/run.mjs [--quick] [--reps N] [--only w1,w2] [--systems s1,s2] [--dist DIR] [--no-docs]
//   node bench/run.mjs --publish bench/results/<full run>.json   (docs and README from a saved full run)
//
// --dist DIR measures the unitpool build in DIR (default: dist/, copied when the run starts so that a rebuild
// during the run changes nothing); e.g. a prototype build, to compare with the same command on dist/.
//
// Every trial is a fresh child process (bench/trial.mjs, or bench/peers/ppe.py for Python) running one system
// on one workload and printing `@@result {json}`. Each repetition runs every workload on every system, the
// order of the systems rotated from one repetition to the next. Writes bench/results/<date>[-quick].json,
// latest.json and latest.svg; a full run also writes docs/bench.svg and the table in docs/bench.md.

import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSvg, renderTables, summarize, fmtNum } from './report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

const QUICK = flag('--quick');
const REPS = Number(option('--reps') ?? (QUICK ? 2 : 3));
const WORKERS = 2;
const MiB = 1024 * 1024;

// Sizes. The echo Buffer is 1 KiB under 64 MiB: with the envelope, exactly 64 MiB exceeds unitpool's default
// 64 MiB frame limit, and the pool's writer ignores the maxFrame option (see docs/bench.md, "Known gaps").
const PARAMS = QUICK
  ? {
      throughput: { n: 10_000, warmup: 500 },
      roundtrip: { n: 500, warmup: 50 },
      map: { n: 100_000, chunksize: 1000 },
      echo: { bytes: 8 * MiB, n: 1 },
      cold: { n: 3 },
      cpu: { tasks: 8, rounds: 500 },
      parent: { n: 3000, window: 1000 },
      fresh: { latencyN: 5, settleMs: 600, n: 20, reps: 3 },
      shapes: { n: 100_000, chunksize: 1000 },
    }
  : {
      throughput: { n: 100_000, warmup: 2000 },
      roundtrip: { n: 5000, warmup: 500 },
      map: { n: 1_000_000, chunksize: 1000 },
      echo: { bytes: 64 * MiB - 1024, n: 3 },
      cold: { n: 3 },
      cpu: { tasks: 16, rounds: 1000 },
      parent: { n: 20_000, window: 1000 },
      fresh: { latencyN: 15, settleMs: 600, n: 60, reps: 5 },
      shapes: { n: 1_000_000, chunksize: 1000 },
    };

const GENERAL = [
  'ppe',
  'tinypool',
  'workerpool',
  'piscina',
  'floor',
  'unitpool',
  'unitpool-untrusted',
  'unitpool-untrusted-pool',
];
// Floors beside the raw one: 'afunix', a bare Node AF_UNIX ping-pong (a socketpair, bytes echoed: the round trip,
// pipelined rate and bandwidth of two Node processes alone); 'startfloor', one unit start plus one Node start
// (systemd-run --wait -q -p Type=exec true, node -e 0: the work a cold start cannot avoid, and a fresh task's).
const WORKLOADS = {
  throughput: [...GENERAL, 'afunix'],
  roundtrip: [...GENERAL, 'afunix'],
  map: GENERAL,
  echo: [...GENERAL, 'afunix'],
  cold: [...GENERAL, 'startfloor'],
  cpu: ['unitpool', 'unitpool-cpuquota'],
  parent: GENERAL,
  // Every task in a fresh process, against one unit start plus one Node start per task, and the plain pool (the
  // same idle-then-one-task latency on a reused worker).
  fresh: ['unitpool-fresh', 'unitpool', 'startfloor'],
  // map in order vs ordered: false vs one stream() task, on the same items (issue 15).
  shapes: ['unitpool'],
};

const only = option('--only')?.split(',');
const onlySystems = option('--systems')?.split(',');
const TIMEOUT_MS = (QUICK ? 180 : 900) * 1000;

function sh(cmd, argv) {
  try {
    return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return undefined;
  }
}

function machine() {
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return undefined;
    }
  };
  const cgroup = existsSync('/sys/fs/cgroup/cgroup.controllers')
    ? 'cgroup2'
    : existsSync('/sys/fs/cgroup/unified')
      ? 'hybrid'
      : 'legacy v1';
  return {
    cpuModel: cpus()[0]?.model,
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.versions.node,
    python: sh(process.env.PYTHON ?? 'python3', ['-c', 'import platform; print(platform.python_version())']),
    systemd: sh('systemctl', ['--version'])?.split('\n')[0],
    cgroup,
    sandbox: process.env.UNITPOOL_SANDBOX === '1',
    packages: {
      tinypool: pkg('tinypool'),
      workerpool: pkg('workerpool'),
      piscina: pkg('piscina'),
      msgpackr: pkg('msgpackr'),
    },
  };
}

/** Runs one trial in a child process; resolves with its parsed result (or { error }). */
function runTrial(system, workload, params, env) {
  const cmd = system === 'ppe' ? (process.env.PYTHON ?? 'python3') : process.execPath;
  const argv =
    system === 'ppe'
      ? [join(here, 'peers', 'ppe.py'), workload, JSON.stringify(params)]
      : [join(here, 'trial.mjs'), system, workload, JSON.stringify(params)];
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], detached: true, env });
    let out = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s) => (out += s));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        // the trial's own process group: it, its workers, nothing else (no pid: it never started)
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ error: `could not start ${cmd}: ${err.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('@@result '));
      if (timedOut) return resolve({ error: `timed out after ${TIMEOUT_MS / 1000} s` });
      if (!line) return resolve({ error: `exited ${signal ?? code} without a result; output: ${out.slice(-500)}` });
      try {
        resolve(JSON.parse(line.slice('@@result '.length)));
      } catch (err) {
        resolve({ error: `unreadable result: ${err.message}` });
      }
    });
  });
}

function describe(workload, r) {
  if (r.error) return `ERROR ${String(r.error).split('\n')[0]}`;
  switch (workload) {
    case 'throughput':
      return `${fmtNum(r.tasksPerSec)} tasks/s`;
    case 'roundtrip':
      return `p50 ${fmtNum(r.p50us)} µs, p99 ${fmtNum(r.p99us)} µs`;
    case 'map':
      return `${fmtNum(r.itemsPerSec)} items/s`;
    case 'echo':
      return `${fmtNum(r.mibPerSec)} MiB/s`;
    case 'cold':
      return `${fmtNum(r.ms)} ms${r.unitMs !== undefined ? ` (systemd-run ${fmtNum(r.unitMs)} ms + node ${fmtNum(r.nodeMs)} ms)` : ''}`;
    case 'cpu':
      return `${fmtNum(r.ms)} ms wall, ${r.cpuShare.toFixed(2)} CPU`;
    case 'parent':
      return `${fmtNum(r.cpuMsPer1k)} ms CPU/1k, +${fmtNum(r.rssGrowthMiB)} MiB RSS`;
    case 'shapes':
      return `map ${fmtNum(r.orderedPerSec)}, ordered: false ${fmtNum(r.unorderedPerSec)}, stream() ${fmtNum(r.streamPerSec)} items/s`;
    case 'fresh':
      return r.warmP50us !== undefined
        ? `warm spare p50 ${fmtNum(r.warmP50us)} µs, ${fmtNum(r.tasksPerSec)} fresh tasks/s`
        : `systemd-run ${fmtNum(r.unitMs)} ms + node ${fmtNum(r.nodeMs)} ms: ${fmtNum(r.tasksPerSec)} tasks/s on ${r.cores} cores`;
    default:
      return JSON.stringify(r);
  }
}

async function main() {
  // --publish FILE.json: put a saved full run into the docs and the README again (after editing them, say).
  const saved = process.argv.indexOf('--publish');
  if (saved > 0) {
    const run = JSON.parse(readFileSync(process.argv[saved + 1], 'utf8'));
    writeFileSync(join(here, 'results', 'latest.svg'), renderSvg(run, run.summary));
    return publish(run, renderTables(run, run.summary));
  }
  if (!existsSync('/run/systemd/system')) {
    console.error(
      'bench: systemd is not running here. Use `npm run bench` (or `npx unitpool sandbox --if-needed -- node bench/run.mjs`).',
    );
    process.exit(2);
  }
  const date = new Date().toISOString();
  const run = {
    date,
    machine: machine(),
    config: { quick: QUICK, reps: REPS, workers: WORKERS, params: PARAMS },
    load: { start: loadavg() },
    trials: [],
  };
  const m = run.machine;
  console.log(`unitpool bench ${QUICK ? '(quick)' : '(full)'}: ${REPS} repetitions, ${WORKERS} workers`);
  console.log(
    `machine: ${m.cpuModel}, ${m.cores} cores, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}, Python ${m.python}, ${m.systemd}, ${m.cgroup} cgroups${m.sandbox ? ', in unitpool sandbox' : ''}`,
  );
  console.log(
    `load average at start: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(
        ' ',
      )}${loadavg()[0] > m.cores ? '  (busy machine: expect noise; compare ratios, not absolute numbers)' : ''}\n`,
  );

  // Measure one build throughout: a snapshot of dist/ (or the --dist build), whatever happens to dist/ meanwhile.
  const source = option('--dist') ? join(process.cwd(), option('--dist')) : join(root, 'dist');
  if (!existsSync(join(source, 'src', 'index.js')))
    throw new Error(`no unitpool build in ${source}: run \`npm run build\``);
  const snapshot = join(here, 'results', `.build-${process.pid}`);
  mkdirSync(join(here, 'results'), { recursive: true });
  cpSync(source, snapshot, {
    recursive: true,
    filter: (p) => !p.endsWith('.map') && !p.includes(`${source}/examples`),
  });
  const env = { ...process.env, UNITPOOL_BENCH_DIST: snapshot };
  run.build = { dist: source, git: sh('git', ['-C', root, 'describe', '--always', '--dirty']) };
  process.on('exit', () => rmSync(snapshot, { recursive: true, force: true }));

  const plan = Object.entries(WORKLOADS).filter(([w]) => !only || only.includes(w));
  const t0 = performance.now();
  for (let rep = 1; rep <= REPS; rep++) {
    for (const [workload, systems] of plan) {
      const list = systems.filter((s) => !onlySystems || onlySystems.includes(s));
      const shift = (rep - 1) % list.length;
      const order = [...list.slice(shift), ...list.slice(0, shift)]; // rotate: no system always goes first
      for (const system of order) {
        const params = { workers: WORKERS, ...PARAMS[workload] };
        const started = performance.now();
        const load = loadavg()[0];
        let result = await runTrial(system, workload, params, env);
        // A peer that crashes once is run again (piscina has aborted in its cold start on a loaded machine): its
        // crash is not ours to fail the run on, and the report still lists it. unitpool's own trials get no retry.
        const crashed = result.error && !system.startsWith('unitpool') ? result.error : undefined;
        if (crashed) result = await runTrial(system, workload, params, env);
        const ms = performance.now() - started;
        run.trials.push({
          rep,
          workload,
          system,
          result,
          trialMs: Math.round(ms),
          load1: load,
          ...(crashed && { crashed }),
        });
        console.log(
          `[${rep}/${REPS}] ${workload.padEnd(10)} ${system.padEnd(18)} ${describe(workload, result)}  (${(ms / 1000).toFixed(1)} s)`,
        );
      }
    }
  }
  run.load.end = loadavg();
  run.durationS = Math.round((performance.now() - t0) / 1000);

  const summary = summarize(run);
  run.summary = summary;
  const tables = renderTables(run, summary);
  const svg = renderSvg(run, summary);
  const results = join(here, 'results');
  mkdirSync(results, { recursive: true });
  const stamp = date.replace(/[:]/g, '-').replace(/\..*$/, '');
  const jsonPath = join(results, `${stamp}${QUICK ? '-quick' : ''}.json`);
  writeFileSync(jsonPath, JSON.stringify(run, null, 1) + '\n');
  writeFileSync(join(results, 'latest.json'), JSON.stringify(run, null, 1) + '\n');
  writeFileSync(join(results, 'latest.svg'), svg);
  writeFileSync(join(results, 'latest.md'), tables + '\n');
  if (!QUICK && !flag('--no-docs') && !only && !onlySystems) publish(run, tables);

  console.log(`\n${tables}\n`);
  console.log(
    `${run.trials.length} trials in ${run.durationS} s; load average at end: ${run.load.end.map((x) => x.toFixed(2)).join(' ')}`,
  );
  console.log(
    `wrote ${jsonPath}, bench/results/latest.{json,svg,md}${!QUICK && !flag('--no-docs') && !only && !onlySystems ? ', docs/bench.svg, the results sections of docs/bench.md and README.md' : ''}`,
  );
  // A failed trial fails the run (so CI notices a workload that rots); a missed goal does not.
  process.exitCode = summary.failures.length > 0 ? 1 : 0;
}

/**
 * A full run is what the README shows: copy the chart to docs/ and replace the results sections (between the
 * bench:results markers) of docs/bench.md and README.md.
 */
function publish(run, tables) {
  copyFileSync(join(here, 'results', 'latest.svg'), join(root, 'docs', 'bench.svg'));
  const m = run.machine;
  const about =
    `Run of ${run.date.slice(0, 16).replace('T', ' ')} UTC: ${m.cpuModel}, ${m.cores} cores, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}, Python ${m.python}, ${m.systemd}, ${m.cgroup} cgroups${m.sandbox ? ' (in `unitpool sandbox`)' : ''}; ` +
    `${run.config.reps} repetitions, ${run.trials.length} trials, ${run.durationS} s; load average ${run.load.start[0].toFixed(2)} at start, ${run.load.end[0].toFixed(2)} at end. ` +
    `Peers: tinypool ${m.packages.tinypool}, workerpool ${m.packages.workerpool}, piscina ${m.packages.piscina}.`;
  replaceSection(join(root, 'docs', 'bench.md'), [
    about,
    '',
    '![speed relative to the raw floor](bench.svg)',
    '',
    tables,
  ]);
  replaceSection(join(root, 'README.md'), [
    about,
    '',
    '![speed relative to the raw floor](docs/bench.svg)',
    '',
    tables,
  ]);
}

function replaceSection(file, lines) {
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return;
  writeFileSync(file, text.slice(0, a) + [start, ...lines, end].join('\n') + text.slice(b + end.length));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
