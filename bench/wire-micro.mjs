// Micro-benchmarks of src/wire (framing and codec). Build first, then run:
//   npx tsc -p tsconfig.json && node bench/wire-micro.mjs [--quick]
// Prints ops/s (higher is better) and throughput. Numbers are per process, single-threaded.

import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Packr } from 'msgpackr';
import { Codec, decode, encode, encodeWithPath, prepare } from '../dist/src/wire/codec.js';
import { encodeFrame } from '../dist/src/wire/frame.js';
import { FrameDecoder } from '../dist/src/wire/frame-decoder.js';
import { FrameRouter } from '../dist/src/wire/frame-router.js';
import { FrameWriter } from '../dist/src/wire/frame-writer.js';

const QUICK = process.argv.includes('--quick');
const TIME = QUICK ? 300 : 1000; // ms measured per case

/** Runs fn in batches for ~TIME ms after a warm-up; returns ops per second. */
function measure(fn, batch = 1000) {
  const warmEnd = performance.now() + TIME / 3;
  while (performance.now() < warmEnd) for (let i = 0; i < batch; i++) fn();
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < TIME) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    t = performance.now();
  }
  return (ops * 1000) / (t - t0);
}

const fmt = (n) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(1) + ' ';
const row = (label, value, unit = 'ops/s') => console.log(`  ${label.padEnd(58)} ${fmt(value).padStart(10)}${unit}`);
let sink = 0; // keeps results alive

// ── codec ──────────────────────────────────────────────────────────────────────────────────────────
console.log(`node ${process.version}, ${QUICK ? 'quick' : 'full'} run`);
console.log('\ncodec: small task envelope [Call, id, fnKey, args]');
const callEnvelope = [2, 12345, 7, [1, 'two', { x: 3, y: [4, 5], name: 'point' }]];
const resultEnvelope = [1, 12345, { sum: 42, items: ['a', 'b'], ok: true }];
const callBytes = encode(callEnvelope);
const resultBytes = encode(resultEnvelope);
console.log(`  sizes: call ${callBytes.length} B, result ${resultBytes.length} B`);
row(
  'encodeWithPath(call, "args", 3)',
  measure(() => (sink += encodeWithPath(callEnvelope, 'args', 3).length)),
);
row(
  'encode(result)',
  measure(() => (sink += encode(resultEnvelope).length)),
);
row(
  'decode(call)',
  measure(() => (sink += decode(callBytes).length)),
);
row(
  'decode(result)',
  measure(() => (sink += decode(resultBytes).length)),
);

// baselines: msgpackr with the codec's options, without the check
const raw = new Packr({
  moreTypes: true,
  structuredClone: false,
  useRecords: false,
  mapsAsObjects: true,
  useToJSON: false,
});
const rawRecords = new Packr({
  moreTypes: true,
  structuredClone: false,
  useRecords: true,
  mapsAsObjects: true,
  useToJSON: false,
});
row(
  'raw msgpackr pack(call), maps, no check',
  measure(() => (sink += raw.pack(callEnvelope).length)),
);
row(
  'raw msgpackr unpack(call)',
  measure(() => (sink += raw.unpack(callBytes).length)),
);
const recBytes = rawRecords.pack(callEnvelope);
row(
  'raw msgpackr pack(call) with records (the other mode)',
  measure(() => (sink += rawRecords.pack(callEnvelope).length)),
);
row(
  'raw msgpackr unpack(call) with records',
  measure(() => (sink += rawRecords.unpack(recBytes).length)),
);

console.log('\ncodec: a result of 1000 rows {id, name, score, active}: records (auto) vs maps');
const rows = [
  1,
  1,
  Array.from({ length: 1000 }, (_, i) => ({ id: i, name: 'row' + i, score: i * 0.5, active: i % 2 === 0 })),
];
const mapsOnly = new Codec({ recordsFrom: Infinity });
const rowsAuto = encode(rows);
const rowsMaps = mapsOnly.encode(rows);
console.log(`  sizes: records ${rowsAuto.length} B, maps ${rowsMaps.length} B`);
row(
  'encode (records, chosen automatically)',
  measure(() => (sink += encode(rows).length), 5),
);
row(
  'decode (records)',
  measure(() => (sink += decode(rowsAuto).length), 5),
);
row(
  'encode (maps forced)',
  measure(() => (sink += mapsOnly.encode(rows).length), 5),
);
row(
  'decode (maps)',
  measure(() => (sink += decode(rowsMaps).length), 5),
);

