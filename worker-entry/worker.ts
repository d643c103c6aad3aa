// A worker: forked by the supervisor inside the pool's unit (isolation: 'pool'), or started by systemd as a unit
// of its own (isolation: 'worker'), so every restriction of the unit applies to it. It reads task frames from its
// channel (fd 3: its direct link, or a socket pair with the supervisor that relays them; fd 0 in a unit of its own:
// its stdin, connected by systemd to the pool), runs them one at a time in order, and writes one result or error
// frame per task. Its stdout and stderr go to the pool (through the supervisor, or straight from systemd).

import { readFileSync, writeFileSync } from 'node:fs';
import { type OnReadOpts, Socket, type SocketConstructorOpts } from 'node:net';
import { encode } from '../src/wire/codec.js';
import { DEFAULT_MAX_FRAME, encodeFrame } from '../src/wire/frame.js';
import { FrameDecoder } from '../src/wire/frame-decoder.js';
import { FrameWriter } from '../src/wire/frame-writer.js';
import {
  type CallChunkMessage,
  type CallMessage,
  type CallStreamMessage,
  decodeToWorker,
  FromWorker,
  ToWorker,
  type ToWorkerMessage,
} from '../src/wire/messages.js';
import { WORKER_HOOK, type WorkerHook } from '../src/worker/index.js';
import { type Fn, Functions, isThenable } from './functions.js';
import { Replies } from './replies.js';
import { Streams } from './streams.js';

// Started by systemd: { id, channelFd, maxFrame } on the command line. Forked by the supervisor: in the environment.
const started = JSON.parse(process.argv[2] ?? '{}') as {
  id?: number;
  channelFd?: number;
  stdoutFrames?: boolean;
  maxFrame?: number;
};
const workerId = started.id ?? Number(process.env.UNITPOOL_WORKER_ID ?? 0);
const maxFrame = started.maxFrame ?? Number(process.env.UNITPOOL_MAX_FRAME ?? DEFAULT_MAX_FRAME + 1024 * 1024);
delete process.env.UNITPOOL_WORKER_ID;
delete process.env.UNITPOOL_MAX_FRAME;

// Be the OOM killer's first choice inside the unit, before the supervisor (raising it needs no privilege).
try {
  const inherited = Number(readFileSync('/proc/self/oom_score_adj', 'utf8'));
  const raise = Number(process.env.UNITPOOL_OOM_SCORE_ADJ ?? 500);
  writeFileSync('/proc/self/oom_score_adj', String(Math.min(1000, inherited + raise)));
} catch {
  /* /proc may be restricted; the unit's OOMScoreAdjust still applies */
}
delete process.env.UNITPOOL_OOM_SCORE_ADJ;

// Functions written in files that Vite/Vitest transformed call these helpers instead of import() / naming;
// give them their plain meaning so such functions run here unchanged.
Object.assign(globalThis, {
  __vite_ssr_dynamic_import__: (specifier: string) => import(specifier),
  __name: <T>(fn: T) => fn,
});

const functions = new Functions();
const streams = new Streams();
const inbox: ToWorkerMessage[] = [];
/** The task id and function key of the warm-up (the pool's start at 1). */
const WARM_UP = 0;
let busy = false;
let exitRequested = false;
/** The task running now (progress() reports for it; a crash fails it). */
let running: number | undefined;

const decoder = new FrameDecoder({
  maxFrame: Number.MAX_SAFE_INTEGER,
  onFrame: (_channel: number, payload: Buffer) => {
    const msg = decodeToWorker(payload);
    // A running stream's flow control acts at once; everything else runs in order.
    if (msg[0] === ToWorker.Credit) streams.credit(msg[1], msg[2]);
    else if (msg[0] === ToWorker.Cancel) streams.cancel(msg[1]);
    else inbox.push(msg);
  },
});
// The socket reads into the decoder (a large argument straight into its own buffer), and work starts after each read.
// (`onread` is an option of new Socket() since Node 12.10; @types/node 20 lists it for connect() only.)
const channelOptions: SocketConstructorOpts & { onread: OnReadOpts } = {
  fd: started.channelFd ?? 3,
  readable: true,
  writable: true,
  onread: decoder.socketReader(() => {
    if (!busy) drain();
  }),
};
const channel = new Socket(channelOptions);
const writer = new FrameWriter(channel);
const replies = new Replies(writer, workerId, maxFrame);
// The supervisor is gone: nothing more can be reported, so stop at once.
channel.on('end', () => process.exit(0));
channel.on('error', () => process.exit(0));

