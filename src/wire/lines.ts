// Console output in whole lines: a worker's stdout and stderr are cut at the last newline of each chunk, so that
// lines of different workers never interleave mid-line. A line longer than LINE_LIMIT is cut there.

export const LINE_LIMIT = 64 * 1024;

/**
 * Feeds `stream`'s data to `emit` in whole lines (the rest when it ends). When `emit` returns false the
 * destination is full: `stream` is paused, and `emit`'s caller resumes it.
 */
export function forwardLines(stream: NodeJS.ReadableStream, emit: (bytes: Buffer) => boolean): void {
  let partial: Buffer[] = [];
  let partialBytes = 0;
  const flush = () => {
    if (partial.length === 0) return;
    const bytes = partial.length === 1 ? partial[0]! : Buffer.concat(partial);
    partial = [];
    partialBytes = 0;
    if (!emit(bytes)) stream.pause();
  };
  stream.on('data', (chunk: Buffer) => {
    const lastNewline = chunk.lastIndexOf(10);
    if (lastNewline < 0 && partialBytes + chunk.length < LINE_LIMIT) {
      partial.push(chunk);
      partialBytes += chunk.length;
      return;
    }
    const cut = lastNewline < 0 ? chunk.length : lastNewline + 1;
    partial.push(chunk.subarray(0, cut));
    flush();
    if (cut < chunk.length) {
      partial.push(chunk.subarray(cut));
      partialBytes = chunk.length - cut;
    }
  });
  stream.on('end', flush);
}
