#!/usr/bin/env node
// What one relay hop costs: sequential round trips of a small frame, parent <-> child directly (the raw floor)
// vs parent <-> relay <-> child, where the relay is a Node process forwarding bytes verbatim (what unitpool's
// supervisor does, minus the framing). No systemd needed:   node bench/profile/relay-hop.mjs [rounds]
import { spawn } from 'node:child_process';

const ROUNDS = Number(process.argv[2] ?? 5000);
const role = process.env.RELAY_HOP_ROLE;

if (role === 'echo') {
  // answers each 16-byte frame with the same bytes (one write per read)
  process.stdin.on('data', (c) => process.stdout.write(c));
} else if (role === 'relay') {
  // forwards stdin -> child stdin and child stdout -> stdout, unchanged
  const child = spawn(process.execPath, [process.argv[1]], {
    env: { ...process.env, RELAY_HOP_ROLE: 'echo' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  process.stdin.on('data', (c) => child.stdin.write(c));
  child.stdout.on('data', (c) => process.stdout.write(c));
  process.stdin.on('end', () => child.kill());
} else {
  const frame = Buffer.alloc(16, 1);
  async function measure(kind) {
    const child = spawn(process.execPath, [process.argv[1]], {
      env: { ...process.env, RELAY_HOP_ROLE: kind },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let waiting = null;
    let got = 0;
    child.stdout.on('data', (c) => {
      got += c.length;
      if (got >= 16 && waiting) {
        got -= 16;
        const w = waiting;
        waiting = null;
        w();
      }
    });
    const us = [];
    for (let i = 0; i < ROUNDS + 500; i++) {
      const t = performance.now();
      await new Promise((res) => {
        waiting = res;
        child.stdin.write(frame);
      });
      if (i >= 500) us.push((performance.now() - t) * 1000);
    }
    child.stdin.end();
    child.kill();
    us.sort((a, b) => a - b);
    return { p50: us[us.length >> 1], p99: us[Math.floor(us.length * 0.99)] };
  }
  const rows = [];
  for (let rep = 0; rep < 3; rep++) {
    rows.push({ direct: await measure('echo'), relay: await measure('relay') });
  }
  const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const d = med(rows.map((r) => r.direct.p50));
  const r = med(rows.map((r) => r.relay.p50));
  console.log(
    `direct p50 ${d.toFixed(1)} µs, via relay p50 ${r.toFixed(1)} µs: one relay process adds ${(r - d).toFixed(1)} µs per round trip (2 extra pipe hops)`,
  );
  console.log(JSON.stringify(rows));
}
