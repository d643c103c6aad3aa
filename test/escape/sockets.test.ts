// The attacker reaches for sockets: from inside a task of an untrusted pool, it connects to the system bus, systemd's
// private socket, the journal, a world-writable AF_UNIX socket of the host, an abstract socket, and sends datagrams.
// By design none can work: the untrusted filter denies socket(2) itself, so no process of the unit can make a socket
// to connect, bind or send with (socketpair(2) stays, for the supervisor's channels and child processes' stdio).
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnitPool } from '../../src/index.js';
import { execProbe } from '../properties-enforced/helpers.js';
import { expectStillAnswers, perlProbe, scratchDir, untrustedPool } from './support.js';

/** Connects to a Unix socket path (or '\0name', abstract) within 2 s: 'connected', 'timeout' or the error code. */
async function unixConnectProbe(path: string): Promise<string> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.connect(path);
    const t = setTimeout(() => (s.destroy(), resolve('timeout')), 2000);
    s.once('connect', () => (clearTimeout(t), s.destroy(), resolve('connected')));
    s.once('error', (e: NodeJS.ErrnoException) => (clearTimeout(t), resolve(e.code ?? String(e))));
  });
}

/** perl: a datagram to an AF_UNIX path ($ARGV[0]); "E<errno>" at the first step that fails. */
const SEND_DATAGRAM = `
use Socket;
socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or do { print "E" . ($! + 0); exit 1 };
send($s, "<3>unitpool escape\\n", 0, pack_sockaddr_un($ARGV[0])) or do { print "E" . ($! + 0); exit 1 };
exit 0;
`;

/**
 * perl: a datagram from one end of a socketpair(2) datagram pair to an AF_UNIX path ($ARGV[0]) with sendto(2), which
 * a connected datagram socket still allows; "E<errno>" at the first step that fails.
 */
const SEND_FROM_PAIR = `
use Socket;
socketpair(my $a, my $b, AF_UNIX, SOCK_DGRAM, 0) or do { print "E" . ($! + 0); exit 1 };
send($a, "<3>unitpool escape\\n", 0, pack_sockaddr_un($ARGV[0])) or do { print "E" . ($! + 0); exit 1 };
exit 0;
`;

/** The host's sockets a task would most like to reach. */
const HOST_SOCKETS = [
  '/run/dbus/system_bus_socket',
  '/run/systemd/private',
  '/run/systemd/journal/stdout',
  '/run/systemd/notify',
];

