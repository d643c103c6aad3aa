#!/usr/bin/env node
// Runs the built examples (dist/examples/*.js), each in a fresh process: `npm run example [-- name...]`.
// Without names it runs all of them. `npm run example` wraps this in `unitpool sandbox --if-needed`, so it
// works on a host without systemd as PID 1 too.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'examples');
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.js'))
  .map((f) => f.slice(0, -3))
  .sort();
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : all;
for (const name of names) {
  if (!all.includes(name)) {
    console.error(`no example named ${name}; there are: ${all.join(', ')}`);
    process.exit(2);
  }
  console.log(`\n== examples/${name}.ts`);
  // The cluster example needs a Redis: UNITPOOL_REDIS, or a redis-server of its own (Debian's package).
  if (name === 'cluster' && !process.env.UNITPOOL_REDIS && spawnSync('redis-server', ['--version']).error) {
    console.log('skipped: it needs redis-server (apt-get install redis-server) or UNITPOOL_REDIS=redis://HOST:PORT');
    continue;
  }
  const run = spawnSync(process.execPath, [join(dir, `${name}.js`)], { stdio: 'inherit' });
  if (run.status !== 0) {
    console.error(`examples/${name}.ts failed (${run.signal ?? `exit ${run.status}`})`);
    process.exit(run.status ?? 1);
  }
}
