// Turns a run's trials into the summary table, the goal checks and the SVG chart. Used by bench/run.mjs;
// also runnable on its own to re-render a saved run:   node bench/report.mjs bench/results/<run>.json
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Systems in display order. */
export const SYSTEMS = [
  { id: 'ppe', label: 'Python PPE', color: '#8c8c8c' },
  { id: 'tinypool', label: 'tinypool (child_process)', color: '#e3a33b' },
  { id: 'workerpool', label: 'workerpool (process)', color: '#c76b2f' },
  { id: 'piscina', label: 'piscina (threads)', color: '#7a9cc6' },
  { id: 'floor', label: 'raw floor (socketpair + msgpack)', color: '#444444' },
  { id: 'afunix', label: 'bare AF_UNIX ping-pong (2 Node processes)', color: '#222222' },
  { id: 'startfloor', label: 'one unit start + one Node start', color: '#666666' },
  { id: 'unitpool', label: 'unitpool (no properties)', color: '#2f8f5b' },
  { id: 'unitpool-untrusted', label: "unitpool (preset 'untrusted': a unit per worker)", color: '#5cc58a' },
  { id: 'unitpool-untrusted-pool', label: "unitpool (preset 'untrusted', isolation: 'pool')", color: '#7fd3a3' },
  { id: 'unitpool-fresh', label: "unitpool (preset 'untrusted', fresh: true)", color: '#2f9e62' },
  { id: 'unitpool-cpuquota', label: 'unitpool (CPUQuota=50%)', color: '#a4e0bd' },
];

/** The columns of the main table: workload, result field, unit, whether higher is better. */
export const METRICS = [
  { key: 'throughput', workload: 'throughput', field: 'tasksPerSec', title: 'no-op tasks/s', unit: '/s', higher: true },
  { key: 'rtP50', workload: 'roundtrip', field: 'p50us', title: 'round trip p50', unit: 'µs', higher: false },
  { key: 'rtP99', workload: 'roundtrip', field: 'p99us', title: 'round trip p99', unit: 'µs', higher: false },
  { key: 'map', workload: 'map', field: 'itemsPerSec', title: 'chunked map items/s', unit: '/s', higher: true },
  { key: 'echo', workload: 'echo', field: 'mibPerSec', title: 'echo MiB/s', unit: 'MiB/s', higher: true },
  { key: 'cold', workload: 'cold', field: 'ms', title: 'cold start', unit: 'ms', higher: false },
  { key: 'parentCpu', workload: 'parent', field: 'cpuMsPer1k', title: 'parent CPU per 1k', unit: 'ms', higher: false },
  {
    key: 'parentRss',
    workload: 'parent',
    field: 'rssGrowthMiB',
    title: 'parent RSS growth',
    unit: 'MiB',
    higher: false,
  },
  {
    key: 'freshWarm',
    workload: 'fresh',
    field: 'warmP50us',
    title: 'fresh: warm spare p50',
    unit: 'µs',
    higher: false,
  },
  { key: 'freshRate', workload: 'fresh', field: 'tasksPerSec', title: 'fresh tasks/s', unit: '/s', higher: true },
];

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const finite = (xs) => xs.filter((x) => Number.isFinite(x));
const stats = (xs) => {
  const f = finite(xs);
  return { median: median(f), min: f.length ? Math.min(...f) : NaN, max: f.length ? Math.max(...f) : NaN, n: f.length };
};

/** value[rep][system][workload] = result object, for the trials that succeeded. */
function byRep(trials) {
  const reps = new Map();
  for (const t of trials) {
    if (!t.result || t.result.error) continue;
    if (!reps.has(t.rep)) reps.set(t.rep, {});
    const r = reps.get(t.rep);
    (r[t.system] ??= {})[t.workload] = t.result;
  }
  return [...reps.keys()].sort((a, b) => a - b).map((k) => reps.get(k));
}

