#!/usr/bin/env node
// The VM test tier: runs a command (by default the systemd integration tests) inside a Debian 12 VM
// whose PID 1 is systemd on a pure cgroup v2 hierarchy, and exits with the command's status.
//
//   node scripts/vm/run.mjs [options] [-- command args...]        (npm run test:vm [-- options])
//
//   --install        as root: apt-get install what is missing (qemu-system-x86 qemu-utils mmdebstrap)
//   --rebuild        build the image even if a cached one matches
//   --no-build       skip `npm run build` on the host (dist/ must be current)
//   --timeout SEC    kill the VM after SEC seconds (default 720; the image build is not counted);
//                    the guest stops the command itself at SEC-120 s and reports what was running
//   --smp N          virtual CPUs (default 2)
//   --memory MB      guest memory (default 2048)
//   --keep           keep the run directory (.vm-cache/runs/...) even when the command passed
//   --verbose        also print the guest console (kernel, systemd) as it comes
//   -- command...    run this instead of the tests (in the project directory, as root, in the guest)
//
// How (see docs/vm.md): the image (scripts/vm/image/build.sh: mmdebstrap + mkfs.ext4 -d) is cached
// under .vm-cache/images/<hash of scripts/vm/image/* and the mirror>. Each run boots it under qemu
// with software emulation (-accel tcg: the host's /dev/kvm is a paravirtual KVM that hangs stock
// kernels) from a throw-away qcow2 overlay, with three 9p shares: the project (read-only, same path
// as on the host), the directory of this node binary (read-only, bind-mounted at the same path), and
// a per-run `vmio` directory. The guest's unitpool-vm-command.service runs vmio/command, writes
// vmio/output and vmio/status, and powers the VM off. qemu is killed by its PID on timeout.
//
// Exit status: the command's; 124 on timeout; 125 if the VM failed (no status came back);
// 2 for usage errors and missing tools.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VM_TESTS } from './tests.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const IMAGE_INPUTS = join(HERE, 'image');
const CACHE = join(ROOT, '.vm-cache');
const MIRROR = process.env.UNITPOOL_VM_MIRROR || 'http://deb.debian.org/debian';
const T0 = Date.now();

// The tests that run in the VM (scripts/vm/tests.mjs): the pool's integration tests and the cgroup-v2 ones. One
// file at a time (2 vCPUs under emulation); generous timeouts: CPU-bound JavaScript is ~20-30x slower there.
const DEFAULT_COMMAND = [
  'node',
  'node_modules/vitest/vitest.mjs',
  'run',
  '--pool=forks',
  '--maxWorkers=1',
  '--no-file-parallelism',
  '--testTimeout=240000',
  '--hookTimeout=240000',
  '--teardownTimeout=60000',
  '--reporter=verbose',
  '--reporter=json',
  '--outputFile.json=/run/unitpool-vm/io/vitest.json',
  ...VM_TESTS,
];

const log = (msg) => process.stderr.write(`vm: ${msg}\n`);
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

function usage(msg) {
  if (msg) log(msg);
  process.stderr.write(
    readFileSync(fileURLToPath(import.meta.url), 'utf8')
      .split('\n')
      .slice(4, 18)
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n') + '\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    install: false,
    rebuild: false,
    build: true,
    timeout: 720,
    smp: 2,
    memory: 2048,
    keep: false,
    verbose: false,
    command: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || !/^\d+$/.test(v)) usage(`${a} needs a number`);
      return Number(v);
    };
    if (a === '--') {
      o.command = argv.slice(i + 1);
      if (o.command.length === 0) usage('nothing after --');
      break;
    } else if (a === '--install') o.install = true;
    else if (a === '--rebuild') o.rebuild = true;
    else if (a === '--no-build') o.build = false;
    else if (a === '--timeout') o.timeout = value();
    else if (a === '--smp') o.smp = value();
    else if (a === '--memory') o.memory = value();
    else if (a === '--keep') o.keep = true;
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown option ${a}`);
  }
  return o;
}

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = join(dir || '.', cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

// tool -> Debian package. The runner needs the first two; building the image needs the rest.
const RUN_TOOLS = { 'qemu-system-x86_64': 'qemu-system-x86', 'qemu-img': 'qemu-utils' };
const BUILD_TOOLS = { mmdebstrap: 'mmdebstrap', 'mkfs.ext4': 'e2fsprogs', xz: 'xz-utils', flock: 'util-linux' };

function missingTools(tools) {
  return Object.entries(tools).filter(([t]) => !which(t));
}

function ensureTools(tools, install) {
  let missing = missingTools(tools);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map(([, p]) => p))];
  const isRoot = process.getuid?.() === 0;
  if (install && isRoot) {
    log(`installing ${pkgs.join(' ')} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const up = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const inst =
      up.status === 0 &&
      spawnSync('apt-get', ['install', '-y', '-qq', '-o', 'Dpkg::Use-Pty=0', '--no-install-recommends', ...pkgs], {
        stdio: 'inherit',
        env,
      });
    if (!inst || inst.status !== 0) {
      log(`apt-get install ${pkgs.join(' ')} failed`);
      process.exit(2);
    }
    missing = missingTools(tools);
    if (missing.length === 0) return;
  }
  log(`missing: ${missing.map(([t, p]) => `${t} (Debian package ${p})`).join(', ')}`);
  log(`the VM test tier needs qemu (software emulation) and mmdebstrap. Install them with`);
  log(`    sudo apt-get install --no-install-recommends qemu-system-x86 qemu-utils mmdebstrap`);
  log(`or, as root, let this script do it: npm run test:vm -- --install`);
  process.exit(2);
}

