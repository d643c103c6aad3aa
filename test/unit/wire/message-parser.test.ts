import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/errors.js';
import { encode } from '../../../src/wire/codec.js';
import { MalformedMessageError, parseFromSupervisor, parseFromWorker } from '../../../src/wire/message-parser.js';
import {
  FromSupervisor,
  type FromSupervisorMessage,
  FromWorker,
  type FromWorkerMessage,
} from '../../../src/wire/messages.js';

const bytes = Buffer.from('line\n');

/** One valid message of every kind, per direction. */
const fromWorker: [string, FromWorkerMessage][] = [
  ['Result', [FromWorker.Result, 7, { any: ['value', 1n, new Map([[1, 2]])] }]],
  ['Result (task 0, undefined)', [FromWorker.Result, 0, undefined]],
  ['Error', [FromWorker.Error, 8, new TypeError('bad')]],
  ['InitError', [FromWorker.InitError, new Error('init')]],
  ['Ready', [FromWorker.Ready]],
  ['Output', [FromWorker.Output, bytes]],
];
const fromSupervisor: [string, FromSupervisorMessage][] = [
  ['Hello', [FromSupervisor.Hello, 1234]],
  ['Spawned', [FromSupervisor.Spawned, 1, 4321, 0]],
  ['Spawned (relayed)', [FromSupervisor.Spawned, 0xffffffff, 4321, 1]],
  ['Exited (code)', [FromSupervisor.Exited, 2, 0, null]],
  ['Exited (signal)', [FromSupervisor.Exited, 2, null, 'SIGKILL']],
  ['Output (stdout)', [FromSupervisor.Output, 3, 1, bytes]],
  ['Output (stderr)', [FromSupervisor.Output, 3, 2, bytes]],
  ['SpawnFailed', [FromSupervisor.SpawnFailed, 4, 'spawn ENOENT']],
  ['WorkerFault', [FromSupervisor.WorkerFault, 5, 'frame too large']],
];

/** Malformed messages and the problem each must be reported with. */
const badFromWorker: [unknown, RegExp][] = [
  [42, /^42 instead of a message \(an array\)$/],
  ['Result', /^"Result" instead of a message/],
  [{ 0: 1, 1: 7 }, /^an Object instead of a message/],
  [null, /^null instead of a message/],
  [[], /^a message of an unknown type undefined$/],
  [[0], /unknown type 0$/],
  [[99, 1], /unknown type 99$/],
  [['1', 7, 'v'], /unknown type "1"$/],
  [[1.5, 7, 'v'], /unknown type 1.5$/],
  [[FromWorker.Result, 7], /^a Result message of 2 elements instead of 3$/],
  [[FromWorker.Result, 7, 'v', 'extra'], /^a Result message of 4 elements instead of 3$/],
  [[FromWorker.Result, '7', 'v'], /^a Result message whose taskId is "7", not a task id/],
  [[FromWorker.Result, -1, 'v'], /whose taskId is -1, not a task id/],
  [[FromWorker.Result, 1.5, 'v'], /whose taskId is 1.5/],
  [[FromWorker.Result, 2 ** 60, 'v'], /whose taskId is 1152921504606847000, not a task id/],
  [[FromWorker.Result, 7n, 'v'], /whose taskId is 7n/],
  [[FromWorker.Result, null, 'v'], /whose taskId is null/],
  [[FromWorker.Error, [7], 'e'], /^an? Error message whose taskId is an array of 1/],
  [[FromWorker.Error, 7], /^an? Error message of 2 elements instead of 3$/],
  [[FromWorker.InitError], /InitError message of 1 elements instead of 2/],
  [[FromWorker.InitError, 'e', 'f'], /InitError message of 3 elements instead of 2/],
  [[FromWorker.Ready, 1], /Ready message of 2 elements instead of 1/],
  [[FromWorker.Output], /Output message of 1 elements instead of 2/],
  [[FromWorker.Output, 'text'], /Output message whose bytes is "text", not bytes/],
  [[FromWorker.Output, [1, 2]], /Output message whose bytes is an array of 2, not bytes/],
  [[FromWorker.Output, new Map()], /Output message whose bytes is a Map, not bytes/],
];
const badFromSupervisor: [unknown, RegExp][] = [
  ['hello', /^"hello" instead of a message/],
  [[], /unknown type undefined$/],
  [[7, 1, 'x'], /unknown type 7$/],
  [[FromSupervisor.Hello], /Hello message of 1 elements instead of 2/],
  [[FromSupervisor.Hello, 0], /Hello message whose pid is 0, not a process id/],
  [[FromSupervisor.Hello, '12'], /Hello message whose pid is "12"/],
  [[FromSupervisor.Spawned, 1, 4321], /Spawned message of 3 elements instead of 4/],
  [[FromSupervisor.Spawned, 0, 4321, 0], /Spawned message whose workerId is 0, not a worker id/],
  [[FromSupervisor.Spawned, 2 ** 32, 4321, 0], /whose workerId is 4294967296/],
  [[FromSupervisor.Spawned, 1, -5, 0], /Spawned message whose pid is -5/],
  [[FromSupervisor.Spawned, 1, 4321, 2], /Spawned message whose relayed is 2, not 0 or 1/],
  [[FromSupervisor.Spawned, 1, 4321, true], /whose relayed is true/],
  [[FromSupervisor.Exited, 2, 0], /Exited message of 3 elements instead of 4/],
  [[FromSupervisor.Exited, 2, '0', null], /Exited message whose exitCode is "0", not an exit code/],
  [[FromSupervisor.Exited, 2, 0.5, null], /whose exitCode is 0.5/],
  [[FromSupervisor.Exited, 2, undefined, null], /whose exitCode is undefined/],
  [[FromSupervisor.Exited, 2, null, 9], /Exited message whose signal is 9, not a signal name/],
  [[FromSupervisor.Exited, 'w', null, null], /Exited message whose workerId is "w"/],
  [[FromSupervisor.Output, 3, 1], /Output message of 3 elements instead of 4/],
  [[FromSupervisor.Output, 3, 0, bytes], /Output message whose fd is 0, not 1 or 2/],
  [[FromSupervisor.Output, 3, '1', bytes], /Output message whose fd is "1"/],
  [[FromSupervisor.Output, 3, 1, 'line'], /Output message whose bytes is "line", not bytes/],
  [[FromSupervisor.SpawnFailed, 4], /SpawnFailed message of 2 elements instead of 3/],
  [[FromSupervisor.SpawnFailed, 4, { message: 'x' }], /SpawnFailed message whose message is an Object, not a string/],
  [[FromSupervisor.WorkerFault, 5, 'x', 'y'], /WorkerFault message of 4 elements instead of 3/],
  [[FromSupervisor.WorkerFault, 5, null], /WorkerFault message whose message is null, not a string/],
  [[FromSupervisor.WorkerFault, null, 'x'], /WorkerFault message whose workerId is null/],
];