console.log('\ncodec: cost of the sendability check (prepare) vs encoding');
const smallArg = { a: 1, b: 'text', c: [1, 2, 3], d: { e: true } };
const numbers = Array.from({ length: 10_000 }, (_, i) => i * 1.5);
const numbersInt = Array.from({ length: 10_000 }, (_, i) => i);
const f64 = new Float64Array(10_000);
for (const [label, value, batch] of [
  ['small object argument', smallArg, 1000],
  ['10k-element array of doubles', numbers, 20],
  ['10k-element array of small ints', numbersInt, 20],
  ['Float64Array(10k) (not walked)', f64, 100],
]) {
  const check = measure(() => (sink += prepare(value, 'args') === value ? 1 : 0), batch);
  const pack = measure(() => (sink += raw.pack(value).length), batch);
  const full = measure(() => (sink += encode(value, 'args').length), batch);
  row(`${label}: prepare()`, check);
  row(`${label}: msgpackr pack() alone`, pack);
  row(`${label}: encode() = both`, full);
  console.log(`  ${''.padEnd(58)} check = ${((100 * (1 / check)) / (1 / pack)).toFixed(1)}% of pack time`);
}
const err = Object.assign(new TypeError('bad input', { cause: new Error('root') }), { code: 'E_BAD' });
const errBytes = encode([2, 1, err]);
row(
  'encode([Error, id, TypeError with cause and code])',
  measure(() => (sink += encode([2, 1, err]).length), 100),
);
row(
  'decode of the same',
  measure(() => (sink += decode(errBytes).length), 100),
);

// ── frames ─────────────────────────────────────────────────────────────────────────────────────────
console.log('\nframes: FrameDecoder throughput');
function decoderThroughput(payloadSize, frames, chunkSize) {
  const stream = Buffer.concat(
    Array.from({ length: frames }, (_, i) => encodeFrame(1 + (i % 8), Buffer.alloc(payloadSize, i))),
  );
  const chunksList = [];
  for (let off = 0; off < stream.length; off += chunkSize) chunksList.push(stream.subarray(off, off + chunkSize));
  let delivered = 0;
  const passes = measure(() => {
    const d = new FrameDecoder({ onFrame: () => delivered++ });
    for (const c of chunksList) d.push(c);
  }, 1);
  return { bytesPerSec: passes * stream.length, framesPerSec: passes * frames };
}
for (const [payload, count, chunk] of [
  [64, 20_000, 65536],
  [1024, 4_000, 65536],
  [60, 20_000, 1500],
  [1 << 20, 16, 65536],
]) {
  const { bytesPerSec, framesPerSec } = decoderThroughput(payload, count, chunk);
  console.log(
    `  ${`${payload} B payloads in ${chunk} B chunks`.padEnd(58)} ${fmt(framesPerSec).padStart(10)}frames/s  ${(bytesPerSec / 2 ** 20).toFixed(0)} MiB/s`,
  );
}
{
  const stream = encodeFrame(3, Buffer.alloc(1 << 24));
  const list = [];
  for (let off = 0; off < stream.length; off += 65536) list.push(stream.subarray(off, off + 65536));
  const passes = measure(() => {
    const r = new FrameRouter({ onPiece: () => {}, onControlFrame: () => {} });
    for (const c of list) r.push(c);
  }, 1);
  console.log(
    `  ${'FrameRouter cut-through, 16 MiB frame in 64 KiB chunks'.padEnd(58)} ${fmt(passes * list.length).padStart(10)}pieces/s (zero-copy)`,
  );
}

