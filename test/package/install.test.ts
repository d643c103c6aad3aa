// The package as a user gets it (test/support/package.ts: the packed tarball installed with npm into a
// fresh directory), and the README's first example, read from README.md itself, run there with plain `node`
// on Node 20 and on Node 22, against the real systemd of the sandbox.
// Also: every source map and declaration map in the installed package resolves to a file it ships, and a
// stack trace under --enable-source-maps names the TypeScript source.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noSystemd, ROOT } from '../cli/helpers.js';
import { exampleOutputProblem, installPackedTarball, type InstalledPackage, run } from '../support/package.js';

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
    let installed: InstalledPackage | undefined;
    let app: string;
    let pkg: string;
    let nodes: Record<'20' | '22', string>;

    beforeAll(async () => {
      installed = await installPackedTarball();
      ({ app, pkg } = installed);
      nodes = await nodeBinaries();
    }, 300_000);

    afterAll(() => installed?.remove());

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
        expect(exampleOutputProblem(stdout)).toBeUndefined();
      },
      150_000,
    );
  },
);
