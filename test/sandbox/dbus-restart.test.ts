// dbus-daemon restarts while a pool runs (issue 5): running tasks are unaffected (the work channel is not
// D-Bus), and shutdown reconnects to stop the unit. Restarting the system bus would disturb every other test
// that talks to it, so this one boots a sandbox of its own and runs the pool in it (test/fixtures/dbus-restart.mjs).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/launcher.js';
import { canBoot, force, ROOT, skipReason } from './helpers.js';

if (skipReason) console.warn(`dbus restart test skipped: ${skipReason}`);

describe.skipIf(!canBoot)('a pool while dbus-daemon restarts', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ force });
  });
  afterAll(async () => {
    await sb?.stop();
  });

  it('finishes its running task, runs the next one, and shutdown still stops the unit', async () => {
    const r = await sb.exec(process.execPath, [join(ROOT, 'test/fixtures/dbus-restart.mjs')], { cwd: ROOT });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(report).toEqual({
      restarted: true,
      result: 'done',
      after: 42,
      state: expect.stringMatching(/^(inactive|gone)$/),
    });
  });
});
