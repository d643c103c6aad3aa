// The supervisor's relay (loaded by supervisor.ts once the first workers are forked): the main process of a pool's
// systemd unit. systemd started it inside the finished sandbox, with
// stdin/stdout connected to the pool's control socket and stderr to its log socket. It forks the workers (so they
// inherit every restriction, including the exec-time ones: seccomp, NoNewPrivileges, capabilities, rlimits) and
// relays frames between the pool and them:
//
//   pool ──frame(channel k)──> supervisor ──same bytes, cut-through──> worker k   (no decoding)
//   pool <──frame(channel k)── supervisor <──frame, channel rewritten── worker k  (whole frames, never interleaved)
//
// unless worker k has a direct link to the pool (direct.ts): then that connection is the worker's fd 3 and its
// frames never pass through here; the supervisor still forks it, signals it, and reports its exit and output.
//
// Channel 0 carries the supervisor's own control messages (spawn, kill / spawned, exited, console output).
// When the control connection closes, the supervisor kills its workers and exits; KillMode=control-group
// makes sure of the rest.

import type { ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { encode } from '../src/wire/codec.js';
import { FrameDecoder } from '../src/wire/frame-decoder.js';
import { FrameRouter } from '../src/wire/frame-router.js';
import { FrameWriter } from '../src/wire/frame-writer.js';
import { forwardLines } from '../src/wire/lines.js';
import {
  decodeToSupervisor,
  FromSupervisor,
  type FromSupervisorMessage,
  ToSupervisor,
  type ToSupervisorMessage,
} from '../src/wire/messages.js';
import { config, fork, type Forked, forkLinked, takeForks } from './fork.js';

// Anything printed by mistake must not land in the control channel (fd 1 is the same socket as fd 0).
console.log = console.info = console.debug = console.error;

// The channel to the pool: stdin (a socket systemd connected), or fd 3 when the pool forked us itself (isolation: 'none').
const pool = new Socket({ fd: config.channelFd ?? 0, readable: true, writable: true });
const toPool = new FrameWriter(pool);

interface Worker {
  id: number;
  child: ChildProcess;
  /** Relayed frames for this worker, coalesced into one write per tick (none: the pool is connected directly). */
  out: FrameWriter | undefined;
}
const workers = new Map<number, Worker>();

function control(message: FromSupervisorMessage): void {
  toPool.write(0, encode(message));
}

// Pool -> workers: forwarded as the bytes arrive, so a large argument is never held whole here.
// The pool is trusted (it started us): no size limit on what it sends, beyond the wire's.
const fromPool = new FrameRouter({
  maxFrame: Number.MAX_SAFE_INTEGER,
  onControlFrame: (payload: Buffer) => onControl(decodeToSupervisor(payload)),
  onPiece: (channel: number, piece: Buffer) => {
    workers.get(channel)?.out?.writeRaw(piece);
  },
});
pool.on('data', (chunk: Buffer) => fromPool.push(chunk));
pool.on('end', shutdown);
pool.on('error', shutdown);
// Backpressure: what workers send waits while the pool is not reading.
const paused = new Set<NodeJS.ReadableStream>();
function pauseUntilDrain(stream: NodeJS.ReadableStream): void {
  stream.pause();
  paused.add(stream);
}
pool.on('drain', () => {
  for (const s of paused) s.resume();
  paused.clear();
});

function onControl(msg: ToSupervisorMessage): void {
  switch (msg[0]) {
    case ToSupervisor.Spawn: {
      const [, id, linkKey] = msg;
      if (workers.has(id)) break;
      if (linkKey instanceof Uint8Array) forkLinked(id, linkKey);
      else fork(id);
      break;
    }
    case ToSupervisor.Kill:
      workers.get(msg[1])?.child.kill(msg[2]);
      break;
    default:
      process.stderr.write(`unitpool supervisor: unknown control message ${String((msg as unknown[])[0])}\n`);
  }
}

/** Takes over a fork from fork.ts: relays its channel (unless the pool is connected to it), output and exit. */
function startWorker(id: number, forked: Forked): void {
  if (forked.error !== undefined) return control([FromSupervisor.SpawnFailed, id, forked.error]);
  const child = forked.child;
  const worker: Worker = { id, child, out: undefined };
  workers.set(id, worker);
  // A worker forked with the pool's direct connection as its fd 3 has no channel to us.
  const channel = child.stdio[3] as Socket | null;
  if (channel) relayFrom(worker, channel);
  forwardOutput(id, 1, child.stdout!);
  forwardOutput(id, 2, child.stderr!);
  child.on('error', (err) => control([FromSupervisor.SpawnFailed, id, err.message]));
  // spawn() sets the pid at once when the process exists (it may have emitted 'spawn' before this module loaded).
  if (child.pid !== undefined) control([FromSupervisor.Spawned, id, child.pid, forked.fellBack ? 1 : 0]);
  // 'close' comes after 'exit' and after every stdio stream ended: all its frames and output were relayed.
  child.once('close', (code, signal) => {
    workers.delete(id);
    control([FromSupervisor.Exited, id, code, signal]);
  });
}

/** Relays a worker's channel (a pipe to us) both ways. */
function relayFrom(worker: Worker, channel: Socket): void {
  const { id, child } = worker;
  worker.out = new FrameWriter(channel);

  // Worker -> pool: whole frames only, so frames of different workers never interleave on the pool socket.
  const frames = new FrameDecoder({
    maxFrame: config.maxFrame,
    onFrame: (_claimed: number, payload: Buffer) => {
      if (!toPool.write(id, payload)) pauseUntilDrain(channel);
    },
  });
  channel.on('data', (chunk: Buffer) => {
    try {
      frames.push(chunk);
    } catch (err) {
      // Oversized or malformed: the worker is broken or hostile. Tell the pool why, then kill it.
      control([FromSupervisor.WorkerFault, id, (err as Error).message]);
      child.kill('SIGKILL');
      channel.destroy();
    }
  });
  channel.on('error', () => {});
}

/** Forwards console output in whole lines, tagged with worker and fd. */
function forwardOutput(id: number, fd: 1 | 2, stream: NodeJS.ReadableStream): void {
  forwardLines(stream, (bytes) => {
    if (toPool.write(0, encode([FromSupervisor.Output, id, fd, bytes] satisfies FromSupervisorMessage))) return true;
    paused.add(stream);
    return false;
  });
}

function shutdown(): void {
  for (const w of workers.values()) w.child.kill('SIGKILL');
  process.exit(0);
}

control([FromSupervisor.Hello, process.pid]);
takeForks(startWorker);
