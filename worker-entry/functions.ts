// The functions a worker has been sent: compiled from source text, or imported from a module, once each; and the
// explanation of the classic mistake of a function sent as source (a variable from the scope it was written in).

import type { DefineMessage } from '../src/wire/messages.js';

export type Fn = (...args: unknown[]) => unknown;

export class Functions {
  private readonly table = new Map<number, Fn | Promise<Fn>>();
  private readonly fromSource = new Set<number>();

  /** The function, a promise of it (an import under way), or undefined if it was never defined. */
  get(key: number): Fn | Promise<Fn> | undefined {
    return this.table.get(key);
  }

  define(msg: DefineMessage): void {
    const key = msg[1];
    if (msg[2] === 'source') {
      this.fromSource.add(key);
      try {
        this.table.set(key, compile(msg[3]));
      } catch (err) {
        const failed = Promise.reject(err as Error);
        failed.catch(() => {});
        this.table.set(key, failed);
      }
      return;
    }
    const [, , , url, name] = msg;
    const loaded = import(url).then((mod: Record<string, unknown>) => {
      const fn = mod[name];
      if (typeof fn !== 'function') {
        throw new TypeError(
          `${url} has no exported function named '${name}' (exports: ${Object.keys(mod).join(', ') || 'none'})`,
        );
      }
      this.table.set(key, fn as Fn);
      return fn as Fn;
    });
    loaded.catch(() => {});
    this.table.set(key, loaded);
  }

  /** A free variable in a function sent as source is the classic mistake: say what happened and what to do. */
  explain(err: unknown, key: number): unknown {
    if (err instanceof ReferenceError && this.fromSource.has(key)) {
      const m = /^(\S+) is not defined$/.exec(err.message);
      if (m) {
        err.message =
          `${m[1]} is not defined in the worker. Functions passed to submit() or map() are sent as source text and ` +
          `compiled in the worker, so they cannot use variables, imports or functions from the scope they were written in. ` +
          `Pass ${m[1]} as an argument, import it inside the function (await import(...)), or use a module reference ` +
          `{ module, name } instead.`;
      }
    }
    return err;
  }
}

/** Compiles a function from its source text, in the worker's global scope (it can see no closure). */
function compile(source: string): Fn {
  const indirectEval = eval;
  try {
    return indirectEval(`(${source}\n)`) as Fn;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    // Method shorthand (`square(x) { ... }`, `async run() {}`) is not an expression on its own.
    const holder = indirectEval(`({ ${source}\n})`) as Record<string, Fn>;
    const fn = Object.values(holder)[0];
    if (typeof fn !== 'function') throw err;
    return fn;
  }
}

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}