// ── writer ─────────────────────────────────────────────────────────────────────────────────────────
console.log('\nframes: FrameWriter coalescing (counting Writable)');
class Counting extends Writable {
  calls = 0;
  bytes = 0;
  _write(chunk, _e, cb) {
    this.calls++;
    this.bytes += chunk.length;
    cb();
  }
  _writev(chunks, cb) {
    this.calls++;
    for (const c of chunks) this.bytes += c.chunk.length;
    cb();
  }
}
const tick = () => new Promise((r) => setImmediate(r));
async function writerPattern(pattern) {
  const s = new Counting({ highWaterMark: 1 << 20 });
  const w = new FrameWriter(s);
  const payload = Buffer.alloc(100);
  const rounds = 200;
  const t0 = performance.now();
  for (let round = 0; round < rounds; round++) {
    if (pattern === 'sync') {
      for (let i = 0; i < 50; i++) w.write(1, payload);
    } else {
      // 50 concurrent async tasks completing in the same turn, each after a few awaits
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          for (let k = 0; k < i % 4; k++) await Promise.resolve(); // one microtask tick
          w.write(1, payload);
        }),
      );
    }
    await tick();
  }
  const ms = performance.now() - t0;
  return { writesPerRound: s.calls / rounds, ms };
}
// each configuration runs REPS times, alternating which goes first (JIT warm-up), best time reported
const REPS = QUICK ? 2 : 5;
async function bestOf(modes, run) {
  const best = new Map(modes.map((m) => [m, { ms: Infinity }]));
  await run(modes[0]); // warm-up
  for (let rep = 0; rep < REPS; rep++) {
    for (const mode of rep % 2 ? [...modes].reverse() : modes) {
      const result = await run(mode);
      if (result.ms < best.get(mode).ms) best.set(mode, result);
    }
  }
  return best;
}
const writerBest = await bestOf(['sync', 'async'], (pattern) => writerPattern(pattern));
for (const [pattern, { writesPerRound, ms }] of writerBest) {
  console.log(
    `  ${`50 frames/turn, ${pattern} producers`.padEnd(58)} ${writesPerRound.toFixed(1).padStart(6)} writes/turn  ${ms.toFixed(1)} ms / 200 turns`,
  );
}

console.log('\nframes: FrameWriter over a real AF_UNIX socket (100 B payloads, 100k frames, best of runs)');
async function socketRun(send) {
  const dir = mkdtempSync(join(tmpdir(), 'wire-bench-'));
  const path = join(dir, 's');
  let received = 0;
  const expected = 100_000 * 108;
  const server = createServer((sock) => {
    sock.on('data', (c) => {
      received += c.length;
      if (received >= expected) sock.end();
    });
  });
  server.listen(path);
  await once(server, 'listening');
  const client = connect(path);
  await once(client, 'connect');
  const done = once(client, 'end');
  client.resume();
  const t0 = performance.now();
  await send(client);
  await done;
  const ms = performance.now() - t0;
  client.destroy();
  server.close();
  rmSync(dir, { recursive: true, force: true });
  return { ms };
}
const payload100 = Buffer.alloc(100, 1);
const socketModes = {
  /** 100 frames per turn from synchronous code */
  'FrameWriter, sync batches': (sock) => produce(sock, new FrameWriter(sock), false),
  /** 100 frames per turn from async tasks that finish after 0..3 awaits */
  'FrameWriter, async producers': (sock) => produce(sock, new FrameWriter(sock), true),
  'naive: socket.write(header+payload copy) per frame': async (sock) => {
    for (let i = 0; i < 1000; i++) {
      for (let j = 0; j < 100; j++) sock.write(encodeFrame(1, payload100));
      if (sock.writableNeedDrain) await once(sock, 'drain');
      else await tick();
    }
  },
};
async function produce(sock, w, async) {
  for (let i = 0; i < 1000; i++) {
    if (async) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, j) => {
          for (let k = 0; k < j % 4; k++) await Promise.resolve(); // one microtask tick
          w.write(1, payload100);
        }),
      );
    } else {
      for (let j = 0; j < 100; j++) w.write(1, payload100);
    }
    if (sock.writableNeedDrain) await once(sock, 'drain');
    else await tick();
  }
}
const socketBest = await bestOf(Object.keys(socketModes), (mode) => socketRun(socketModes[mode]));
for (const [mode, { ms }] of socketBest) {
  console.log(`  ${mode.padEnd(58)} ${fmt((100_000 * 1000) / ms).padStart(10)}frames/s  ${ms.toFixed(0)} ms`);
}

console.log(`\n(done; checksum ${sink % 1000})`);