export function summarize(run) {
  const reps = byRep(run.trials);
  const get = (rep, system, workload, field) => rep[system]?.[workload]?.[field];
  const table = {};
  for (const s of SYSTEMS) {
    for (const m of METRICS) {
      const values = reps.map((rep) => get(rep, s.id, m.workload, m.field)).filter((v) => v !== undefined);
      if (values.length) (table[s.id] ??= {})[m.key] = stats(values);
    }
  }
  const cpu = {};
  for (const id of ['unitpool', 'unitpool-cpuquota']) {
    const rs = reps.map((rep) => rep[id]?.cpu).filter(Boolean);
    if (rs.length) {
      cpu[id] = {
        wallMs: stats(rs.map((r) => r.ms)),
        cpuShare: stats(rs.map((r) => r.cpuShare)),
        throttledPeriods: stats(rs.map((r) => r.throttledPeriods ?? NaN)),
        layout: rs[0].cgroupLayout,
      };
    }
  }

  // Goals: each ratio is taken within a repetition (the systems ran interleaved, seconds apart), then the
  // median over repetitions is compared with the target.
  const perRep = (f) =>
    stats(
      reps.map((rep) => f((s, w, field) => get(rep, s, w, field))).filter((x) => x !== undefined && Number.isFinite(x)),
    );
  const U = 'unitpool';
  const UT = 'unitpool-untrusted';
  const START = 'startfloor';
  const p = run.config?.params ?? {};
  // A goal row: `check` is { target, pass }, `f(g)` the value of one repetition (g reads a result field).
  const row = (goal, check, f, fmt = 'x') => ({ goal, ...check, ...perRep(f), fmt });
  const info = (goal, f, fmt = 'x') => row(goal, { target: 'info', pass: () => true, info: true }, f, fmt);
  const atMost = (x, unit = 'x') => ({ target: `<= ${unit === 'x' ? x.toFixed(2) : x}${unit}`, pass: (v) => v <= x });
  const atLeast = (x, unit = 'x') => ({ target: `>= ${unit === 'x' ? x.toFixed(2) : x}${unit}`, pass: (v) => v >= x });
  const above = (x) => ({ target: `> ${x.toFixed(2)}x`, pass: (v) => v > x });
  const field = (workload, name) => (system) => (g) => g(system, workload, name);
  const over = (a, b) => (g) => a(g) / b(g);
  const tasks = field('throughput', 'tasksPerSec');
  const rt = field('roundtrip', 'p50us');
  const items = field('map', 'itemsPerSec');
  const echo = field('echo', 'mibPerSec');
  const cold = field('cold', 'ms');
  const rss = field('parent', 'rssGrowthMiB');
  const fresh = field('fresh', 'tasksPerSec');
  const warmSpare = field('fresh', 'warmP50us');
  const echoSize = formatBytes(p.echo?.bytes);
  const coldRows = [
    [U, 'no properties'],
    [UT, "preset 'untrusted'"],
  ].flatMap(([system, label]) => [
    row(
      `cold start (${label}), constructor to first result, ${run.config?.workers ?? 2} workers <= 1.0x one unit start + one Node start`,
      atMost(1),
      over(cold(system), cold(START)),
    ),
    ...['piscina', 'tinypool'].map((peer) =>
      row(`cold start (${label}) <= ${peer}'s`, atMost(1), over(cold(system), cold(peer))),
    ),
  ]);
  const goals = [
    row('no-op throughput >= 3x Python PPE', atLeast(3), over(tasks(U), tasks('ppe'))),
    row(
      'no-op throughput >= 2x the faster of tinypool / workerpool',
      atLeast(2),
      (g) => tasks(U)(g) / Math.max(tasks('tinypool')(g) ?? NaN, tasks('workerpool')(g) ?? NaN),
    ),
    row("pipelined no-op throughput >= 0.7x the raw floor's", atLeast(0.7), over(tasks(U), tasks('floor'))),
    info("pipelined no-op throughput vs the bare AF_UNIX ping-pong's (info)", over(tasks(U), tasks('afunix'))),
    row("sequential round trip (p50) <= workerpool's", atMost(1), over(rt(U), rt('workerpool'))),
    row('sequential round trip (p50) <= 1.3x the bare AF_UNIX ping-pong', atMost(1.3), over(rt(U), rt('afunix'))),
    info(
      'the raw floor vs the bare AF_UNIX ping-pong: round trip p50 (info: what framing, msgpack and a promise cost)',
      over(rt('floor'), rt('afunix')),
    ),
    run.config?.quick
      ? row(
          `chunked map of ${count(p.map?.n)} items ahead of PPE's map(chunksize) (the quick run's goal)`,
          above(1),
          over(items(U), items('ppe')),
        )
      : row(
          `chunked map of ${count(p.map?.n)} items >= 2x PPE's map(chunksize)`,
          atLeast(2),
          over(items(U), items('ppe')),
        ),
    row(`${echoSize} echo >= 1 GiB/s`, atLeast(1024, ' MiB/s'), echo(U), 'MiB/s'),
    row(`${echoSize} echo ahead of piscina (threads, no process boundary)`, above(1), over(echo(U), echo('piscina'))),
    info('echo relative to the raw floor (info)', over(echo(U), echo('floor'))),
    info("echo relative to the bare AF_UNIX socket's (info: what the socket allows)", over(echo(U), echo('afunix'))),
    ...coldRows,
    row(
      'cold start <= fork() floor + 50 ms',
      { target: '<= +50 ms', pass: (v) => v <= 50 },
      (g) => cold(U)(g) - cold('floor')(g),
      '+ms',
    ),
    row(`parent RSS growth over ${count(p.parent?.n)} tasks <= the raw floor's`, atMost(1), over(rss(U), rss('floor'))),
    row(
      "fresh: true, a no-op on a warm spare within 2x of a plain pool's round trip (p50)",
      atMost(2),
      over(warmSpare('unitpool-fresh'), rt(U)),
    ),
    info(
      'fresh: true, a no-op on a warm spare vs the plain pool after the same idle time (info: the cost of a fresh process alone)',
      over(warmSpare('unitpool-fresh'), warmSpare(U)),
    ),
    row(
      'fresh: true, sustained fresh-process tasks >= 0.8x the cores at one (unit start + Node start) each',
      atLeast(0.8),
      over(fresh('unitpool-fresh'), fresh(START)),
    ),
    info(
      "preset 'untrusted' in one unit for the pool (isolation: 'pool') vs no properties: throughput",
      over(tasks('unitpool-untrusted-pool'), tasks(U)),
    ),
    info("preset 'untrusted' (a unit per worker) vs no properties: round trip p50", over(rt(UT), rt(U))),
    info(
      'map with ordered: false vs map in order, same items (info: the cost of completion order)',
      over(field('shapes', 'unorderedPerSec')(U), field('shapes', 'orderedPerSec')(U)),
    ),
    info(
      'one stream() task vs map in order, same items (info: one worker, item by item)',
      over(field('shapes', 'streamPerSec')(U), field('shapes', 'orderedPerSec')(U)),
    ),
    row(
      "preset 'untrusted' costs < 10% throughput vs no properties",
      { target: '< 10%', pass: (v) => v < 10 },
      (g) => (1 - tasks(UT)(g) / tasks(U)(g)) * 100,
      '%',
    ),
  ].map(({ pass, ...g }) => ({
    ...g,
    status: !Number.isFinite(g.median) ? 'n/a' : g.info ? 'info' : pass(g.median) ? 'PASS' : 'MISS',
  }));
  if (cpu['unitpool-cpuquota']) {
    const share = cpu['unitpool-cpuquota'].cpuShare;
    goals.push({
      goal: 'CPUQuota=50% holds the batch to half a CPU (check)',
      target: '<= 0.55 CPU',
      ...share,
      status: Number.isFinite(share.median) ? (share.median <= 0.55 ? 'PASS' : 'MISS') : 'n/a',
      fmt: 'CPU',
    });
  }

  // Speed relative to the raw floor (1.0), per repetition, for the chart: higher is better everywhere.
  const relative = {};
  for (const m of METRICS.filter((x) => ['throughput', 'rtP50', 'map', 'echo', 'cold'].includes(x.key))) {
    for (const s of SYSTEMS) {
      if (s.id === 'unitpool-cpuquota') continue;
      const r = perRep((g) => {
        const v = g(s.id, m.workload, m.field);
        const f = g('floor', m.workload, m.field);
        return m.higher ? v / f : f / v;
      });
      if (r.n) (relative[m.key] ??= {})[s.id] = r;
    }
  }
  const failures = run.trials
    .filter((t) => !t.result || t.result.error)
    .map((t) => ({ rep: t.rep, system: t.system, workload: t.workload, error: t.result?.error ?? t.error }));
  const retried = run.trials
    .filter((t) => t.crashed)
    .map((t) => ({ rep: t.rep, system: t.system, workload: t.workload, error: t.crashed }));
  // The cold-start floor's parts (its sum is the startfloor row's cold start).
  const starts = reps.map((rep) => rep[START]?.cold).filter(Boolean);
  const startFloor = starts.length
    ? Object.fromEntries(['unitMs', 'nodeMs', 'ms'].map((k) => [k, stats(starts.map((r) => r[k]))]))
    : undefined;
  return { table, cpu, goals, relative, startFloor, failures, retried };
}

