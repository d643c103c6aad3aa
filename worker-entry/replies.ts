// What a worker sends back for its tasks: results, errors, streamed values, progress reports. Each is encoded with
// its path (so a value that cannot be sent is a SerializationError naming where: `result.rows[3]`), and checked
// against the pool's maxFrame: a message the pool would refuse (and kill this worker for) becomes the task's
// ResultTooLargeError instead, and the worker goes on. A result's large binary values are written from the task's
// memory (see `writing`); progress reports and stream items, sent while the task runs on, are copies.

import { ResultTooLargeError } from '../src/errors.js';
import { encode, encodeParts, encodeWithPath } from '../src/wire/codec.js';
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

  /**
   * Set while a result's large binary values are being written from the task's own memory (by reference, not
   * copied): the worker runs nothing more until it is settled, so a task that reuses its Buffer cannot change what
   * was sent. (Code of a task still running after it returned must not change what it returned.)
   */
  writing: Promise<void> | undefined;

  /** The task's result; if it cannot be sent, the error that says why. */
  result(taskId: number, value: unknown): void {
    let parts: Uint8Array[];
    try {
      parts = encodeParts([FromWorker.Result, taskId, value], 'result', 2);
      let length = 0;
      for (const part of parts) length += part.byteLength;
      this.checked('result', length);
    } catch (err) {
      return this.error(taskId, err);
    }
    if (parts.length === 1) {
      this.writer.write(this.workerId, parts[0]!);
      return;
    }
    this.writing = new Promise<void>((resolve) =>
      this.writer.writeParts(this.workerId, parts, () => {
        this.writing = undefined;
        resolve();
      }),
    );
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
    const payload = encodeWithPath([op, taskId, value], kind, 2);
    this.checked(kind, payload.length);
    return this.writer.write(this.workerId, payload);
  }

  private checked(what: 'result' | 'item' | 'progress', length: number): void {
    if (length > this.maxFrame) throw new ResultTooLargeError(what, length, this.maxFrame);
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
