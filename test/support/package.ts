// The package as a user gets it: `npm pack` of the built checkout (dist/ as `npm test` built it), installed
// with npm into a fresh directory of its own, with the README's first example (read from README.md itself,
// so the two cannot drift) saved there as example.mjs. Used by test/package (inside the sandbox) and
// test/sandbox (`npx unitpool sandbox -- node example.mjs` on the host).
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const run = promisify(execFile);

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The one ```js block between the README's first-example markers. */
export function readmeFirstExample(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- readme:first-example:start');
  const end = readme.indexOf('<!-- readme:first-example:end -->');
  if (start < 0 || end < start) throw new Error('README.md has no <!-- readme:first-example:start ... end --> markers');
  const blocks = [...readme.slice(start, end).matchAll(/^```js\n([\s\S]*?)^```$/gm)];
  if (blocks.length !== 1)
    throw new Error(`expected one js block between the first-example markers, found ${blocks.length}`);
  return blocks[0]![1]!;
}

export interface InstalledPackage {
  /** The user's project: package.json, node_modules/, example.mjs. */
  app: string;
  /** app/node_modules/unitpool. */
  pkg: string;
  /** Removes everything. */
  remove(): void;
}

/**
 * Packs the checkout and installs the tarball into a fresh directory below the checkout's .cache/
 * (git-ignored; not the shared /tmp, and readable by the users the example's workers may run as).
 */
export async function installPackedTarball(): Promise<InstalledPackage> {
  mkdirSync(join(ROOT, '.cache'), { recursive: true });
  const work = mkdtempSync(join(ROOT, '.cache', 'package-test-'));
  const remove = () => rmSync(work, { recursive: true, force: true });
  try {
    chmodSync(work, 0o755);
    // --ignore-scripts: npm test has built dist/ already, and prepack's rebuild would rewrite it under the
    // test files running beside this one.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
    const tarball = join(work, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
    const app = join(work, 'app');
    mkdirSync(app, { mode: 0o755 });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'readme-example', private: true }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app });
    writeFileSync(join(app, 'example.mjs'), readmeFirstExample());
    return { app, pkg: join(app, 'node_modules', 'unitpool'), remove };
  } catch (e) {
    remove();
    throw e;
  }
}

/** Checks the example's output: 3, then 1 4 9, then the unit's name and its usage. */
export function exampleOutputProblem(stdout: string): string | undefined {
  const lines = stdout.trim().split('\n');
  if (lines.slice(0, 4).join(' ') !== '3 1 4 9') return `expected 3, 1, 4, 9 first, got:\n${stdout}`;
  if (!/^unitpool-[0-9a-f]+\.service \{[\s\S]*cpuUsec/.test(lines.slice(4).join('\n')))
    return `expected the unit's name and usage after them, got:\n${stdout}`;
  return undefined;
}
