// The README's way to run a script where PID 1 is not systemd, as a user would: the packed tarball installed
// into a fresh directory (test/support/package.ts), then `npx unitpool sandbox -- node example.mjs` there with
// the README's first example, on the host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleOutputProblem, installPackedTarball, type InstalledPackage, run } from '../support/package.js';
import { force, skipReason } from './helpers.js';

// Inside a sandbox of ours systemd is PID 1, where the README says to run the example with plain node
// (test/package does that).
const why =
  skipReason ?? (force ? "systemd is PID 1 here: the README's command is for hosts where it is not" : undefined);

describe.skipIf(why !== undefined)(`npx unitpool sandbox -- node example.mjs${why ? ` [skipped: ${why}]` : ''}`, () => {
  let installed: InstalledPackage | undefined;
  beforeAll(async () => {
    installed = await installPackedTarball();
  }, 300_000);
  afterAll(() => installed?.remove());

  it("runs the README's first example from the installed package's own bin", async () => {
    const { stdout } = await run('npx', ['--no-install', 'unitpool', 'sandbox', '--', 'node', 'example.mjs'], {
      cwd: installed!.app,
      timeout: 120_000,
    });
    expect(exampleOutputProblem(stdout)).toBeUndefined();
  }, 150_000);
});
