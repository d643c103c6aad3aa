// workerpool's worker script (workerType: 'process'): registers the shared task functions by name.
import workerpool from 'workerpool';
import { doubleChunk, echo, hash, noop } from './tasks.mjs';

workerpool.worker({ noop, echo, doubleChunk, hash });
