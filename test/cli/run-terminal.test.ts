// `unitpool run` at a terminal, as a person uses it: typed into a real terminal (tmux, on a private socket),
// against the real systemd of the sandbox. These are playpen README's interactive examples:
//
//   $ playpen -m 50M -q -- python3          $ playpen -m 50M python3
//   Python 3.12.3 (main, ...) on linux      Running as unit: run-u544.service; ...
//   >>> print(123)                          Python 3.12.3 ...
//   123                                     >>> x = [0] * 2**30
//   >>>                                     Finished with result: oom-kill
//                                           Main processes terminated with: code=killed/status=KILL
//                                           ...
//   $ playpen -m 50M -c 100% python3   (a CPU cap too; the prompt shows)
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, noSystemd } from './helpers.js';

const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));
const TMUX = ['/usr/bin/tmux', '/usr/local/bin/tmux'].find((p) => existsSync(p));
const skip =
  noSystemd ??
  (!TMUX
    ? 'no tmux to type into'
    : !PYTHON
      ? 'no python3'
      : !existsSync('/usr/bin/script')
        ? 'no script(1)'
        : undefined);
if (skip) console.warn(`unitpool run terminal tests skipped: ${skip}`);

describe.skipIf(skip !== undefined)('unitpool run at a terminal', () => {
  let dir: string;
  let sock: string;
  let servers = 0;
  const tmux = (...args: string[]) => spawnSync(TMUX!, ['-S', sock, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-J', '-t', 't').stdout;
  /** Polls the screen until `re` matches it (10 s at most); returns the screen. */
  async function waitFor(re: RegExp): Promise<string> {
    let s = screen();
    for (let i = 0; i < 100 && !re.test(s); i++) {
      await new Promise((r) => setTimeout(r, 100));
      s = screen();
    }
    expect(s).toMatch(re);
    return s;
  }
  /** Starts `unitpool run ARGS` in a fresh 100x30 terminal; the shell prints EXIT=<status> after it. */
  function start(args: string): void {
    // A server of its own for each test: one just killed may still hold its socket.
    sock = join(dir, `tmux-${++servers}.sock`);
    const r = tmux(
      'new-session',
      '-d',
      '-s',
      't',
      '-x',
      '100',
      '-y',
      '30',
      `${process.execPath} ${CLI} run ${args}; echo EXIT=$?; sleep 600`,
    );
    expect(r.status, r.stderr).toBe(0);
  }
  const type = (text: string) => tmux('send-keys', '-t', 't', '-l', text);
  const key = (k: string) => tmux('send-keys', '-t', 't', k);

  beforeAll(() => {
    mkdirSync('/run/unitpool-test', { recursive: true, mode: 0o755 });
    dir = mkdtempSync('/run/unitpool-test/tty-');
    chmodSync(dir, 0o755);
  });
  afterEach(() => {
    tmux('kill-server');
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('python3 -m 50M -q: the prompt, a TTY of the terminal size (and its changes), Ctrl-C as KeyboardInterrupt', async () => {
    start(`-m 50M -q -- ${PYTHON}`);
    await waitFor(/^>>> $/m);
    type('print(123)');
    key('Enter');
    await waitFor(/^123\n>>> $/m);
    type('import os, shutil; print(os.isatty(0), os.isatty(1), tuple(shutil.get_terminal_size()))');
    key('Enter');
    await waitFor(/^True True \(100, 30\)$/m);
    tmux('resize-window', '-t', 't', '-x', '120', '-y', '40');
    await new Promise((r) => setTimeout(r, 300));
    type('print(tuple(shutil.get_terminal_size()))');
    key('Enter');
    await waitFor(/^\(120, 40\)$/m);
    // Ctrl-C is SIGINT to the foreground process: python stops sleeping and keeps going.
    type('import time; time.sleep(60)');
    key('Enter');
    await new Promise((r) => setTimeout(r, 500));
    key('C-c');
    await waitFor(/^KeyboardInterrupt\n>>> $/m);
    type('os._exit(3)');
    key('Enter');
    await waitFor(/^EXIT=3$/m);
  });

  it('python3 -m 50M: an allocation past the cap ends in the OOM report, after the last output', async () => {
    start(`-m 50M -c 100% ${PYTHON}`);
    await waitFor(/^Running as unit: unitpool-run-[0-9a-f]{10}\.service\n(.*\n)*>>> $/m);
    type('print("last words", flush=True); x = [0] * 2**30');
    key('Enter');
    const s = await waitFor(/^EXIT=137$/m);
    expect(s).toMatch(
      /^last words\n(.*\n)*unitpool run: the command was killed by the kernel's OOM killer: the unit ran out of memory \(MemoryMax=50\.0M\)\nFinished with result: oom-kill\nMain processes terminated with: code=killed\/status=KILL\n/m,
    );
    expect(s).toMatch(/^Memory peak: (4\d|50)\.\dM$/m);
  });

  it('without a terminal on stdin (a pipe), the command gets the pipe, and no terminal', async () => {
    start(`-q -- ${PYTHON} -c "import os,sys; print(os.isatty(0), os.isatty(1), sys.stdin.read())" < /dev/null | cat`);
    await waitFor(/^False False \nEXIT=0$/m);
  });
});
