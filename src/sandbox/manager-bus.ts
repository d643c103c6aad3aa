// The few calls the launcher makes to the sandbox's systemd over its bus (a one-off connection each): the
// manager's Version, to know it answers, and Exit, for a graceful stop. Failures are DBusCallErrors.

import dbus from 'dbus-next';
import { DBusCallError } from '../errors.js';

/** The system bus inside the sandbox, as processes in it see it. */
export const INNER_BUS_ADDRESS = 'unix:path=/run/dbus/system_bus_socket';

/** Reads a property of org.freedesktop.systemd1.Manager over the bus at `address`. */
export async function getManagerProperty(address: string, name: string, timeoutMs = 2000): Promise<unknown> {
  const reply = await busCall(
    address,
    {
      destination: 'org.freedesktop.systemd1',
      path: '/org/freedesktop/systemd1',
      interface: 'org.freedesktop.DBus.Properties',
      member: 'Get',
      signature: 'ss',
      body: ['org.freedesktop.systemd1.Manager', name],
    },
    timeoutMs,
  );
  const v = reply?.body?.[0] as { value?: unknown } | undefined;
  return v?.value;
}

export async function callManager(address: string, member: string, timeoutMs: number): Promise<void> {
  await busCall(
    address,
    {
      destination: 'org.freedesktop.systemd1',
      path: '/org/freedesktop/systemd1',
      interface: 'org.freedesktop.systemd1.Manager',
      member,
    },
    timeoutMs,
  );
}

async function busCall(address: string, msg: dbus.MessageLike, timeoutMs: number): Promise<dbus.Message | null> {
  const bus = dbus.sessionBus({ busAddress: address });
  let timer: NodeJS.Timeout | undefined;
  const call = bus.call(new dbus.Message(msg));
  call.catch(() => {}); // a late failure after the race is settled must not be an unhandled rejection
  const member = msg.member ?? 'call';
  try {
    return await Promise.race([
      call,
      new Promise<never>((_, reject) => {
        bus.on('error', (e: Error) => reject(e));
        timer = setTimeout(
          () =>
            reject(
              new DBusCallError(
                member,
                'org.freedesktop.DBus.Error.Timeout',
                `no answer on ${address} within ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    if (err instanceof DBusCallError) throw err;
    const e = err as { type?: unknown; text?: unknown; message?: unknown };
    const name = typeof e.type === 'string' ? e.type : 'org.freedesktop.DBus.Error.Failed';
    throw new DBusCallError(member, name, String(e.text ?? e.message ?? err), { cause: err });
  } finally {
    if (timer) clearTimeout(timer);
    try {
      bus.disconnect();
    } catch {
      /* already closed */
    }
  }
}