// ── formatting ─────────────────────────────────────────────────────────────────────────────────────────────

const count = (n) => (Number.isFinite(n) ? n.toLocaleString('en-US') : '?');

function formatBytes(b) {
  if (!Number.isFinite(b)) return 'Buffer';
  if (b % 1048576 === 0) return `${b / 1048576} MiB`;
  const mib = b / 1048576;
  return `${mib.toFixed(mib >= 10 ? 0 : 2).replace(/\.?0+$/, '')} MiB${b < Math.round(mib) * 1048576 ? ' (just under)' : ''}`;
}

export function fmtNum(v) {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 1 : 2)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(a >= 1e5 ? 0 : 1)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

const cell = (s) => (s ? `${fmtNum(s.median)} [${fmtNum(s.min)}–${fmtNum(s.max)}]` : '–');

function fmtGoalValue(v, fmt) {
  if (!Number.isFinite(v)) return '–';
  switch (fmt) {
    case 'x':
      return `${v.toFixed(2)}x`;
    case '%':
      return `${v.toFixed(1)}%`;
    case '+ms':
      return `${v >= 0 ? '+' : ''}${v.toFixed(0)} ms`;
    case 'CPU':
      return v.toFixed(2);
    default:
      return fmtNum(v);
  }
}

/** Markdown tables (they read fine in a terminal too). */
export function renderTables(run, summary) {
  const lines = [];
  const head = [
    'system',
    ...METRICS.map(
      (m) => `${m.title}${m.unit && !m.title.includes(m.unit) ? ` (${m.unit})` : ''} ${m.higher ? '↑' : '↓'}`,
    ),
  ];
  lines.push(`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`);
  for (const s of SYSTEMS) {
    const row = summary.table[s.id];
    if (!row) continue;
    lines.push(`| ${s.label} | ${METRICS.map((m) => cell(row[m.key])).join(' | ')} |`);
  }
  lines.push('', 'Cells: median [min–max] over the repetitions. ↑ higher is better, ↓ lower is better.', '');
  const sf = summary.startFloor;
  if (sf) {
    lines.push(
      `The cold-start floor, one unit start + one Node start (ms; median [min–max] over the repetitions of each one's median of ${run.config?.params?.cold?.n ?? '?'}): ` +
        `\`systemd-run --wait -q -p Type=exec true\` ${cell(sf.unitMs)} + \`node -e 0\` ${cell(sf.nodeMs)} = ${cell(sf.ms)}.`,
      '',
    );
  }
  if (Object.keys(summary.cpu).length) {
    const p = run.config?.params?.cpu ?? {};
    lines.push(
      `CPU-bound batch (${p.tasks} tasks of ${p.rounds} chained SHA-256 rounds over 64 KiB, ${run.config?.workers ?? 2} workers); CPU share = the unit's cgroup usage / wall time (1.00 = one whole CPU):`,
      '',
      '| unitpool | wall time (ms) | CPU share | throttled periods |',
      '| --- | ---: | ---: | ---: |',
    );
    for (const [id, c] of Object.entries(summary.cpu)) {
      lines.push(
        `| ${id === 'unitpool' ? 'no properties' : 'CPUQuota=50%'} | ${cell(c.wallMs)} | ${cell(c.cpuShare)} | ${cell(c.throttledPeriods)} |`,
      );
    }
    lines.push('');
  }
  lines.push(
    '| goal (unitpool, same run) | target | measured: median [min–max] of per-repetition ratios | |',
    '| --- | --- | --- | --- |',
  );
  for (const g of summary.goals) {
    lines.push(
      `| ${g.goal} | ${g.target} | ${fmtGoalValue(g.median, g.fmt)} [${fmtGoalValue(g.min, g.fmt)} – ${fmtGoalValue(g.max, g.fmt)}] | **${g.status}** |`,
    );
  }
  const listTrials = (title, list) => {
    if (!list?.length) return;
    lines.push('', `${title} (${list.length}):`);
    for (const f of list) lines.push(`- rep ${f.rep} ${f.system} ${f.workload}: ${String(f.error).split('\n')[0]}`);
  };
  listTrials('Failed trials', summary.failures);
  listTrials('Peer trials that crashed once and were run again', summary.retried);
  return lines.join('\n');
}

