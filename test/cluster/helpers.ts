// Shared by the cluster tests: a real redis-server of their own (a random loopback port, its files in the
// checkout's .cache/, stopped by PID), and real agents, each `unitpool agent` in its own `unitpool sandbox` (its
// own systemd), simulating one host each. Nothing is mocked.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CLI, ROOT, canBoot, force, hostHasSystemd, isRoot } from '../sandbox/helpers.js';

export { ROOT };

function hasRedis(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Where systemd is PID 1 already, agents run directly (each pool still has its own unit); elsewhere each agent
 * boots its own `unitpool sandbox`.
 */
const direct = hostHasSystemd;

/** Why these tests cannot run here (they need root, sandboxes or systemd, and redis-server), or undefined. */
export const skipReason = !isRoot
  ? 'the agents need root'
  : !canBoot && !direct
    ? 'no systemd and no sandbox here: run npm run build first'
    : hasRedis()
      ? undefined
      : 'redis-server is not installed (apt-get install redis-server)';
export const canRun = skipReason === undefined;

/** A scratch directory of this test file, in the checkout (not the shared /tmp); removed by the caller. */
export function scratch(name: string): string {
  const dir = join(ROOT, '.cache', 'cluster-tests', `${name}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class TestRedis {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly persist: boolean,
  ) {}

  static async start(dir: string, options: { persist?: boolean } = {}): Promise<TestRedis> {
    const redis = new TestRedis(await freePort(), dir, options.persist === true);
    await redis.launch();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', ''];
    args.push(
      '--appendonly',
      this.persist ? 'yes' : 'no',
      '--appendfsync',
      'always',
      '--logfile',
      join(this.dir, 'redis.log'),
    );
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    await until(`redis-server on port ${this.port}`, () => {
      if (child.exitCode !== null)
        throw new Error(`redis-server exited: ${readFileSync(join(this.dir, 'redis.log'), 'utf8')}`);
      return this.cli('PING') === 'PONG';
    });
  }

  /** Runs redis-cli against this server; its output, trimmed. */
  cli(...args: string[]): string {
    try {
      return execFileSync('redis-cli', ['-p', String(this.port), ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return '';
    }
  }

  /** SIGTERM by PID (Redis writes its append-only file and exits), and wait. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    await exited(child);
    this.child = undefined;
  }

  async restart(downMs = 0): Promise<void> {
    await this.stop();
    await new Promise((r) => setTimeout(r, downMs));
    await this.launch();
  }
}

/** The host pid of the process with `innerPid` in the pid namespace under `launcherPid` (a sandbox's launcher). */
function hostPidOf(innerPid: number, launcherPid: number): number | undefined {
  const parent = (pid: number): number | undefined => {
    try {
      return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    } catch {
      return undefined;
    }
  };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let status: string;
    try {
      status = readFileSync(`/proc/${entry}/status`, 'utf8');
    } catch {
      continue;
    }
    const nspid = /^NSpid:\s+(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/).map(Number);
    if (!nspid || nspid.length < 2 || nspid[nspid.length - 1] !== innerPid) continue;
    for (let p: number | undefined = Number(entry), hops = 0; p && hops < 30; p = parent(p), hops++) {
      if (p === launcherPid) return Number(entry);
    }
  }
  return undefined;
}

export interface AgentSpec {
  name: string;
  redis: string;
  queue: string;
  /** Further `unitpool agent` flags: pool flags, --modules, --allow-source, ... */
  flags?: string[];
}

/** `unitpool agent` in its own `unitpool sandbox`: one simulated host. */
export class TestAgent {
  output = '';
  /** The agent's pid inside its sandbox. */
  innerPid = 0;
  private constructor(
    readonly name: string,
    readonly launcher: ChildProcess,
  ) {}

  static async start(spec: AgentSpec): Promise<TestAgent> {
    const args = [
      ...(direct ? [] : [CLI, 'sandbox', ...(force ? ['--force'] : []), '--', process.execPath]),
      CLI,
      'agent',
    ];
    args.push('--redis', spec.redis, '--queue', spec.queue, '--name', spec.name, ...(spec.flags ?? []));
    const launcher = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const agent = new TestAgent(spec.name, launcher);
    const collect = (s: string) => (agent.output += s);
    launcher.stdout!.setEncoding('utf8').on('data', collect);
    launcher.stderr!.setEncoding('utf8').on('data', collect);
    await until(
      `agent ${spec.name} to take jobs`,
      () => {
        if (launcher.exitCode !== null)
          throw new Error(`agent ${spec.name} exited ${launcher.exitCode}:\n${agent.output}`);
        const m = /takes jobs from queue .* \(pid (\d+)\)/.exec(agent.output);
        if (m) agent.innerPid = Number(m[1]);
        return m !== null;
      },
      60_000,
    );
    return agent;
  }

  get exited(): Promise<void> {
    return exited(this.launcher);
  }

  /** SIGKILL to the agent process itself (not its sandbox): its unit and systemd live on, orphaned. */
  killAgentProcess(): void {
    const pid = direct ? this.launcher.pid : hostPidOf(this.innerPid, this.launcher.pid!);
    if (pid === undefined) throw new Error(`agent ${this.name}'s process was not found`);
    process.kill(pid, 'SIGKILL');
  }

  /** The agent's pool's unit, from its ready line. */
  get unit(): string {
    return /in (unitpool-[0-9a-f]+\.service)/.exec(this.output)?.[1] ?? '';
  }

  /** Runs a command in the agent's sandbox (its mount namespace: its systemd's bus), e.g. systemctl. */
  inSandbox(...command: string[]): string {
    const pid = direct ? this.launcher.pid! : hostPidOf(this.innerPid, this.launcher.pid!);
    if (pid === undefined) throw new Error(`agent ${this.name}'s process was not found`);
    return execFileSync(
      'nsenter',
      ['--target', String(pid), '--mount', '--uts', '--ipc', '--pid', '--cgroup', '--', ...command],
      { encoding: 'utf8' },
    );
  }

  /** SIGTERM to the launcher, which passes it to the agent; waits for the sandbox to go. Returns the exit code. */
  async stop(): Promise<number | null> {
    if (this.launcher.exitCode === null && this.launcher.signalCode === null) this.launcher.kill('SIGTERM');
    await this.exited;
    return this.launcher.exitCode;
  }
}

export function writeModules(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, { mode: 0o644 });
}

export function removeScratch(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
