// The bare AF_UNIX ping-pong's child: every byte read on fd 3 (one end of a socketpair) is written straight
// back, one write per read. No framing, no decoding, no task: what two Node processes cost each other alone.
import { Socket } from 'node:net';

const socket = new Socket({ fd: 3, readable: true, writable: true });
socket.on('data', (chunk) => socket.write(chunk));
socket.on('end', () => process.exit(0));
