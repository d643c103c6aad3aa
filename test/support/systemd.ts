// Helpers for tests that talk to the real systemd (the sandbox's, or the host's).
import { SystemdBus } from '../../src/unit/bus.js';

/** Does systemd still know this unit? (GetUnit fails once it is gone or garbage-collected.) */
export async function unitExists(name: string): Promise<boolean> {
  const bus = await SystemdBus.connect('system');
  try {
    await bus.call('/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'GetUnit', 's', [name]);
    return true;
  } catch {
    return false;
  } finally {
    bus.close();
  }
}

import { packageRoot } from '../../src/properties/index.js';

/**
 * What a unit with PrivateTmp sees in its own /tmp before it writes anything: nothing, except that when this
 * checkout lies under /tmp (a CI clone in mktemp -d), unitpool binds its package directory there read-only so that
 * the workers can load; then the first component of that path shows.
 */
export function privateTmpEntries(dir = '/tmp'): string[] {
  const root = packageRoot();
  return root.startsWith(`${dir}/`) ? [root.slice(dir.length + 1).split('/')[0]!] : [];
}

/** Is this path inside a directory that PrivateTmp makes private (and writable) in the unit? */
export function underPrivateTmp(path: string): boolean {
  return path === '/tmp' || path.startsWith('/tmp/') || path === '/var/tmp' || path.startsWith('/var/tmp/');
}