describe('sockets, attacked from an untrusted task', () => {
  const dir = scratchDir('escape-sockets');
  const abstract = `\0unitpool-escape-${randomBytes(4).toString('hex')}`;
  const hostSocket = join(dir.path, 'world-writable.sock');
  const servers: Server[] = [];
  let accepted = 0;
  let pool: UnitPool;
  beforeAll(async () => {
    // A world-writable AF_UNIX socket of the host, in a directory the unit can see, and an abstract one.
    for (const where of [hostSocket, abstract]) {
      const server = createServer((c) => {
        accepted++;
        c.destroy();
      });
      await new Promise<void>((resolve) => server.listen(where, resolve));
      servers.push(server);
    }
    chmodSync(hostSocket, 0o777);
    pool = await untrustedPool();
  });
  afterAll(async () => {
    await pool?.shutdown();
    for (const s of servers) s.close();
    dir.remove();
  });

  it.each(HOST_SOCKETS)('connecting to %s fails with EPERM (no socket(2))', async (path) => {
    expect(await pool.submit(unixConnectProbe, [path])).toBe('EPERM');
    await expectStillAnswers(pool);
  });

  it('a world-writable AF_UNIX socket of the host and an abstract socket: EPERM, and the host accepted nothing', async () => {
    expect(await pool.submit(unixConnectProbe, [hostSocket])).toBe('EPERM');
    expect(await pool.submit(unixConnectProbe, [abstract])).toBe('EPERM');
    expect(accepted).toBe(0);
    await expectStillAnswers(pool);
  });

  it('a datagram to the journal (/run/systemd/journal/socket, /dev/log) or to the host socket: socket(2) fails with EPERM', async () => {
    const targets = ['/run/systemd/journal/socket', '/dev/log', hostSocket];
    const r = await pool.submit(
      async (script: string, paths: string[]) => {
        const { spawnSync } = await import('node:child_process');
        const { constants } = await import('node:os');
        const names = Object.fromEntries(Object.entries(constants.errno).map(([k, v]) => [v, k]));
        return paths.map((p) => {
          const out = spawnSync('perl', ['-e', script, p], { encoding: 'utf8' }).stdout;
          const m = /E(\d+)/.exec(out);
          return m ? names[Number(m[1])] : 'sent';
        });
      },
      [SEND_DATAGRAM, targets],
    );
    expect(r).toEqual(['EPERM', 'EPERM', 'EPERM']);
    await expectStillAnswers(pool);
  });

  it("a datagram from a socketpair(2) to the host's sockets under /run (systemd's notify socket, the journal, /dev/log): ENOENT, /run is hidden", async () => {
    const targets = ['/run/systemd/notify', '/run/systemd/journal/socket', '/dev/log'];
    const r = await pool.submit(perlProbe, [SEND_FROM_PAIR, targets]);
    expect(r).toEqual(Object.fromEntries(targets.map((t) => [t, 'ENOENT'])));
    await expectStillAnswers(pool);
  });

  it("a stream socketpair(2) stays connected: connecting it to the host's world-writable socket fails with EISCONN", async () => {
    const connectPair =
      'use Socket; socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, 0) or do { print "E" . ($! + 0); exit 1 }; connect($a, pack_sockaddr_un($ARGV[0])) or do { print "E" . ($! + 0); exit 1 }; exit 0';
    expect(await pool.submit(perlProbe, [connectPair, [hostSocket]])).toEqual({ [hostSocket]: 'EISCONN' });
    expect(accepted).toBe(0);
    await expectStillAnswers(pool);
  });

  it('the limit: a world-writable datagram socket of the host outside /run is reachable from a socketpair(2)', async () => {
    const received: Buffer[] = [];
    const path = join(dir.path, 'world-writable.dgram');
    // Node has no AF_UNIX datagram sockets: the host side is perl too, reading one datagram.
    const listener = spawn('perl', [
      '-MSocket',
      '-e',
      '$| = 1; unlink $ARGV[0]; socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die; bind($s, pack_sockaddr_un($ARGV[0])) or die; chmod 0777, $ARGV[0]; print "ready\\n"; recv($s, my $m, 100, 0); print $m',
      path,
    ]);
    const exited = new Promise((resolve) => listener.once('exit', resolve));
    listener.stdout.on('data', (d: Buffer) => received.push(d));
    await new Promise<void>((resolve) => listener.stdout.once('data', () => resolve()));
    expect(await pool.submit(perlProbe, [SEND_FROM_PAIR, [path]])).toEqual({ [path]: 'ok' });
    await exited;
    expect(Buffer.concat(received).toString()).toContain('unitpool escape');
    await expectStillAnswers(pool);
  });

  it('the D-Bus clients of the system fail too: busctl cannot reach the system bus', async () => {
    const r = await pool.submit(execProbe, ['busctl', ['--system', '--timeout=3', 'list']]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Operation not permitted/);
    await expectStillAnswers(pool);
  });

  it('what Node needs still works: child processes with piped stdio (socketpair(2)) and the relayed channel', async () => {
    const pair =
      'use Socket; socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, 0) or do { print "E" . ($! + 0); exit 1 }; exit 0';
    expect(await pool.submit(perlProbe, [pair, ['socketpair']])).toEqual({ socketpair: 'ok' });
    const r = await pool.submit(execProbe, ['sh', ['-c', 'echo through a pipe']]);
    expect(r).toMatchObject({ status: 0, stdout: 'through a pipe\n' });
    expect(await pool.submit((xs: number[]) => xs.map((x) => x * 2), [[1, 2, 3]])).toEqual([2, 4, 6]);
  });
});