/** Resolves when the channel has room again (the pool caught up). */
const drained = () => new Promise<void>((resolve) => channel.once('drain', resolve));
const RESOLVED = Promise.resolve();

// unitpool/worker's progress(): a report for the running task, before its result; it waits while the channel is full.
const hook: WorkerHook = {
  progress(value) {
    if (running === undefined || running === WARM_UP)
      throw new Error('progress() was called when no task of this worker was running');
    return replies.report('progress', running, value) ? RESOLVED : drained();
  },
};
Object.defineProperty(globalThis, WORKER_HOOK, { value: hook });

// A task's uncaught exception or unhandled rejection: the task fails with that error (its message and stack reach
// the caller), and the worker, whose state is now unknown, exits as Node would; the pool starts a fresh one.
const crashed = (what: string) => (err: unknown) => {
  process.stderr.write(
    `unitpool worker ${workerId}: ${what}${running ? ` in task ${running}` : ''}: ${String((err as Error)?.stack ?? err)}\n`,
  );
  // One message: the running task's error and the news that nothing more runs here (the pool sends the tasks queued
  // behind to other workers).
  replies.exiting(running === undefined ? WARM_UP : running, err);
  running = undefined;
  inbox.length = 0;
  exitRequested = true;
  writer.flushNow();
  channel.end(() => process.exit(1));
  setTimeout(() => process.exit(1), 1000).unref();
};
process.on('uncaughtException', crashed('an uncaught exception'));
process.on('unhandledRejection', crashed('an unhandled rejection'));

// A worker in a unit of its own has no fd for its stdout: fd 1 goes to the console's stderr socket (for programs it
// starts), and what Node writes to process.stdout travels as Output frames on the channel.
if (started.stdoutFrames) {
  process.stdout.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | (() => void), cb?: () => void) => {
    const bytes =
      typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : chunk;
    replies.send([FromWorker.Output, bytes]);
    const done = typeof encoding === 'function' ? encoding : cb;
    if (done) queueMicrotask(done);
    return true;
  }) as typeof process.stdout.write;
}

// The warm-up: a no-op task of our own through the whole path a task takes (decoding, compiling, running, encoding
// the result, writing a frame), so that the first real task does not pay for compiling all of it (a fresh spare
// answers in a fraction of the time). Its reply is the Ready: the pool sends tasks on a direct link only after it.
decoder.push(encodeFrame(workerId, encode([ToWorker.Define, WARM_UP, 'source', '(x) => x'] satisfies ToWorkerMessage)));
decoder.push(
  encodeFrame(
    workerId,
    encode([ToWorker.Call, WARM_UP, WARM_UP, [[0, 'x', { a: [1.5] }, new Uint8Array(1)]]] satisfies ToWorkerMessage),
  ),
);
drain();

/**
 * Runs queued messages in order. Synchronous tasks run back to back without yielding (and without a promise: this
 * runs after every read); an async one is waited for, then the rest runs. Stays `busy` while it waits. A message
 * that throws here (or a task's settling that rejects) is a crash of this worker, as it would be in any Node program.
 */
function drain(): void {
  busy = true;
  try {
    while (inbox.length > 0) {
      const pending = handle(inbox.shift()!);
      if (pending) {
        void pending.then(drain, (err: unknown) => {
          busy = false;
          throw err;
        });
        return;
      }
    }
  } catch (err) {
    busy = false;
    throw err;
  }
  busy = false;
  if (exitRequested) finish();
}

