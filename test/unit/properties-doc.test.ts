// docs/properties.md and the README's tier table are rendered from the property table and
// test/properties-enforced/coverage.ts: every property has a test that proves it, every test named there exists,
// every test claimed for the v2 VM is in a file the VM tier runs, and both documents are up to date (`-u` rewrites
// them).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { VM_TESTS } from '../../scripts/vm/tests.mjs';
import { PROPERTY_NAMES, type PropertyName, TABLE } from '../../src/properties/index.js';
import { cgroupDependent, COVERAGE, propertiesDoc, tiersTable, v1Why, v2Of } from '../properties-enforced/coverage.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = join(ROOT, 'test', 'properties-enforced');
const source = (file: string) => readFileSync(join(dir, `${file}.test.ts`), 'utf8');

/** Whether `text` has a test titled `title` (or starting so), including one made by it.each('%s<rest>') for `name`. */
function hasTest(text: string, title: string, name: PropertyName): boolean {
  if (text.includes(title)) return true;
  const rest = title.startsWith(name) ? title.slice(name.length) : undefined;
  return rest !== undefined && text.includes(`%s${rest}`) && text.includes(`['${name}'`);
}

describe('docs/properties.md', () => {
  test('every property of the table has a test', () => {
    expect(Object.keys(COVERAGE).sort()).toEqual([...PROPERTY_NAMES].sort());
  });

  test.each(PROPERTY_NAMES)('%s: the test named for it exists', (name) => {
    const { file, test: title } = COVERAGE[name];
    expect(hasTest(source(file), title, name), `${file}.test.ts has no test "${title}"`).toBe(true);
  });

  test.each(PROPERTY_NAMES)('%s: refused on v1 says why in a few words', (name) => {
    const why = v1Why(name);
    if (COVERAGE[name].v1.startsWith('refused')) expect(why?.length, `${name} has no why`).toBeGreaterThan(5);
    if (why !== undefined) expect(why.length).toBeLessThanOrEqual(40);
  });

  test.each(PROPERTY_NAMES)('%s: the v2 VM tier tests it in a file it runs, or says why not', (name) => {
    const v2 = v2Of(name);
    // Where the cgroup version can matter, a test on v2 or an explicit reason: never the default.
    if (cgroupDependent(name))
      expect(COVERAGE[name].v2, `${name} depends on the cgroup version: coverage must say what v2 shows`).toBeDefined();
    if ('na' in v2) {
      expect(v2.na.length).toBeLessThanOrEqual(70);
      return;
    }
    const selected = VM_TESTS.some((t) => `${v2.file}.test.ts` === t || v2.file.startsWith(`${t}/`));
    expect(
      selected,
      `${v2.file}.test.ts is not among the VM tier's tests (scripts/vm/tests.mjs: ${VM_TESTS.join(', ')})`,
    ).toBe(true);
    const text = readFileSync(join(ROOT, `${v2.file}.test.ts`), 'utf8');
    expect(hasTest(text, v2.test, name), `${v2.file}.test.ts has no test "${v2.test}"`).toBe(true);
    if (v2.status === 'refused') expect(v2.detail?.length, 'a refusal on v2 says why').toBeGreaterThan(5);
  });

  test('the cgroup-v2-only properties are tested on v2', () => {
    const v2Only = PROPERTY_NAMES.filter((n) => TABLE[n].needs.cgroupV2Only);
    expect(
      v2Only.filter((n) => {
        const v2 = v2Of(n);
        return 'na' in v2 || v2.status === 'refused';
      }),
    ).toEqual([]);
  });

  test('is up to date', async () => {
    await expect(propertiesDoc()).toMatchFileSnapshot('../../docs/properties.md');
  });

  test("README's option table, with a column per tier, is up to date", () => {
    const path = join(ROOT, 'README.md');
    const readme = readFileSync(path, 'utf8');
    const begin =
      '<!-- tiers table: generated from src/properties/table.ts and test/properties-enforced/coverage.ts (test/unit/properties-doc.test.ts; -u rewrites it) -->';
    const end = '<!-- end of the tiers table -->';
    const [i, j] = [readme.indexOf(begin), readme.indexOf(end)];
    expect(i, `README.md has no line ${begin}`).toBeGreaterThanOrEqual(0);
    expect(j, `README.md has no line ${end}`).toBeGreaterThan(i);
    const want = `${readme.slice(0, i + begin.length)}\n${tiersTable()}\n${readme.slice(j)}`;
    if (want !== readme && expect.getState().snapshotState.snapshotUpdateState === 'all') writeFileSync(path, want);
    else expect(readme, 'README.md is out of date: npx vitest run test/unit/properties-doc.test.ts -u').toBe(want);
  });
});
