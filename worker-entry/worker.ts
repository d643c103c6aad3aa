// A worker: forked by the supervisor inside the pool's unit (isolation: 'pool'), or started by systemd as a unit
// of its own (isolation: 'worker'), so every restriction of the unit applies to it. It reads task frames from its
// channel (fd 3: its direct link, or a socket pair with the supervisor that relays them; fd 0 in a unit of its own:
// its stdin, connected by systemd to the pool), runs them one at a time in order, and writes one result or error
// frame per task. Its stdout and stderr go to the pool (through the supervisor, or straight from systemd).

import { readFileSync, writeFileSync } from 'node:fs';
import { type OnReadOpts, Socket, type SocketConstructorOpts } from 'node:net';
import { encode, encodeWithPath } from '../src/wire/codec.js';
import { encodeFrame } from '../src/wire/frame.js';
import { FrameDecoder } from '../src/wire/frame-decoder.js';
import { FrameWriter } from '../src/wire/frame-writer.js';
import {
  type DefineMessage,
  decodeToWorker,
  type ErrorMessage,
  FromWorker,
  type FromWorkerMessage,
  type ResultMessage,
  ToWorker,
  type ToWorkerMessage,
} from '../src/wire/messages.js';

type Fn = (...args: unknown[]) => unknown;

// Started by systemd: { id, channelFd } on the command line. Forked by the supervisor: the id in the environment.
const started = JSON.parse(process.argv[2] ?? '{}') as { id?: number; channelFd?: number; stdoutFrames?: boolean };
const workerId = started.id ?? Number(process.env.UNITPOOL_WORKER_ID ?? 0);
delete process.env.UNITPOOL_WORKER_ID;

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

const functions = new Map<number, Fn | Promise<Fn>>();
const sourceFunctions = new Set<number>();
const inbox: ToWorkerMessage[] = [];
/** The task id and function key of the warm-up (the pool's start at 1). */
const WARM_UP = 0;
let busy = false;
let exitRequested = false;

const decoder = new FrameDecoder({
  maxFrame: Number.MAX_SAFE_INTEGER,
  onFrame: (_channel: number, payload: Buffer) => {
    inbox.push(decodeToWorker(payload));
  },
});
// The socket reads into the decoder (a large argument straight into its own buffer), and work starts after each read.
// (`onread` is an option of new Socket() since Node 12.10; @types/node 20 lists it for connect() only.)
const channelOptions: SocketConstructorOpts & { onread: OnReadOpts } = {
  fd: started.channelFd ?? 3,
  readable: true,
  writable: true,
  onread: decoder.socketReader(() => {
    if (!busy) void drain();
  }),
};
const channel = new Socket(channelOptions);
const writer = new FrameWriter(channel);
// The supervisor is gone: nothing more can be reported, so stop at once.
channel.on('end', () => process.exit(0));
channel.on('error', () => process.exit(0));

function send(message: FromWorkerMessage): void {
  writer.write(workerId, encode(message));
}

// A worker in a unit of its own has no fd for its stdout: fd 1 goes to the console's stderr socket (for programs it
// starts), and what Node writes to process.stdout travels as Output frames on the channel.
if (started.stdoutFrames) {
  process.stdout.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | (() => void), cb?: () => void) => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : chunk;
    send([FromWorker.Output, bytes]);
    const done = typeof encoding === 'function' ? encoding : cb;
    if (done) queueMicrotask(done);
    return true;
  }) as typeof process.stdout.write;
}

// The warm-up: a no-op task of our own through the whole path a task takes (decoding, compiling, running, encoding
// the result, writing a frame), so that the first real task does not pay for compiling all of it (a fresh spare
// answers in a fraction of the time). Its reply is the Ready: the pool sends tasks on a direct link only after it.
decoder.push(encodeFrame(workerId, encode([ToWorker.Define, WARM_UP, 'source', '(x) => x'] satisfies ToWorkerMessage)));
decoder.push(encodeFrame(workerId, encode([ToWorker.Call, WARM_UP, WARM_UP, [[0, 'x', { a: [1.5] }, new Uint8Array(1)]]] satisfies ToWorkerMessage)));
void drain();

/** Runs queued messages in order. Synchronous tasks run back to back without yielding; async ones are awaited. */
async function drain(): Promise<void> {
  busy = true;
  try {
    while (inbox.length > 0) {
      const msg = inbox.shift()!;
      const pending = handle(msg);
      if (pending) await pending;
    }
  } finally {
    busy = false;
  }
  if (exitRequested) finish();
}

function handle(msg: ToWorkerMessage): Promise<void> | undefined {
  switch (msg[0]) {
    case ToWorker.Define:
      define(msg);
      return undefined;
    case ToWorker.Call: {
      const [, taskId, key, args] = msg;
      return run(taskId, key, (fn) => fn(...args));
    }
    case ToWorker.CallChunk: {
      const [, taskId, key, items] = msg;
      return run(taskId, key, (fn) => mapChunk(fn, items));
    }
    case ToWorker.Init:
      return initialize(msg[1], msg[2]);
    case ToWorker.Exit:
      exitRequested = true;
      return undefined;
    default:
      throw new Error(`unitpool worker: unknown message ${String((msg as unknown[])[0])}`);
  }
}