function handle(msg: ToWorkerMessage): Promise<void> | undefined {
  switch (msg[0]) {
    case ToWorker.Define:
      functions.define(msg);
      return undefined;
    case ToWorker.Call:
    case ToWorker.CallChunk:
    case ToWorker.CallStream:
      return run(msg);
    case ToWorker.Init:
      return initialize(msg[1], msg[2]);
    case ToWorker.Exit:
      exitRequested = true;
      return undefined;
    default:
      throw new Error(`unitpool worker: unknown message ${String((msg as unknown[])[0])}`);
  }
}

type TaskMessage = CallMessage | CallChunkMessage | CallStreamMessage;

/** Calls fn as the task message says (read by index: no closure or destructuring per task). */
function invoke(fn: Fn, msg: TaskMessage): unknown {
  switch (msg[0]) {
    case ToWorker.Call:
      return fn(...msg[3]);
    case ToWorker.CallChunk:
      return mapChunk(fn, msg[3], msg[4] === 1);
    case ToWorker.CallStream: {
      const taskId = msg[1];
      const args = msg[3];
      const send = (value: unknown) => replies.report('item', taskId, value);
      return streams.run(taskId, msg[4], () => fn(...args), send, drained);
    }
  }
}

/** fn over every item of a chunk (spread: each item is a tuple of arguments, from map over several iterables). */
function mapChunk(fn: Fn, items: unknown[], spread: boolean): unknown {
  const out = new Array<unknown>(items.length);
  let asyncFrom = -1;
  for (let i = 0; i < items.length; i++) {
    out[i] = spread ? fn(...(items[i] as unknown[])) : fn(items[i]);
    if (asyncFrom < 0 && isThenable(out[i])) asyncFrom = i;
  }
  return asyncFrom < 0 ? out : Promise.all(out);
}

function run(msg: TaskMessage): Promise<void> | undefined {
  const taskId = msg[1];
  const key = msg[2];
  const entry = functions.get(key);
  if (entry === undefined) {
    reply(taskId, undefined, new Error(`unitpool worker: function ${key} was never defined`));
    return undefined;
  }
  if (typeof entry !== 'function') {
    return entry.then(
      (fn) => settle(msg, fn),
      (err) => reply(taskId, undefined, err),
    );
  }
  return settle(msg, entry);
}

function settle(msg: TaskMessage, fn: Fn): Promise<void> | undefined {
  const taskId = msg[1];
  let value: unknown;
  running = taskId;
  try {
    value = invoke(fn, msg);
  } catch (err) {
    reply(taskId, undefined, functions.explain(err, msg[2]));
    return undefined;
  }
  if (!isThenable(value)) {
    reply(taskId, value, undefined);
    return undefined;
  }
  return Promise.resolve(value).then(
    (v) => reply(taskId, v, undefined),
    (err) => reply(taskId, undefined, functions.explain(err, msg[2])),
  );
}

function reply(taskId: number, value: unknown, error: unknown): void {
  // A task that crashed (see `crashed`) was answered already.
  if (running !== taskId) return;
  running = undefined;
  // Task 0 is the warm-up (below): its reply is the Ready.
  if (taskId === WARM_UP) {
    encode([FromWorker.Result, taskId, value]);
    replies.send([FromWorker.Ready]);
  } else if (error === undefined) replies.result(taskId, value);
  else replies.error(taskId, error);
}

async function initialize(key: number, args: unknown[]): Promise<void> {
  try {
    const entry = functions.get(key);
    const fn = typeof entry === 'function' ? entry : await entry;
    if (!fn) throw new Error(`unitpool worker: initializer ${key} was never defined`);
    await fn(...args);
  } catch (err) {
    replies.send([FromWorker.InitError, functions.explain(err, key)]);
    writer.flushNow();
    // The pool breaks on an initializer error; stop taking tasks.
    inbox.length = 0;
    exitRequested = true;
  }
}

function finish(): void {
  writer.flushNow();
  channel.end(() => process.exit(0));
}
