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