/** Each case titled by the problem it must be reported with. */
function titled(cases: [unknown, RegExp][]): [string, unknown, RegExp][] {
  return cases.map(([message, problem]) => [problem.source, message, problem]);
}

function thrown(fn: () => unknown): MalformedMessageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MalformedMessageError);
    expect(err).toBeInstanceOf(ProtocolError);
    return err as MalformedMessageError;
  }
  throw new Error('did not throw');
}

describe('parseFromWorker', () => {
  it.each(fromWorker)('accepts %s and returns the decoded array', (_name, message) => {
    expect(parseFromWorker(encode(message))).toEqual(message);
  });

  it.each(titled(badFromWorker))('refuses %s', (_title, message, problem) => {
    const err = thrown(() => parseFromWorker(encode(message)));
    expect(err.from).toBe('worker');
    expect(err.problem).toMatch(problem);
    expect(err.message).toBe(`malformed message from the worker: it sent ${err.problem}`);
  });

  it('refuses bytes that are not msgpack, with the decoder error as cause', () => {
    const err = thrown(() => parseFromWorker(Buffer.from([0xc1, 0xc1])));
    expect(err.problem).toMatch(/^a frame of 2 bytes that is not msgpack/);
    expect(err.cause).toBeInstanceOf(ProtocolError);
    expect(thrown(() => parseFromWorker(Buffer.alloc(0))).problem).toMatch(/^a frame of 0 bytes that is not msgpack/);
  });

  it('keeps a long string out of the message', () => {
    const err = thrown(() => parseFromWorker(encode([FromWorker.Result, 'x'.repeat(10_000), 1])));
    expect(err.problem.length).toBeLessThan(120);
  });
});

describe('parseFromSupervisor', () => {
  it.each(fromSupervisor)('accepts %s and returns the decoded array', (_name, message) => {
    expect(parseFromSupervisor(encode(message))).toEqual(message);
  });

  it.each(titled(badFromSupervisor))('refuses %s', (_title, message, problem) => {
    const err = thrown(() => parseFromSupervisor(encode(message)));
    expect(err.from).toBe('supervisor');
    expect(err.problem).toMatch(problem);
  });

  it('refuses bytes that are not msgpack', () => {
    expect(thrown(() => parseFromSupervisor(Buffer.from([0x93, 0x01]))).problem).toMatch(/that is not msgpack/);
  });

  it('does not take one direction for the other', () => {
    // a worker's Ready is op 4, the supervisor's Output: it has the wrong shape there
    expect(thrown(() => parseFromSupervisor(encode([FromWorker.Ready]))).problem).toMatch(
      /Output message of 1 elements/,
    );
    // the supervisor's WorkerFault is op 6, a worker's Progress: [op, taskId, value], so 'x' is taken as the value;
    // its Output (op 4) is a worker's Ready, which has no elements
    expect(thrown(() => parseFromWorker(encode([FromSupervisor.Output, 1, 1, Buffer.from('x')]))).problem).toMatch(
      /Ready message of 4 elements/,
    );
  });
});
