// Where the command of `unitpool run` reads and writes, without a terminal (run-pty.ts has the terminal case).
// This module owns the unit's Standard* properties and whatever relays them; it never touches the unit itself.
//
// Each of our three streams is looked at (fstat):
//   - a pipe, a device that is not a terminal, a file opened for appending (>>) or, for stdin, any file: the
//     command gets it directly. systemd (root, before it builds the sandbox) opens /proc/<our pid>/fd/N, which
//     reopens the very pipe or file: no copy, and the command sees EOF and SIGPIPE from the real peer. An
//     anonymous pipe whose peer is already gone would block that open() forever, so we hold the other end open
//     until the start job is done (the command has its stdio by then). An output file opened without O_APPEND
//     (>) is relayed instead: a new open would write at its own offset, under the shell's later writes.
//   - a socket (a parent that spawned us with socketpairs) or a terminal (only one of stdin and stdout is, so
//     there is no pty): relayed. Output goes through an AF_UNIX socket of ours that systemd connects; stdin
//     through a FIFO, never a socket (bash takes a socket on stdin for a remote shell and reads ~/.bashrc).
//     A terminal is never handed to the command: it could inject keystrokes into the caller's shell (TIOCSTI).
//   - stderr that goes where stdout goes (same pipe, file, socket or terminal) becomes StandardError=inherit,
//     one file description for both, so their relative order is kept.

import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsc, createWriteStream, fstatSync, openSync, readFileSync, rmSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { isatty } from 'node:tty';
import type { DBusProperty } from '../unit/transient.js';
import { listenUnix, privateSocketDir } from '../unit/sockets.js';

export type StreamKind = 'pipe' | 'file' | 'device' | 'terminal' | 'socket' | 'closed';

export interface StreamInfo {
  readonly kind: StreamKind;
  /** Device and inode, to see whether two streams are the same place. */
  readonly id: string;
}

export function streamInfo(fd: number): StreamInfo {
  try {
    const st = fstatSync(fd);
    const id = `${st.dev}:${st.ino}`;
    if (st.isFIFO()) return { kind: 'pipe', id };
    if (st.isFile()) return { kind: 'file', id };
    if (st.isSocket()) return { kind: 'socket', id };
    if (st.isCharacterDevice() || st.isBlockDevice()) return { kind: isatty(fd) ? 'terminal' : 'device', id };
    return { kind: 'closed', id };
  } catch {
    return { kind: 'closed', id: '' };
  }
}

/** Whether our fd was opened with O_APPEND (/proc/self/fdinfo says its flags, in octal). */
function appending(fd: number): boolean {
  try {
    const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
    return flags !== undefined && (parseInt(flags, 8) & fsc.O_APPEND) !== 0;
  } catch {
    return false;
  }
}

/** The command's stdio for one run. */
export interface Stdio {
  readonly properties: DBusProperty[];
  /** The start job is done: the command has opened its stdio. */
  started(): void;
  /** The unit has ended: resolves once relayed output is written out. */
  finished(): Promise<void>;
  close(): void;
}

interface Options {
  bus: 'system' | 'user';
  /** The reader of our stdout or stderr went away: the command should get SIGPIPE as in a shell. */
  readerGone: () => Promise<void>;
  /** Streams handled elsewhere (the terminal of run-pty.ts). */
  skip?: { stdin?: boolean; stdout?: boolean; stderr?: boolean };
}

const OUT = ['StandardOutput', 'StandardError'] as const;

