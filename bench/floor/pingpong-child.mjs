// The bare AF_UNIX ping-pong's child. Ping-pong (argv 'bytes'): every byte read on fd 3 (one end of a socketpair)
// is written straight back, one write per read. Echo (argv 'echo'): messages are [u32 BE length][bytes]; each is
// read with `onread` straight into one buffer of its size (as a worker reads a large argument) and written back
// whole, with its header. No decoding, no task: what two Node processes cost each other alone.
import { Socket } from 'node:net';

const HEADER = 4;
if (process.argv[2] === 'echo') {
  let header = Buffer.alloc(HEADER);
  let body = null;
  let fill = 0;
  let socket;
  // the header (4 bytes) is read alone, then the body in as many reads as it takes
  const onread = {
    buffer: () => (body ? body.subarray(fill) : header.subarray(fill)),
    callback: (n) => {
      fill += n;
      if (body === null && fill === HEADER) {
        body = Buffer.allocUnsafe(header.readUInt32BE(0));
        fill = 0;
      }
      if (body !== null && fill === body.length) {
        socket.cork();
        socket.write(header);
        socket.write(body);
        socket.uncork();
        header = Buffer.alloc(HEADER);
        body = null;
        fill = 0;
      }
      return true;
    },
  };
  socket = new Socket({ fd: 3, readable: true, writable: true, onread });
  socket.on('end', () => process.exit(0));
} else {
  const socket = new Socket({ fd: 3, readable: true, writable: true });
  socket.on('data', (chunk) => socket.write(chunk));
  socket.on('end', () => process.exit(0));
}
