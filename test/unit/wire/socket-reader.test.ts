// readFrames() (src/wire/socket-reader.ts): a socket accepted by net.Server reads frames with `onread` (its handle
// moved to a socket made with one), the same frames in the same order as with 'data' events, a large payload
// straight into its own buffer; the old socket stays a working stand-in (destroy, 'close').
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../../src/wire/frame-decoder.js';
import { encodeFrame, FrameTooLargeError } from '../../../src/wire/frame.js';
import { readFrames, setMovesHandles } from '../../../src/wire/socket-reader.js';

let server: Server | undefined;
const clients: Socket[] = [];

afterEach(() => {
  setMovesHandles(true);
  for (const c of clients.splice(0)) c.destroy();
  server?.close();
  server = undefined;
});

/** An accepted (paused) socket and the client connected to it, over an abstract AF_UNIX socket (no file). */
async function pair(): Promise<{ accepted: Socket; client: Socket }> {
  const path = `\0unitpool-socket-reader-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const s = createServer({ pauseOnConnect: true });
  server = s;
  await new Promise<void>((resolve) => s.listen(path, resolve));
  const accepted = new Promise<Socket>((resolve) => s.once('connection', resolve));
  const client = connect(path);
  clients.push(client);
  return { accepted: await accepted, client };
}

const until = async (ok: () => boolean) => {
  for (let i = 0; !ok(); i++) {
    if (i > 500) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe.each([true, false])('readFrames (handles moved: %s)', (moves) => {
  it('delivers the bytes given first, then every frame in order; a large payload in one buffer', async () => {
    setMovesHandles(moves);
    const { accepted, client } = await pair();
    const frames: [number, Buffer][] = [];
    const decoder = new FrameDecoder({ onFrame: (c, p) => frames.push([c, p]) });
    const first = encodeFrame(1, Buffer.from('first'));
    const source = readFrames(accepted, decoder, (err) => frames.push([-1, Buffer.from(err.message)]), first);
    expect(source !== accepted).toBe(moves);
    const large = Buffer.alloc(3 * 1024 * 1024 + 5, 0x5a);
    client.write(Buffer.concat([encodeFrame(2, Buffer.from('small')), encodeFrame(3, large)]));
    await until(() => frames.length === 3);
    expect(frames.map(([c]) => c)).toEqual([1, 2, 3]);
    expect(frames[0]![1].toString()).toBe('first');
    expect(frames[2]![1].equals(large)).toBe(true);
    if (moves) expect(frames[2]![1].buffer.byteLength).toBe(large.length); // read into a buffer of its own
    // the returned socket writes too
    const echoed = new Promise<Buffer>((resolve) => client.once('data', resolve));
    source.write('back');
    expect((await echoed).toString()).toBe('back');
  });

  it('destroy() on the socket given closes the connection, and it emits close', async () => {
    setMovesHandles(moves);
    const { accepted, client } = await pair();
    readFrames(accepted, new FrameDecoder({ onFrame: () => {} }), () => {});
    const closed = new Promise<void>((resolve) => accepted.once('close', () => resolve()));
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.on('error', () => {});
    client.resume();
    accepted.destroy();
    await closed;
    await clientClosed;
  });

  it('the peer closing closes both sockets', async () => {
    setMovesHandles(moves);
    const { accepted, client } = await pair();
    const source = readFrames(accepted, new FrameDecoder({ onFrame: () => {} }), () => {});
    const closed = Promise.all(
      [accepted, source].map((s) => new Promise<void>((resolve) => s.once('close', () => resolve()))),
    );
    client.end();
    await closed;
  });

  it('a frame over maxFrame goes to onError', async () => {
    setMovesHandles(moves);
    const { accepted, client } = await pair();
    const errors: Error[] = [];
    readFrames(accepted, new FrameDecoder({ maxFrame: 16, onFrame: () => {} }), (err) => errors.push(err));
    client.write(encodeFrame(1, Buffer.alloc(100)));
    await until(() => errors.length > 0);
    expect(errors[0]).toBeInstanceOf(FrameTooLargeError);
  });
});