export async function openStdio(opts: Options): Promise<Stdio> {
  const props: DBusProperty[] = [];
  const held: number[] = [];
  const servers: Server[] = [];
  const outputs: Relay[] = [];
  let dir: string | undefined;
  const privateDir = () => (dir ??= privateSocketDir('run', opts.bus));
  const proc = (fd: number) => `/proc/${process.pid}/fd/${fd}`;
  const hold = (fd: number, flags: number) => {
    try {
      held.push(openSync(proc(fd), flags | fsc.O_NONBLOCK));
    } catch {
      /* no peer to stand in for is needed: the open below cannot block */
    }
  };
  let startedFlag = false;
  let inputDone: (() => void) | undefined;
  let closeInput = () => {};

  try {
    // stdin
    const stdin = streamInfo(0);
    if (!opts.skip?.stdin) {
      if (stdin.kind === 'pipe' || stdin.kind === 'file' || stdin.kind === 'device') {
        props.push(['StandardInputFile', 's', proc(0)]);
        if (stdin.kind === 'pipe') hold(0, fsc.O_WRONLY);
      } else if (stdin.kind === 'terminal' || stdin.kind === 'socket') {
        const fifo = join(privateDir(), 'stdin');
        execFileSync('mkfifo', ['-m', '0600', fifo]);
        // O_RDWR: opening never blocks, and systemd's O_RDONLY open finds a writer.
        const fd = openSync(fifo, fsc.O_RDWR);
        props.push(['StandardInputFile', 's', fifo]);
        const sink = createWriteStream('', { fd, autoClose: true });
        sink.on('error', () => {});
        const input = process.stdin as Readable;
        input.on('error', () => finishInput());
        // The FIFO's last writer may close only once the command has it open (else systemd's open blocks).
        let ended = false;
        const finishInput = () => {
          ended = true;
          if (startedFlag) sink.end();
        };
        inputDone = () => {
          if (ended) sink.end();
        };
        input.on('end', finishInput);
        input.pipe(sink, { end: false });
        closeInput = () => {
          input.unpipe(sink);
          input.pause();
          sink.destroy();
        };
      }
    }

    // stdout, then stderr
    const infos = [streamInfo(1), streamInfo(2)];
    for (const i of [0, 1] as const) {
      const fd = i + 1;
      const name = OUT[i];
      const info = infos[i]!;
      if (i === 0 ? opts.skip?.stdout : opts.skip?.stderr) continue;
      if (i === 1 && info.kind !== 'closed' && info.id === infos[0]!.id && !opts.skip?.stdout) {
        props.push(['StandardError', 's', 'inherit']);
        continue;
      }
      if (info.kind === 'pipe' || info.kind === 'device') {
        props.push([`${name}File`, 's', proc(fd)]);
        if (info.kind === 'pipe') hold(fd, fsc.O_RDONLY);
      } else if (info.kind === 'file' && appending(fd)) {
        props.push([`${name}FileToAppend`, 's', proc(fd)]);
      } else if (info.kind === 'terminal' || info.kind === 'socket' || info.kind === 'file') {
        const path = join(privateDir(), `${fd}.sock`);
        const server = await listenUnix(path);
        servers.push(server);
        props.push([`${name}File`, 's', path]);
        outputs.push(relayFirst(server, fd === 1 ? process.stdout : process.stderr, opts.readerGone));
      } else {
        props.push([name, 's', 'null']);
      }
    }
  } catch (e) {
    for (const fd of held) closeSync(fd);
    for (const s of servers) s.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  let closed = false;
  const release = () => {
    for (const fd of held.splice(0)) closeSync(fd);
  };
  return {
    properties: props,
    started() {
      startedFlag = true;
      release();
      inputDone?.();
    },
    async finished() {
      // Connections systemd made are accepted by now; one never made (the command did not start) holds nothing.
      await new Promise((r) => setImmediate(r));
      await Promise.all(outputs.filter((o) => o.connected()).map((o) => o.done));
    },
    close() {
      if (closed) return;
      closed = true;
      release();
      closeInput();
      for (const s of servers) s.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Copies the first connection to `server` (the command's; later ones, from the stop-post helper, are
 * dropped) to `out`; resolves when it closes, at once if nothing connected. When our reader goes away
 * (`unitpool run -- yes | head -1`), `readerGone` is called first: the command should die of SIGPIPE as it
 * would in a shell (closing the socket with unread data would give it ECONNRESET instead).
 */
interface Relay {
  readonly done: Promise<void>;
  connected(): boolean;
}

function relayFirst(server: Server, out: Writable, readerGone: () => Promise<void>): Relay {
  let first: Socket | undefined;
  let done!: () => void;
  const closedP = new Promise<void>((r) => (done = r));
  server.on('connection', (sock: Socket) => {
    if (first) return void sock.destroy();
    first = sock;
    sock.on('error', () => {});
    sock.once('close', () => done());
    let gone = false;
    out.on('error', () => {
      if (gone) return;
      gone = true;
      sock.unpipe(out);
      sock.pause();
      void readerGone().finally(() => sock.destroy());
    });
    sock.pipe(out, { end: false });
  });
  return { done: closedP, connected: () => first !== undefined };
}
