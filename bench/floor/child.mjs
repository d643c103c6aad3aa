// The raw floor's child: reads [id, op, arg] frames on stdin, runs the op, writes [id, result] frames on stdout.
// Replies to the frames of one read are written together (one write per read). No pool logic at all.
import { Packr } from 'msgpackr';
import { Batcher, Frames } from './frames.mjs';
import { doubleChunk, echo, hash, noop } from '../workers/tasks.mjs';

const OPS = [noop, echo, doubleChunk, hash];
const packr = new Packr({ useRecords: false, moreTypes: true });
const out = new Batcher(process.stdout);
const frames = new Frames((payload) => {
  const [id, op, arg] = packr.unpack(payload);
  out.write(packr.pack([id, OPS[op](arg)]));
});
process.stdin.on('data', (chunk) => frames.push(chunk));
process.stdin.on('end', () => process.exit(0));