/** The image's cache key: every file under scripts/vm/image (names and contents) and the mirror. */
function imageKey() {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else
        h.update(`${relative(IMAGE_INPUTS, p)}\0${statSync(p).mode & 0o111 ? 'x' : '-'}\0`)
          .update(readFileSync(p))
          .update('\0');
    }
  };
  walk(IMAGE_INPUTS);
  h.update(`mirror\0${MIRROR}`);
  return h.digest('hex').slice(0, 16);
}

function imageReady(dir) {
  return ['rootfs.img', 'vmlinux', 'initrd.img', 'manifest.json'].every((f) => existsSync(join(dir, f)));
}

/** Reuses the cached image or builds it (under a lock, so concurrent runs build it once). */
function ensureImage(opts) {
  const key = imageKey();
  const images = join(CACHE, 'images');
  const dir = join(images, key);
  const t = Date.now();
  if (opts.rebuild && imageReady(dir)) rmSync(dir, { recursive: true, force: true });
  if (imageReady(dir)) {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    log(`image ${key}: cached (built ${m.builtAt} in ${m.buildSeconds} s; kernel ${m.kernel})`);
    return { dir, key, built: false, ms: Date.now() - t };
  }
  ensureTools(BUILD_TOOLS, opts.install);
  if (process.getuid?.() !== 0) {
    log('building the VM image needs root (mmdebstrap in root mode keeps file ownership); run this once as root');
    process.exit(2);
  }
  mkdirSync(images, { recursive: true });
  log(
    `image ${key}: building (mmdebstrap bookworm + mkfs.ext4 -d, about 1-2 minutes; log in .vm-cache/images/${key}.log)`,
  );
  const logFd = openSync(join(images, `${key}.log`), 'w');
  const r = spawnSync('flock', [join(CACHE, 'image.lock'), 'bash', join(IMAGE_INPUTS, 'build.sh'), dir], {
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, UNITPOOL_VM_MIRROR: MIRROR, UNITPOOL_VM_APT_CACHE: join(CACHE, 'apt-archives') },
  });
  closeSync(logFd);
  if (r.status !== 0 || !imageReady(dir)) {
    const tail = readFileSync(join(images, `${key}.log`), 'utf8')
      .split('\n')
      .slice(-30)
      .join('\n');
    log(`image build failed (status ${r.status}); the end of its log:\n${tail}`);
    process.exit(125);
  }
  // Keep the new image and the most recent other one; older ones only take space (~700 MB each).
  const others = readdirSync(images)
    .filter((n) => /^[0-9a-f]{16}$/.test(n) && n !== key)
    .map((n) => ({ n, m: statSync(join(images, n)).mtimeMs }))
    .sort((a, b) => b.m - a.m);
  for (const { n } of others.slice(1)) {
    rmSync(join(images, n), { recursive: true, force: true });
    rmSync(join(images, `${n}.log`), { force: true });
  }
  const ms = Date.now() - t;
  log(`image ${key}: built in ${secs(ms)}`);
  return { dir, key, built: true, ms };
}

const shq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

