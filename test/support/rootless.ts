// A throwaway user with its own systemd user manager, inside `unitpool sandbox` (test/pool/rootless.test.ts).
// Creating a user edits /etc/passwd, so everything here refuses to run unless it can see that /etc is the
// sandbox's overlay and /run its private tmpfs; the user's home and its copy of unitpool live on that /run.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseMountInfo } from '../../src/sandbox/cgroups.js';
import { type Manager, ROOT, run, userManager, waitFor } from '../vm/helpers.js';

/** Why a test user cannot be created here, or undefined when it can (inside the sandbox, as root). */
export function sandboxUserSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (creates a user and starts its user manager)';
  if (process.env.UNITPOOL_SANDBOX !== '1')
    return 'creates a user: runs only inside `unitpool sandbox` (npm test), where /etc is an overlay on a tmpfs';
  const top = (path: string) =>
    parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))
      .filter((m) => m.mountPoint === path)
      .pop()?.fsType;
  if (top('/etc') !== 'overlay')
    return `/etc is ${top('/etc') ?? 'not a mount point'} here, not the sandbox's overlay: creating a user would change the host`;
  if (top('/run') !== 'tmpfs')
    return `/run is ${top('/run') ?? 'not a mount point'} here, not the sandbox's private tmpfs`;
  const missing = ['useradd', 'userdel', 'systemctl', 'systemd-run'].filter(
    (t) => run('sh', ['-c', `command -v ${t}`]).status !== 0,
  );
  if (missing.length) return `missing ${missing.join(', ')} (apt-get install passwd systemd)`;
  return undefined;
}

/**
 * What a process needs to load the built unitpool: package.json, dist/src, dist/worker-entry, and the runtime
 * dependencies (package-lock.json's non-dev packages that are installed). Copied to `dest`, because the checkout
 * may be unreadable to anyone but root (a CI clone in a mktemp -d directory, mode 0700).
 */
export function copyBuiltPackage(dest: string): void {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const runtime = Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && existsSync(join(ROOT, path)))
    .map(([path]) => path);
  for (const path of ['package.json', 'dist/src', 'dist/worker-entry', ...runtime]) {
    cpSync(join(ROOT, path), join(dest, path), { recursive: true, dereference: true });
  }
}

export interface SandboxUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** Its manager, reached as the user (systemctl --user, systemd-run --user). */
  manager: Manager & { env: NodeJS.ProcessEnv };
  /** The built unitpool, copied where the user can read it: import `${pkg}/dist/src/index.js`. */
  pkg: string;
}

/**
 * Creates `name` with its home and a copy of unitpool under `base` (on the sandbox's /run), plus `files` of this
 * checkout (same relative paths), and starts its manager.
 */
export async function startSandboxUser(name: string, base: string, files: string[] = []): Promise<SandboxUser> {
  const home = join(base, 'home');
  const pkg = join(base, 'unitpool');
  if (run('id', ['-u', name]).status !== 0) {
    // No --create-home: /home is the host's, even inside the sandbox.
    const add = run('useradd', ['--no-create-home', '--home-dir', home, '--shell', '/bin/sh', name]);
    if (add.status !== 0) throw new Error(`useradd ${name}: ${add.stderr}`);
  }
  const uid = Number(run('id', ['-u', name]).stdout.trim());
  const gid = Number(run('id', ['-g', name]).stdout.trim());
  mkdirSync(home, { recursive: true });
  copyBuiltPackage(pkg);
  for (const f of files) cpSync(join(ROOT, f), join(pkg, f), { recursive: true });
  const chown = run('chown', ['-R', `${uid}:${gid}`, base]);
  if (chown.status !== 0) throw new Error(`chown ${base}: ${chown.stderr}`);
  const start = run('systemctl', ['start', `user@${uid}.service`]);
  if (start.status !== 0) {
    const status = run('systemctl', ['status', '--no-pager', `user@${uid}.service`, `user-runtime-dir@${uid}.service`]);
    throw new Error(`systemctl start user@${uid}.service: ${start.stderr}\n${status.stdout}`);
  }
  const manager = userManager({ name, uid, gid, home });
  await waitFor(
    `/run/user/${uid}/bus (the user manager's dbus.socket)`,
    () => existsSync(`/run/user/${uid}/bus`),
    30_000,
  );
  return { name, uid, gid, home, manager, pkg };
}

/**
 * Stops the user's manager and its runtime directory, removes the user and `base`: nothing is left, however far
 * startSandboxUser got.
 */
export async function removeSandboxUser(name: string, base: string): Promise<void> {
  const id = run('id', ['-u', name]);
  if (id.status === 0) {
    const uid = Number(id.stdout.trim());
    run('systemctl', ['stop', `user@${uid}.service`]);
    // user-runtime-dir@ stops on its own once user@ is gone (StopWhenUnneeded) and unmounts /run/user/UID.
    await waitFor(
      `user-runtime-dir@${uid}.service to stop`,
      () =>
        run('systemctl', ['is-active', `user-runtime-dir@${uid}.service`]).stdout.trim() !== 'active' &&
        !existsSync(`/run/user/${uid}`),
      30_000,
    );
    const del = run('userdel', [name]);
    if (del.status !== 0) throw new Error(`userdel ${name}: ${del.stderr}`);
  }
  rmSync(base, { recursive: true, force: true });
}
