// How a client names the function of a job: a function value travels as its source text (run only by agents
// started with --allow-source), a module reference as a path relative to the agents' --modules directory. An
// absolute path or file: URL is accepted when it lies inside the client's own copy of that directory (the
// `modules` option), so code written for one machine, `{ module: new URL('./jobs/resize.js', import.meta.url) }`,
// runs on many by changing only the constructor.

import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OptionError } from '../errors.js';
import type { TaskFunction } from '../pool/functions.js';
import type { JobFunction } from './job.js';

const NATIVE = /\{\s*\[native code\]\s*\}\s*$/;
const MODULE_REF = "a function, or a module reference { module: 'file.mjs', name: 'exportName' }";

/** An OptionError whose message is `message` as it stands. */
function refused(option: string, value: unknown, message: string, expected = MODULE_REF): OptionError {
  return new OptionError(option, value, message, expected, { message });
}

export class JobFunctions {
  private readonly cache = new WeakMap<object, JobFunction>();
  private readonly root: string | undefined;

  /** `modules`: the client's copy of the agents' modules directory, for absolute references. */
  constructor(modules: string | URL | undefined) {
    this.root =
      modules === undefined
        ? undefined
        : modules instanceof URL || modules.startsWith('file:')
          ? fileURLToPath(modules)
          : modules;
    if (this.root !== undefined && !isAbsolute(this.root))
      throw refused(
        'modules',
        modules,
        `modules: ${this.root} is not an absolute path or a file: URL`,
        "an absolute path or a file: URL, e.g. new URL('./jobs/', import.meta.url)",
      );
  }

  /** What the job carries for `fn`; throws OptionError for what cannot run remotely. */
  of(fn: TaskFunction): JobFunction {
    if (fn === null || (typeof fn !== 'function' && typeof fn !== 'object')) {
      throw refused(
        'fn',
        fn,
        `the task must be a function or a module reference { module: 'file.mjs', name: 'exportName' }; got ${typeof fn}`,
      );
    }
    let spec = this.cache.get(fn);
    if (!spec) {
      spec = typeof fn === 'function' ? fromSource(fn) : this.fromModule(fn);
      this.cache.set(fn, spec);
    }
    return spec;
  }

  private fromModule(ref: { module: string | URL; name?: string }): JobFunction {
    if (!('module' in ref)) throw refused('fn', ref, 'a module reference needs { module, name }');
    const name = ref.name ?? 'default';
    let path: string;
    if (ref.module instanceof URL || (typeof ref.module === 'string' && ref.module.startsWith('file:')))
      path = fileURLToPath(ref.module);
    else if (typeof ref.module === 'string') path = ref.module;
    else
      throw refused(
        'fn.module',
        ref.module,
        `module reference: module must be a path relative to the agents' --modules directory, got ${typeof ref.module}`,
      );
    if (!isAbsolute(path)) return ['m', path, name];
    if (this.root === undefined) {
      throw refused(
        'fn.module',
        ref.module,
        `module reference ${path}: agents resolve modules relative to their --modules directory; name it relative to that ` +
          `directory, or give the ClusterPool the local copy of it as { modules: new URL('./jobs/', import.meta.url) }`,
      );
    }
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      throw refused(
        'fn.module',
        ref.module,
        `module reference ${path} is not inside the modules directory ${this.root} given to the ClusterPool`,
      );
    }
    return ['m', rel.split(sep).join('/'), name];
  }
}

function fromSource(fn: (...args: never[]) => unknown): JobFunction {
  const source = Function.prototype.toString.call(fn);
  const name = fn.name || 'anonymous function';
  if (NATIVE.test(source))
    throw refused(
      'fn',
      fn,
      `${name} cannot be sent to an agent: it is a native or bound function, which has no source text`,
    );
  if (/^class[\s{]/.test(source))
    throw refused('fn', fn, `${name} cannot be sent to an agent: it is a class, not a function`);
  return ['s', source, name];
}
