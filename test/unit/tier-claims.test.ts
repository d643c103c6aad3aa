// Are the tier columns of docs/properties.md and the README true? Given the vitest JSON report of a tier's run
// (UNITPOOL_TIER=v1 or v2, UNITPOOL_TIER_REPORT=path), every test that coverage.ts names for that tier must have
// run there and passed: not skipped, not missing. scripts/vm/ci.sh runs this after the VM tier (v2); for the v1
// sandbox: node dist/src/cli/main.js sandbox -- npx vitest run test/properties-enforced --reporter=json
// --outputFile.json=report.json, then UNITPOOL_TIER=v1 UNITPOOL_TIER_REPORT=report.json npx vitest run
// test/unit/tier-claims.test.ts. Without a report it is skipped, and says so.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROPERTY_NAMES, type PropertyName } from '../../src/properties/index.js';
import { COVERAGE, v2Of } from '../properties-enforced/coverage.js';

const tier = process.env.UNITPOOL_TIER;
const reportPath = process.env.UNITPOOL_TIER_REPORT;
const skip =
  tier !== 'v1' && tier !== 'v2'
    ? 'set UNITPOOL_TIER=v1|v2 and UNITPOOL_TIER_REPORT to the vitest JSON report of that tier (scripts/vm/ci.sh does for v2)'
    : !reportPath || !existsSync(reportPath)
      ? `no report at UNITPOOL_TIER_REPORT=${reportPath ?? ''}`
      : undefined;
if (skip) console.warn(`tier claims not checked: ${skip}`);

interface Assertion {
  title: string;
  fullName: string;
  status: string;
}

/** The test a property's claim names on this tier: [file from the project root, without .test.ts; title], if any. */
function claim(name: PropertyName): [string, string] | undefined {
  if (tier === 'v1') return [`test/properties-enforced/${COVERAGE[name].file}`, COVERAGE[name].test];
  const v2 = v2Of(name);
  return 'na' in v2 ? undefined : [v2.file, v2.test];
}

describe.skipIf(skip !== undefined)(
  `the ${tier ?? '?'} tier's claims, against ${reportPath ?? 'its report'}${skip ? ` [skipped: ${skip}]` : ''}`,
  () => {
    const report = skip
      ? { testResults: [] }
      : (JSON.parse(readFileSync(reportPath!, 'utf8')) as {
          testResults: { name: string; assertionResults: Assertion[] }[];
        });
    const claimed = PROPERTY_NAMES.filter((n) => claim(n) !== undefined);

    it('names tests for this tier', () => {
      expect(claimed.length).toBeGreaterThanOrEqual(tier === 'v1' ? PROPERTY_NAMES.length : 10);
    });

    it.each(claimed)('%s: the test named for it ran on this tier and passed', (name) => {
      const [file, title] = claim(name)!;
      const results = report.testResults.find(
        (r) => r.name === resolve(`${file}.test.ts`) || r.name.endsWith(`/${file}.test.ts`),
      );
      expect(results, `${file}.test.ts is not in the report`).toBeDefined();
      const statuses = results!.assertionResults.filter((a) => a.title.includes(title)).map((a) => a.status);
      expect(statuses.length, `${file}.test.ts has no test "${title}" in the report`).toBeGreaterThan(0);
      expect(
        statuses.every((s) => s === 'passed'),
        `"${title}": ${statuses.join(', ')}`,
      ).toBe(true);
    });
  },
);
