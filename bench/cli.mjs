#!/usr/bin/env node
// `unitpool run`'s speed goals (issue 16), measured against systemd-run in the same run rather than asserted
// in a timed test:
//   start-up    `unitpool run -q true` within 3x of `systemd-run --wait -q -P true`
//   throughput  200 MB through stdout within 1.5x of `systemd-run --wait -q --pipe`
// plus `node -e 0` (no unitpool at all), the floor any Node CLI pays, for scale. Each pair runs in turn
// (A B A B ...) and the ratio is the median of the pair ratios, so that a machine that speeds up or slows
// down during the run moves both. Output goes through a real pipe (sh ... | cat > /dev/null), as in a
// shell pipeline; `--relay` adds the throughput through a socketpair (a Node parent's stdio), which
// unitpool relays.
//
//   node bench/cli.mjs [--quick] [--runs N] [--relay]     (npm run bench:cli, inside the sandbox)
//
// Needs systemd as PID 1 and root (npm run bench:cli boots the sandbox where needed).

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist/src/cli/main.js');
const args = process.argv.slice(2);
const at = args.indexOf('--runs');
const RUNS = at >= 0 ? Number(args[at + 1]) : args.includes('--quick') ? 5 : 15;
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs: a positive integer, got ${args[at + 1]}`);
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
const unitpool = `${q(process.execPath)} ${q(cli)} run`;

/** Runs a shell command line; resolves to its wall time in ms (and fails on a non-zero status). */
function timed(line, stdio = ['ignore', 'ignore', 'inherit']) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('sh', ['-c', line], { stdio });
    let bytes = 0;
    p.stdout?.on('data', (b) => (bytes += b.length));
    p.once('error', reject);
    p.once('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`${line}: exit ${code}`));
      else resolve({ ms, bytes });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** A against B, in turn, after one warm-up each: medians and the median pair ratio. */
async function pair(name, a, b, opts = {}) {
  await timed(a, opts.stdio);
  await timed(b, opts.stdio);
  const ra = [];
  const rb = [];
  for (let i = 0; i < RUNS; i++) {
    ra.push((await timed(a, opts.stdio)).ms);
    rb.push((await timed(b, opts.stdio)).ms);
  }
  const ratio = median(ra.map((x, i) => x / rb[i]));
  const row = { name, a: median(ra), b: median(rb), ratio, goal: opts.goal };
  console.log(
    `${name.padEnd(40)} ${row.a.toFixed(1).padStart(8)} ms  vs ${row.b.toFixed(1).padStart(8)} ms   ratio ${ratio.toFixed(2)}${opts.goal ? `  (goal <= ${opts.goal}: ${ratio <= opts.goal ? 'met' : 'NOT met'})` : ''}`,
  );
  return row;
}

console.log(
  `unitpool run against systemd-run, ${RUNS} runs each in turn (median wall ms; ratio = median of A/B per pair)\n`,
);
const sdStart = 'systemd-run --wait -q -P true';
const rows = [];
rows.push(await pair('start-up: unitpool run -q true', `${unitpool} -q true`, sdStart, { goal: 3 }));
rows.push(await pair('floor: node -e 0', `${q(process.execPath)} -e 0`, sdStart));
// Like for like: systemd-run with unitpool run's default sandboxing (playpen's), which costs systemd a mount namespace.
const defaults = ['PrivateTmp', 'PrivateDevices', 'ProtectKernelTunables', 'ProtectControlGroups']
  .map((p) => `-p ${p}=yes`)
  .join(' ');
rows.push(
  await pair(
    'start-up, systemd-run with the defaults',
    `${unitpool} -q true`,
    `systemd-run --wait -q -P ${defaults} true`,
  ),
);
const mb200 = 'head -c 200M /dev/zero';
rows.push(
  await pair(
    'stdout 200 MB through a pipe',
    `${unitpool} -q -- ${mb200} | cat > /dev/null`,
    `systemd-run --wait -q --pipe -- ${mb200} | cat > /dev/null`,
    { goal: 1.5 },
  ),
);
if (args.includes('--relay')) {
  // Our stdout a socketpair: what a Node parent gives; unitpool relays it, systemd-run passes it on.
  rows.push(
    await pair(
      'stdout 200 MB to a socketpair',
      `${unitpool} -q -- ${mb200}`,
      `systemd-run --wait -q --pipe -- ${mb200}`,
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
}
// The copy itself: 200 MB less start-up, for each (what the pipe costs beyond starting the command).
const [up, , , pipe] = rows;
const copyA = pipe.a - up.a;
const copyB = pipe.b - up.b;
console.log(
  `${'200 MB beyond start-up'.padEnd(40)} ${copyA.toFixed(1).padStart(8)} ms  vs ${copyB.toFixed(1).padStart(8)} ms   ratio ${(copyA / copyB).toFixed(2)} (medians' differences)`,
);
const missed = rows.filter((r) => r.goal !== undefined && r.ratio > r.goal);
console.log(missed.length ? `\ngoals not met: ${missed.map((r) => r.name).join('; ')}` : '\nall goals met');
