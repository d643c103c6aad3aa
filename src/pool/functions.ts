// What a task runs: a function value (sent as source text, compiled once per worker) or a module reference
// (imported once per worker). Each distinct function gets a small integer key; a worker is sent the definition
// the first time it needs it, and afterwards only the key.

import { pathToFileURL } from 'node:url';
import { isAbsolute } from 'node:path';
import { encode } from '../wire/codec.js';
import { ToWorker } from '../wire/messages.js';

/** A function exported by a module: `{ module: 'file:///abs/path.mjs' | '/abs/path.mjs', name: 'square' }`. */
export interface ModuleRef {
  module: string | URL;
  /** Export name; default `'default'`. */
  name?: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskFunction = ((...args: any[]) => unknown) | ModuleRef;

export interface FnEntry {
  readonly key: number;
  /** The encoded Define message for this function. */
  readonly definition: Buffer;
  /** For messages: the function's name or module#export. */
  readonly label: string;
}

const NATIVE = /\{\s*\[native code\]\s*\}\s*$/;

/**
 * A function given as its source text, never evaluated in this process: the worker compiles it as it compiles
 * any function sent as source. For code that arrives as text (unitpool/cluster's agents); not part of the
 * public API of UnitPool.
 */
export class SourceText {
  constructor(
    readonly source: string,
    readonly name = 'anonymous function',
  ) {}
}

export class FunctionRegistry {
  private nextKey = 1;
  private readonly byValue = new WeakMap<object, FnEntry>();
  private readonly bySource = new Map<string, FnEntry>();

  /** The entry for `fn`; throws TypeError for things that cannot run in a worker. */
  resolve(fn: TaskFunction | SourceText): FnEntry {
    if (fn instanceof SourceText) {
      const { source } = fn;
      return this.intern(`source:${source}`, fn.name, (key) => [ToWorker.Define, key, 'source', source]);
    }
    if (typeof fn === 'function') {
      const cached = this.byValue.get(fn);
      if (cached) return cached;
      const entry = this.fromSource(fn);
      this.byValue.set(fn, entry);
      return entry;
    }
    if (fn !== null && typeof fn === 'object' && 'module' in fn) {
      const cached = this.byValue.get(fn);
      if (cached) return cached;
      const entry = this.fromModule(fn);
      this.byValue.set(fn, entry);
      return entry;
    }
    throw new TypeError(
      `the task must be a function or a module reference { module: '/abs/path.mjs' | URL, name: 'exportName' }; got ${typeof fn}`,
    );
  }

  private fromSource(fn: (...args: never[]) => unknown): FnEntry {
    const source = Function.prototype.toString.call(fn);
    const name = fn.name || 'anonymous function';
    if (NATIVE.test(source)) {
      throw new TypeError(
        `${name} cannot be sent to a worker: it is a native or bound function, which has no source text. ` +
          `Wrap it: (...args) => ${fn.name || 'fn'}(...args), written so that it needs nothing from the enclosing scope.`,
      );
    }
    if (/^class[\s{]/.test(source)) {
      throw new TypeError(`${name} cannot be sent to a worker: it is a class, not a function`);
    }
    return this.intern(`source:${source}`, name, (key) => [ToWorker.Define, key, 'source', source]);
  }

  private fromModule(ref: ModuleRef): FnEntry {
    const exportName = ref.name ?? 'default';
    let url: string;
    if (ref.module instanceof URL) url = ref.module.href;
    else if (typeof ref.module === 'string' && isAbsolute(ref.module)) url = pathToFileURL(ref.module).href;
    else if (typeof ref.module === 'string' && /^(file|data|node):/.test(ref.module)) url = ref.module;
    else
      throw new TypeError(
        `module reference ${String(ref.module)}: use an absolute path, a file: URL or new URL('./mod.js', import.meta.url); ` +
          `relative specifiers would resolve against the worker, not your code`,
      );
    return this.intern(`module:${url}#${exportName}`, `${url}#${exportName}`, (key) => [
      ToWorker.Define,
      key,
      'module',
      url,
      exportName,
    ]);
  }

  private intern(id: string, label: string, message: (key: number) => unknown[]): FnEntry {
    const existing = this.bySource.get(id);
    if (existing) return existing;
    const key = this.nextKey++;
    const entry: FnEntry = { key, definition: encode(message(key)), label };
    this.bySource.set(id, entry);
    return entry;
  }
}
