// The package as a user gets it: `npm pack` of the built checkout, installed with npm into a fresh directory
// outside the checkout, and the README's first example (read from README.md itself, so the two cannot drift)
// run there with plain `node`, on Node 20 and on Node 22, against the real systemd of the sandbox.
// Also: every source map and declaration map in the installed package resolves to a file it ships, and a
// stack trace under --enable-source-maps names the TypeScript source.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noSystemd, ROOT } from '../cli/helpers.js';

const run = promisify(execFile);

/** The one ```js block between the README's first-example markers. */
function readmeFirstExample(readme: string): string {
  const start = readme.indexOf('<!-- readme:first-example:start');
  const end = readme.indexOf('<!-- readme:first-example:end -->');
  if (start < 0 || end < start) throw new Error('README.md has no <!-- readme:first-example:start ... end --> markers');
  const blocks = [...readme.slice(start, end).matchAll(/^```js\n([\s\S]*?)^```$/gm)];
  if (blocks.length !== 1)
    throw new Error(`expected one js block between the first-example markers, found ${blocks.length}`);
  return blocks[0]![1]!;
}

/** `node --version` of a binary, or undefined if it does not run. */
async function versionOf(node: string): Promise<string | undefined> {
  try {
    return (await run(node, ['--version'])).stdout.trim();
  } catch {
    return undefined;
  }
}

/**
 * A Node 20 and a Node 22 binary. The one running this test is one of them (npm test runs on Node 20,
 * npm run test:node22 on Node 22 with its directory first in PATH); the other is the next `node` in PATH of
 * that major version, and Node 22 comes from scripts/node22.mjs (the pinned, integrity-checked one).
 */
async function nodeBinaries(): Promise<Record<'20' | '22', string>> {
  const found: Partial<Record<'20' | '22', string>> = {};
  const node22 = (await run(process.execPath, [join(ROOT, 'scripts', 'node22.mjs'), '--print-bin'])).stdout.trim();
  found['22'] = join(node22, 'node');
  for (const candidate of [
    process.execPath,
    ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'node')),
  ]) {
    if (found['20'] === undefined && (await versionOf(candidate))?.startsWith('v20.')) found['20'] = candidate;
  }
  if (found['20'] === undefined)
    throw new Error('no Node 20 found (neither this process nor a node in PATH): the package must run on Node 20');
  return found as Record<'20' | '22', string>;
}

/** Every file below `dir`, as paths relative to it. */
function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => statSync(join(dir, f)).isFile());
}

describe.skipIf(noSystemd !== undefined)(
  `the packed tarball, installed${noSystemd ? ` [skipped: ${noSystemd}]` : ''}`,
  () => {
    let work: string;
    let app: string;
    let pkg: string;
    let nodes: Record<'20' | '22', string>;

    beforeAll(async () => {
      // Below os.tmpdir() (inside `unitpool sandbox`, its private /tmp), removed afterwards; 0755 because the
      // example's workers run as nobody and must read the installed package.
      work = mkdtempSync(join(tmpdir(), 'unitpool-install-test-'));
      chmodSync(work, 0o755);
      app = join(work, 'app');
      // --ignore-scripts: npm test has built dist/ already, and prepack's rebuild would rewrite it under the
      // test files running beside this one.
      const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
        cwd: ROOT,
      });
      const tarball = join(work, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
      mkdirSync(app);
      chmodSync(app, 0o755);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'readme-example', private: true }));
      await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app });
      pkg = join(app, 'node_modules', 'unitpool');
      writeFileSync(join(app, 'example.mjs'), readmeFirstExample(readFileSync(join(ROOT, 'README.md'), 'utf8')));
      nodes = await nodeBinaries();
    }, 300_000);

    afterAll(() => {
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('installs with its bin, its built files and the sources its maps name, and none of the tests', () => {
      const files = filesBelow(pkg);
      expect(files).toEqual(
        expect.arrayContaining([
          'dist/src/index.js',
          'dist/src/index.d.ts.map',
          'src/index.ts',
          'LICENSE',
          'CHANGELOG.md',
        ]),
      );
      expect(files.filter((f) => /^(test|bench|examples|scripts)\//.test(f))).toEqual([]);
      expect(readdirSync(join(app, 'node_modules', '.bin'))).toContain('unitpool');
    });

    it('every source map and declaration map resolves to a file in the package', () => {
      const maps = filesBelow(pkg).filter((f) => f.endsWith('.map'));
      expect(maps.length).toBeGreaterThan(50);
      const unresolved: string[] = [];
      for (const map of maps) {
        const { sources, sourceRoot } = JSON.parse(readFileSync(join(pkg, map), 'utf8')) as {
          sources: string[];
          sourceRoot?: string;
        };
        for (const source of sources) {
          const file = resolve(pkg, dirname(map), sourceRoot ?? '', source);
          if (relative(pkg, file).startsWith('..') || !statSync(file, { throwIfNoEntry: false })?.isFile())
            unresolved.push(`${map} -> ${source}`);
        }
      }
      expect(unresolved).toEqual([]);
    });

    it('a stack trace under --enable-source-maps points into the TypeScript source it ships', async () => {
      const probe =
        "import { UnitPool } from 'unitpool'; try { new UnitPool({ properties: { CPUQuta: '50%' } }); } catch (e) { console.log(e.stack); }";
      const { stdout } = await run(nodes['20'], ['--enable-source-maps', '--input-type=module', '-e', probe], {
        cwd: app,
      });
      expect(stdout).toMatch(/CPUQuta/);
      const frame = /(?:file:\/\/)?(\/[^\s():]+\/node_modules\/unitpool\/src\/[\w/.-]+\.ts):(\d+):\d+/.exec(stdout);
      expect(frame, stdout).not.toBeNull();
      const [, file, line] = frame!;
      expect(statSync(file!, { throwIfNoEntry: false })?.isFile(), `${file} is not in the package`).toBe(true);
      expect(readFileSync(file!, 'utf8').split('\n').length).toBeGreaterThanOrEqual(Number(line));
    });

    it.each(['20', '22'] as const)(
      "runs the README's first example with plain node on Node %s",
      async (major) => {
        const node = nodes[major];
        expect(await versionOf(node)).toMatch(new RegExp(`^v${major}\\.`));
        const { stdout } = await run(node, ['example.mjs'], { cwd: app, timeout: 120_000 });
        const lines = stdout.trim().split('\n');
        expect(lines.slice(0, 4)).toEqual(['3', '1', '4', '9']);
        expect(lines.slice(4).join('\n')).toMatch(/^unitpool-[0-9a-f]+\.service \{[\s\S]*cpuUsec/);
      },
      150_000,
    );
  },
);