function define(msg: DefineMessage): void {
  const key = msg[1];
  if (msg[2] === 'source') {
    sourceFunctions.add(key);
    try {
      functions.set(key, compile(msg[3]));
    } catch (err) {
      functions.set(key, Promise.reject(err));
      (functions.get(key) as Promise<Fn>).catch(() => {});
    }
  } else {
    const [, , , url, name] = msg;
    const loaded = import(url).then((mod: Record<string, unknown>) => {
      const fn = mod[name];
      if (typeof fn !== 'function') {
        throw new TypeError(`${url} has no exported function named '${name}' (exports: ${Object.keys(mod).join(', ') || 'none'})`);
      }
      functions.set(key, fn as Fn);
      return fn as Fn;
    });
    loaded.catch(() => {});
    functions.set(key, loaded);
  }
}

/** Compiles a function from its source text, in the worker's global scope (it can see no closure). */
function compile(source: string): Fn {
  const indirectEval = eval;
  try {
    return indirectEval(`(${source}\n)`) as Fn;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    // Method shorthand (`square(x) { ... }`, `async run() {}`) is not an expression on its own.
    const holder = indirectEval(`({ ${source}\n})`) as Record<string, Fn>;
    const fn = Object.values(holder)[0];
    if (typeof fn !== 'function') throw err;
    return fn;
  }
}

function mapChunk(fn: Fn, items: unknown[]): unknown {
  const out = new Array<unknown>(items.length);
  let asyncFrom = -1;
  for (let i = 0; i < items.length; i++) {
    out[i] = fn(items[i]);
    if (asyncFrom < 0 && isThenable(out[i])) asyncFrom = i;
  }
  return asyncFrom < 0 ? out : Promise.all(out);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

function run(taskId: number, key: number, call: (fn: Fn) => unknown): Promise<void> | undefined {
  const entry = functions.get(key);
  if (entry === undefined) {
    reply(taskId, undefined, new Error(`unitpool worker: function ${key} was never defined`));
    return undefined;
  }
  if (typeof entry !== 'function') {
    return entry.then(
      (fn) => settle(taskId, key, () => call(fn)),
      (err) => reply(taskId, undefined, err),
    );
  }
  return settle(taskId, key, () => call(entry));
}

function settle(taskId: number, key: number, call: () => unknown): Promise<void> | undefined {
  let value: unknown;
  try {
    value = call();
  } catch (err) {
    reply(taskId, undefined, explain(err, key));
    return undefined;
  }
  if (!isThenable(value)) {
    reply(taskId, value, undefined);
    return undefined;
  }
  return Promise.resolve(value).then(
    (v) => reply(taskId, v, undefined),
    (err) => reply(taskId, undefined, explain(err, key)),
  );
}

function reply(taskId: number, value: unknown, error: unknown): void {
  // Task 0 is the warm-up (below): its reply is the Ready.
  if (taskId === WARM_UP) encodeResult(taskId, value);
  writer.write(workerId, taskId === WARM_UP ? encode([FromWorker.Ready] satisfies FromWorkerMessage) : error === undefined ? encodeResult(taskId, value) : encodeError(taskId, error));
}

/** The result, or (when it cannot be sent) the SerializationError that says why. */
function encodeResult(taskId: number, value: unknown): Buffer {
  try {
    return encodeWithPath([FromWorker.Result, taskId, value] satisfies ResultMessage, 'result', 2);
  } catch (err) {
    return encodeError(taskId, err);
  }
}

/** The error; if even that cannot be encoded, a plain Error with its name, message and stack. */
function encodeError(taskId: number, error: unknown): Buffer {
  try {
    return encode([FromWorker.Error, taskId, error] satisfies ErrorMessage);
  } catch {
    const e = error as { name?: unknown; message?: unknown; stack?: unknown };
    const plain = new Error(String(e?.message ?? error));
    plain.name = String(e?.name ?? 'Error');
    plain.stack = String(e?.stack ?? plain.stack);
    return encode([FromWorker.Error, taskId, plain] satisfies ErrorMessage);
  }
}

/** A free variable in a function sent as source is the classic mistake: say what happened and what to do. */
function explain(err: unknown, key: number): unknown {
  if (err instanceof ReferenceError && sourceFunctions.has(key)) {
    const m = /^(\S+) is not defined$/.exec(err.message);
    if (m) {
      err.message =
        `${m[1]} is not defined in the worker. Functions passed to submit() or map() are sent as source text and ` +
        `compiled in the worker, so they cannot use variables, imports or functions from the scope they were written in. ` +
        `Pass ${m[1]} as an argument, import it inside the function (await import(...)), or use a module reference ` +
        `{ module, name } instead.`;
    }
  }
  return err;
}

async function initialize(key: number, args: unknown[]): Promise<void> {
  try {
    const entry = functions.get(key);
    const fn = typeof entry === 'function' ? entry : await entry;
    if (!fn) throw new Error(`unitpool worker: initializer ${key} was never defined`);
    await fn(...args);
  } catch (err) {
    send([FromWorker.InitError, explain(err, key)]);
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