// ── chart ──────────────────────────────────────────────────────────────────────────────────────────────────

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A grouped bar chart (log scale) of each system's speed relative to the raw floor, per workload. */
export function renderSvg(run, summary) {
  const groups = [
    ['throughput', 'no-op throughput'],
    ['rtP50', 'round trip p50'],
    ['map', 'chunked map'],
    ['echo', `${formatBytes(run.config?.params?.echo?.bytes)} echo`],
    ['cold', 'cold start'],
  ].filter(([k]) => summary.relative[k]);
  const systems = SYSTEMS.filter(
    (s) => s.id !== 'floor' && s.id !== 'unitpool-cpuquota' && groups.some(([k]) => summary.relative[k]?.[s.id]),
  );
  // The legend in rows of at most 3 (the labels are long), under the chart.
  const per = Math.min(3, Math.ceil(systems.length / 2));
  const rows = Math.ceil(systems.length / per);
  const W = 960;
  const H = 520 + Math.max(0, rows - 3) * 22;
  const m = { top: 70, right: 20, bottom: 110 + Math.max(0, rows - 3) * 22, left: 64 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const values = groups
    .flatMap(([k]) => systems.map((s) => summary.relative[k]?.[s.id]?.median))
    .filter((v) => Number.isFinite(v) && v > 0);
  const lo = Math.min(-2, Math.floor(Math.log10(Math.min(...values, 1))));
  const hi = Math.max(1, Math.ceil(Math.log10(Math.max(...values, 1))));
  const y = (v) => m.top + ph - ((Math.log10(v) - lo) / (hi - lo)) * ph;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(
    `<text x="${m.left}" y="24" font-size="16" font-weight="bold">unitpool benchmark: speed relative to the raw floor (socketpair + msgpack, no pool logic) = 1</text>`,
  );
  const mach = run.machine ?? {};
  out.push(
    `<text x="${m.left}" y="44" fill="#555">${esc(`${(run.date ?? '').slice(0, 10)} · ${mach.cpuModel ?? ''} · ${mach.cores ?? '?'} cores · Node ${mach.node ?? ''} · Python ${mach.python ?? ''} · ${run.config?.workers ?? 2} workers · median of ${run.config?.reps ?? '?'} interleaved repetitions${run.config?.quick ? ' · QUICK run' : ''}`)}</text>`,
  );
  out.push(
    `<text x="${m.left}" y="60" fill="#555">higher is better; for latencies and times the bar is floor ÷ system; log scale; whiskers: min–max over repetitions</text>`,
  );
  for (let e = lo; e <= hi; e++) {
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (Math.log10(v) > hi + 1e-9) continue;
      const yy = y(v).toFixed(1);
      out.push(
        `<line x1="${m.left}" x2="${W - m.right}" y1="${yy}" y2="${yy}" stroke="${k === 1 ? (e === 0 ? '#333' : '#ccc') : '#eee'}" stroke-width="${e === 0 && k === 1 ? 1.5 : 1}"/>`,
      );
      if (k === 1 || hi - lo <= 2)
        out.push(
          `<text x="${m.left - 6}" y="${(+yy + 4).toFixed(1)}" text-anchor="end" fill="#333">${v >= 1 ? v : v.toFixed(-e)}×</text>`,
        );
    }
  }
  const gw = pw / groups.length;
  const bw = Math.min(22, (gw - 24) / systems.length);
  groups.forEach(([key, title], gi) => {
    const gx = m.left + gi * gw + (gw - bw * systems.length) / 2;
    systems.forEach((s, si) => {
      const r = summary.relative[key]?.[s.id];
      if (!r || !(r.median > 0)) return;
      const x = gx + si * bw;
      const top = y(r.median);
      const base = y(10 ** lo);
      out.push(
        `<rect x="${(x + 1).toFixed(1)}" y="${top.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${Math.max(0, base - top).toFixed(1)}" fill="${s.color}"><title>${esc(`${s.label}, ${title}: ${r.median.toFixed(3)}× floor (min ${r.min.toFixed(3)}, max ${r.max.toFixed(3)})`)}</title></rect>`,
      );
      if (r.min > 0 && r.max > 0 && r.n > 1) {
        const cx = (x + bw / 2).toFixed(1);
        out.push(
          `<line x1="${cx}" x2="${cx}" y1="${y(r.max).toFixed(1)}" y2="${y(r.min).toFixed(1)}" stroke="#222" stroke-width="1"/>`,
        );
      }
      out.push(
        `<text x="${(x + bw / 2).toFixed(1)}" y="${(Math.min(top, r.n > 1 ? y(r.max) : top) - 4).toFixed(1)}" text-anchor="middle" font-size="9" fill="#222">${r.median >= 10 ? r.median.toFixed(0) : r.median >= 1 ? r.median.toFixed(1) : r.median.toFixed(2)}</text>`,
      );
    });
    out.push(
      `<text x="${(m.left + gi * gw + gw / 2).toFixed(1)}" y="${m.top + ph + 18}" text-anchor="middle" font-size="13">${esc(title)}</text>`,
    );
  });
  systems.forEach((s, i) => {
    const lx = m.left + (i % per) * (pw / per);
    const ly = H - 16 - (rows - 1 - Math.floor(i / per)) * 22;
    out.push(
      `<rect x="${lx}" y="${ly - 10}" width="14" height="14" fill="${s.color}"/><text x="${lx + 20}" y="${ly + 1}">${esc(s.label)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

// Re-render a saved run.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = process.argv[2];
  if (!path) {
    console.error('usage: node bench/report.mjs bench/results/<run>.json [out.svg]');
    process.exit(2);
  }
  const run = JSON.parse(readFileSync(path, 'utf8'));
  const summary = summarize(run);
  console.log(renderTables(run, summary));
  if (process.argv[3]) writeFileSync(process.argv[3], renderSvg(run, summary));
}
