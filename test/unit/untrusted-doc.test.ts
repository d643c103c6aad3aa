// docs/untrusted.md names, beside each guarantee, the test that proves it ("[file › test name]"): every name must be
// a test that exists, so that the page cannot promise what nothing checks.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const doc = readFileSync(join(ROOT, 'docs', 'untrusted.md'), 'utf8');

/** The [file › name] references, whitespace collapsed (the page wraps them across lines). */
const refs = [...doc.matchAll(/\[([a-z/-]+)\s+›\s+([^\]]+)\]/g)].map((m) => ({
  file: m[1]!,
  name: m[2]!.replace(/\s+/g, ' ').trim(),
}));

/** A test file's source, with its titles' escaped quotes unescaped. */
function source(file: string): string {
  const base = file.includes('/') ? join(ROOT, 'test', file) : join(ROOT, 'test', 'escape', file);
  const path = [`${base}.test.ts`, `${base}.test.mjs`].find((p) => existsSync(p)) ?? `${base}.test.ts`;
  return readFileSync(path, 'utf8').replace(/\\'/g, "'");
}

describe('docs/untrusted.md', () => {
  test('names tests beside its guarantees', () => {
    expect(refs.length).toBeGreaterThan(15);
  });

  test.each(refs.map((r) => [`${r.file} › ${r.name}`, r] as const))('%s exists', (_, { file, name }) => {
    // "<name>" stands for the parameter of an it.each, which the source spells %s.
    expect(source(file)).toContain(name.replace('<name>', '%s'));
  });
});
