// The raw floor's framing: [u32 BE payload length][msgpack payload], nothing else. Deliberately minimal and
// independent of src/wire, so the floor shows what a parent and a child can do over a pipe with no pool logic.

export const LARGE = 64 * 1024;

/** Calls onFrame(payload) for every whole frame pushed; a payload within one chunk is a zero-copy slice. */
export class Frames {
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.head = Buffer.alloc(0); // a partial header, or the start of a partial small frame
    this.body = null; // a large frame being assembled
    this.fill = 0;
  }

  push(chunk) {
    let off = 0;
    if (this.body !== null) {
      const take = Math.min(this.body.length - this.fill, chunk.length);
      chunk.copy(this.body, this.fill, 0, take);
      this.fill += take;
      off = take;
      if (this.fill < this.body.length) return;
      const body = this.body;
      this.body = null;
      this.onFrame(body);
    } else if (this.head.length > 0) {
      chunk = Buffer.concat([this.head, chunk]);
      this.head = Buffer.alloc(0);
    }
    const n = chunk.length;
    while (n - off >= 4) {
      const len = chunk.readUInt32BE(off);
      if (n - off - 4 >= len) {
        this.onFrame(chunk.subarray(off + 4, off + 4 + len));
        off += 4 + len;
      } else if (len >= LARGE) {
        this.body = Buffer.allocUnsafe(len);
        this.fill = chunk.copy(this.body, 0, off + 4);
        return;
      } else break;
    }
    if (off < n) this.head = chunk.subarray(off);
  }
}

/** Batches frames written in one tick into one write(); a large payload goes by reference after its header. */
export class Batcher {
  constructor(stream) {
    this.stream = stream;
    this.parts = [];
    this.scheduled = false;
    this.flush = () => {
      this.scheduled = false;
      const parts = this.parts;
      if (parts.length === 0) return;
      this.parts = [];
      this.stream.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    };
  }

  write(payload) {
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(payload.length, 0);
    if (payload.length >= LARGE) {
      this.flush();
      this.stream.cork();
      this.stream.write(header);
      this.stream.write(payload);
      this.stream.uncork();
      return;
    }
    this.parts.push(header, payload);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
  }
}