function pruneRuns(runs, keepName) {
  if (!existsSync(runs)) return;
  const old = readdirSync(runs)
    .filter((n) => n !== keepName)
    .sort()
    .reverse()
    .slice(3);
  for (const n of old) rmSync(join(runs, n), { recursive: true, force: true });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    log(
      `the VM tier boots an x86-64 Debian guest that runs this host's node binary: it needs an x86-64 Linux host (this is ${process.platform}/${process.arch})`,
    );
    process.exit(2);
  }
  ensureTools(RUN_TOOLS, opts.install);
  const image = ensureImage(opts);

  let buildMs = 0;
  if (opts.build) {
    const t = Date.now();
    log('npm run build (host)');
    const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    buildMs = Date.now() - t;
    if (r.status !== 0) {
      log(`npm run build failed (status ${r.status})`);
      process.exit(r.status || 1);
    }
  }

  // The run directory: overlay, IO test disk, console log, and the vmio share.
  const runs = join(CACHE, 'runs');
  const runName = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${process.pid}`;
  const run = join(runs, runName);
  const io = join(run, 'io');
  mkdirSync(io, { recursive: true });
  pruneRuns(runs, runName);
  const overlay = join(run, 'overlay.qcow2');
  const q = spawnSync(
    'qemu-img',
    ['create', '-q', '-f', 'qcow2', '-b', join(image.dir, 'rootfs.img'), '-F', 'raw', overlay],
    { encoding: 'utf8' },
  );
  if (q.status !== 0) {
    log(`qemu-img create failed: ${q.stderr}`);
    process.exit(125);
  }
  // A second virtio disk (serial unitpool-io) for the IO bandwidth tests: sparse, 512 MiB.
  const ioDisk = join(run, 'io-disk.img');
  closeSync(openSync(ioDisk, 'w'));
  spawnSync('truncate', ['-s', '512M', ioDisk]);

  const node = realpathSync(process.execPath);
  const project = realpathSync(ROOT);
  // The guest stops the command itself a little before the host would kill the VM (boot and power-off
  // take well under 2 minutes), so that it can report what was still running.
  const deadline = Math.max(30, opts.timeout - 120);
  writeFileSync(
    join(io, 'env'),
    `UNITPOOL_VM_PROJECT=${shq(project)}\nUNITPOOL_VM_NODE=${shq(process.execPath)}\nUNITPOOL_VM_NODE_REAL=${shq(node)}\nUNITPOOL_VM_DEADLINE=${deadline}\n`,
  );
  const command = opts.command ?? DEFAULT_COMMAND;
  const passEnv = ['CI', 'NO_COLOR', 'FORCE_COLOR', 'DEBUG'].filter((k) => process.env[k] !== undefined);
  writeFileSync(
    join(io, 'command'),
    [
      '# written by scripts/vm/run.mjs; runs in the guest as root, in the project directory',
      ...passEnv.map((k) => `export ${k}=${shq(process.env[k])}`),
      `exec ${command.map(shq).join(' ')}`,
      '',
    ].join('\n'),
  );

  const cmdline = [
    'console=ttyS0',
    'quiet',
    'loglevel=4',
    'panic=1',
    'systemd.unified_cgroup_hierarchy=1',
    'systemd.show_status=0',
    // TCG's TSCs look unsynchronized to the kernel, which then falls back to the HPET: every clock read
    // becomes an emulated MMIO access. The TSC is fine here.
    'tsc=reliable',
    'mitigations=off',
  ].join(' ');
  const consoleLog = join(run, 'console.log');
  const args = [
    '-machine',
    'pc',
    '-accel',
    'tcg,thread=multi',
    '-cpu',
    'max',
    '-smp',
    String(opts.smp),
    '-m',
    String(opts.memory),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-kernel',
    join(image.dir, 'vmlinux'),
    '-initrd',
    join(image.dir, 'initrd.img'),
    '-append',
    cmdline,
    '-drive',
    `file=${overlay},if=none,id=root,format=qcow2,cache=unsafe`,
    '-device',
    'virtio-blk-pci,drive=root',
    '-drive',
    `file=${ioDisk},if=none,id=iodisk,format=raw,cache=unsafe`,
    '-device',
    'virtio-blk-pci,drive=iodisk,serial=unitpool-io',
    '-virtfs',
    `local,path=${io},mount_tag=vmio,security_model=none,id=vmio`,
    '-virtfs',
    `local,path=${project},mount_tag=project,security_model=none,readonly=on,id=project`,
    '-virtfs',
    `local,path=${dirname(node)},mount_tag=hostnode,security_model=none,readonly=on,id=hostnode`,
    '-serial',
    `file:${consoleLog}`,
  ];
  log(`booting Debian 12 under qemu (tcg, ${opts.smp} vCPUs, ${opts.memory} MB); run directory ${relative(ROOT, run)}`);
  const tBoot = Date.now();
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'inherit', 'pipe'] });
  let qemuErr = '';
  qemu.stderr.on('data', (c) => (qemuErr += c));
  const exited = new Promise((resolve) => qemu.on('exit', (code, signal) => resolve({ code, signal })));
  const killQemu = () => {
    if (qemu.exitCode === null && qemu.signalCode === null) {
      try {
        process.kill(qemu.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  let interrupted;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      interrupted = sig;
      log(`${sig}: stopping the VM (qemu pid ${qemu.pid})`);
      killQemu();
    });
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    log(`timeout: the VM ran longer than ${opts.timeout} s; killing qemu (pid ${qemu.pid})`);
    killQemu();
  }, opts.timeout * 1000);

  // Follow the guest's output (and the console with --verbose) while it runs.
  const follow = (path, out) => {
    let pos = 0;
    return () => {
      let fd;
      try {
        fd = openSync(path, 'r');
      } catch {
        return;
      }
      try {
        const buf = Buffer.alloc(65536);
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, pos);
          if (n <= 0) break;
          pos += n;
          out.write(buf.subarray(0, n));
        }
      } finally {
        closeSync(fd);
      }
    };
  };
  const pumpOutput = follow(join(io, 'output'), process.stdout);
  const pumpConsole = opts.verbose ? follow(consoleLog, process.stderr) : () => {};
  let tCommand;
  const poll = setInterval(() => {
    if (tCommand === undefined && existsSync(join(io, 'started'))) {
      tCommand = Date.now();
      log(`command started in the guest ${secs(tCommand - tBoot)} after qemu started`);
    }
    pumpConsole();
    pumpOutput();
  }, 250);

  const { code, signal } = await exited;
  clearTimeout(timer);
  clearInterval(poll);
  pumpConsole();
  pumpOutput();
  const tEnd = Date.now();

  const statusFile = join(io, 'status');
  const status = existsSync(statusFile) ? Number(readFileSync(statusFile, 'utf8').trim()) : undefined;
  const guestStarted = existsSync(join(io, 'started')) ? readFileSync(join(io, 'started'), 'utf8').split('\n')[0] : '';
  const timings = {
    image: image.built ? 'built' : 'cached',
    imageSeconds: +(image.ms / 1000).toFixed(1),
    hostBuildSeconds: +(buildMs / 1000).toFixed(1),
    bootToCommandSeconds: tCommand !== undefined ? +((tCommand - tBoot) / 1000).toFixed(1) : null,
    guestUptimeAtCommand: guestStarted ? Number(guestStarted.split(' ')[0]) : null,
    commandSeconds: tCommand !== undefined ? +((tEnd - tCommand) / 1000).toFixed(1) : null,
    vmSeconds: +((tEnd - tBoot) / 1000).toFixed(1),
    totalSeconds: +((tEnd - T0) / 1000).toFixed(1),
    status: status ?? null,
  };

  // The vitest summary, as counts (the json reporter of the default command).
  let counts;
  const report = join(io, 'vitest.json');
  if (existsSync(report)) {
    try {
      const j = JSON.parse(readFileSync(report, 'utf8'));
      counts = {
        passed: j.numPassedTests,
        failed: j.numFailedTests,
        skipped: j.numPendingTests + j.numTodoTests,
        files: j.numTotalTestSuites,
      };
      timings.tests = counts;
    } catch {
      /* not written completely */
    }
  }
  writeFileSync(join(CACHE, 'last-run.json'), JSON.stringify(timings, null, 2) + '\n');
  // The report outlives the run directory: scripts/vm/ci.sh checks the docs' v2 claims against it (test/unit/tier-claims.test.ts).
  rmSync(join(CACHE, 'last-vitest.json'), { force: true });
  if (counts) writeFileSync(join(CACHE, 'last-vitest.json'), readFileSync(report));

  log(
    `timings: image ${timings.image} ${secs(image.ms)}, host build ${secs(buildMs)}, ` +
      `boot to command ${timings.bootToCommandSeconds ?? '-'} s (guest uptime ${timings.guestUptimeAtCommand ?? '-'} s), ` +
      `command ${timings.commandSeconds ?? '-'} s, VM ${timings.vmSeconds} s, total ${timings.totalSeconds} s`,
  );
  const consoleTail = () => {
    const text = existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : '';
    return text
      .split('\n')
      .filter((l) => l.trim())
      .slice(-40)
      .join('\n');
  };

  let exitCode;
  if (interrupted) {
    exitCode = 128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[interrupted] ?? 0);
  } else if (timedOut) {
    log(`the VM was killed after ${opts.timeout} s; the end of its console:\n${consoleTail()}`);
    exitCode = 124;
  } else if (status === undefined || Number.isNaN(status)) {
    log(
      `the VM stopped (qemu ${signal ? `killed by ${signal}` : `exit ${code}`}) without reporting the command's status`,
    );
    if (qemuErr.trim()) log(`qemu said: ${qemuErr.trim()}`);
    log(`the end of its console (${relative(ROOT, consoleLog)}):\n${consoleTail()}`);
    exitCode = 125;
  } else {
    exitCode = status;
  }
  if (counts) {
    // A plain closing line: the counts of the tests that ran in the VM.
    process.stdout.write(`vm: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
  if (exitCode === 0 && !opts.keep) rmSync(run, { recursive: true, force: true });
  else log(`kept ${relative(ROOT, run)} (console.log, io/output, overlay.qcow2)`);
  log(`exit status ${exitCode}`);
  process.exit(exitCode);
}

main().catch((e) => {
  log(e?.stack ?? String(e));
  process.exit(125);
});
