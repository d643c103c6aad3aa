// What a worker sends back for its tasks: results, errors, streamed values, progress reports. Each is encoded with
// its path (so a value that cannot be sent is a SerializationError naming where: `result.rows[3]`), and checked
// against the pool's maxFrame: a message the pool would refuse (and kill this worker for) becomes the task's
// ResultTooLargeError instead, and the worker goes on.

import { ResultTooLargeError } from '../src/errors.js';
import { encode, encodeWithPath } from '../src/wire/codec.js';
import type { FrameWriter } from '../src/wire/frame-writer.js';
import { type ErrorMessage, type ExitingMessage, FromWorker, type FromWorkerMessage } from '../src/wire/messages.js';

export class Replies {
  constructor(
    private readonly writer: FrameWriter,
    private readonly workerId: number,
    /** The largest frame the pool accepts from us. */
    private readonly maxFrame: number,
  ) {}

  send(message: FromWorkerMessage): boolean {
    return this.writer.write(this.workerId, encode(message));
  }

  /** The task's result; if it cannot be sent, the error that says why. */
  result(taskId: number, value: unknown): void {
    let payload: Buffer;
    try {
      payload = this.checked('result', encodeWithPath([FromWorker.Result, taskId, value], 'result', 2));
    } catch (err) {
      return this.error(taskId, err);
    }
    this.writer.write(this.workerId, payload);
  }

  /** The task's error; if even that cannot be encoded, a plain Error with its name, message and stack. */
  error(taskId: number, error: unknown): void {
    this.writer.write(this.workerId, encodeError(FromWorker.Error, taskId, error));
  }

  /** A crash: task `taskId` (0: none) fails with `error`, and this worker exits. */
  exiting(taskId: number, error: unknown): void {
    this.writer.write(this.workerId, encodeError(FromWorker.Exiting, taskId, error));
  }

  /**
   * A value the running task reports (progress) or yields (a stream). Throws SerializationError or
   * ResultTooLargeError, to the task's own code. False when the channel is congested: the caller should wait for
   * its 'drain' before it sends more.
   */
  report(kind: 'progress' | 'item', taskId: number, value: unknown): boolean {
    const op = kind === 'progress' ? FromWorker.Progress : FromWorker.Item;
    return this.writer.write(this.workerId, this.checked(kind, encodeWithPath([op, taskId, value], kind, 2)));
  }

  private checked(what: 'result' | 'item' | 'progress', payload: Buffer): Buffer {
    if (payload.length > this.maxFrame) throw new ResultTooLargeError(what, payload.length, this.maxFrame);
    return payload;
  }
}

function encodeError(op: typeof FromWorker.Error | typeof FromWorker.Exiting, taskId: number, error: unknown): Buffer {
  try {
    return encode([op, taskId, error] satisfies ErrorMessage | ExitingMessage);
  } catch {
    const e = error as { name?: unknown; message?: unknown; stack?: unknown } | null;
    const text = (v: unknown, otherwise: string) => (typeof v === 'string' ? v : otherwise);
    const plain = new Error(text(e?.message, String(error as unknown)));
    plain.name = text(e?.name, 'Error');
    plain.stack = text(e?.stack, plain.stack ?? '');
    return encode([op, taskId, plain] satisfies ErrorMessage | ExitingMessage);
  }
}
