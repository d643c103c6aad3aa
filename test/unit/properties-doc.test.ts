// docs/properties.md is rendered from the property table and test/properties-enforced/coverage.ts: every property has
// a test that proves it, every test named there exists, and the document is up to date (`-u` rewrites it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { PROPERTY_NAMES } from '../../src/properties/index.js';
import { COVERAGE, propertiesDoc } from '../properties-enforced/coverage.js';

const dir = join(import.meta.dirname, '..', 'properties-enforced');
const source = (file: string) => readFileSync(join(dir, `${file}.test.ts`), 'utf8');

describe('docs/properties.md', () => {
  test('every property of the table has a test', () => {
    expect(Object.keys(COVERAGE).sort()).toEqual([...PROPERTY_NAMES].sort());
  });

  test.each(PROPERTY_NAMES)('%s: the test named for it exists', (name) => {
    const { file, test: title } = COVERAGE[name];
    const text = source(file);
    if (text.includes(title)) return;
    // A title made by it.each: '%s<rest>' with the property in the table of cases.
    const rest = title.startsWith(name) ? title.slice(name.length) : undefined;
    expect(rest !== undefined && text.includes(`%s${rest}`) && text.includes(`['${name}'`), `${file}.test.ts has no test "${title}"`).toBe(true);
  });

  test('is up to date', async () => {
    await expect(propertiesDoc()).toMatchFileSnapshot('../../docs/properties.md');
  });
});
