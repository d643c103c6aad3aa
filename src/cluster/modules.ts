// Which code an agent runs: module references resolve inside its --modules directory and nowhere else, and
// source text only with --allow-source. A job names a module by a relative path; the path may not be absolute,
// contain `..`, a NUL or a backslash, and its real path (symlinks followed) must still lie inside the directory's
// real path: a symlink that leads out is refused.

import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type ModuleRef } from '../pool/functions.js';
import { ModuleRefusedError } from './errors.js';

const EXPORT_NAME = /^[A-Za-z_$][\w$]*$/;

export class ModuleDirectory {
  /** The directory's real path, or undefined when the agent was given none. */
  private readonly root: string | undefined;
  private readonly cache = new Map<string, ModuleRef>();

  constructor(dir: string | undefined) {
    if (dir === undefined) {
      this.root = undefined;
      return;
    }
    let real: string;
    try {
      real = realpathSync(dir);
    } catch (err) {
      throw new ModuleRefusedError(dir, `the modules directory cannot be opened: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!statSync(real).isDirectory()) throw new ModuleRefusedError(dir, 'the modules directory is not a directory');
    this.root = real;
  }

  /** The directory's real path, for messages and logs. */
  get path(): string | undefined {
    return this.root;
  }

  /** A module reference for the pool; throws ModuleRefusedError. */
  resolve(module: string, exportName: string): ModuleRef {
    const key = `${module}\0${exportName}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const ref = { module: this.locate(module), name: this.checkExport(module, exportName) };
    if (this.cache.size >= 1024) this.cache.clear();
    this.cache.set(key, ref);
    return ref;
  }

  private checkExport(module: string, name: string): string {
    if (name !== 'default' && !EXPORT_NAME.test(name))
      throw new ModuleRefusedError(module, `export name ${JSON.stringify(name)} is not an identifier`);
    return name;
  }

  private locate(module: string): string {
    if (this.root === undefined) {
      throw new ModuleRefusedError(
        module,
        'this agent was started without a modules directory (--modules DIR), so it runs no module',
      );
    }
    if (module === '' || module.length > 4096) throw new ModuleRefusedError(module, 'an empty or overlong path');
    if (module.includes('\0') || module.includes('\\'))
      throw new ModuleRefusedError(module, 'the path contains a NUL or a backslash');
    if (isAbsolute(module) || /^[a-z][a-z0-9+.-]*:/i.test(module)) {
      throw new ModuleRefusedError(
        module,
        `name it relative to the agent's modules directory (absolute paths and URLs are refused)`,
      );
    }
    if (module.split('/').some((part) => part === '..'))
      throw new ModuleRefusedError(module, '`..` may not appear in the path');
    let real: string;
    try {
      real = realpathSync(join(this.root, module));
    } catch (err) {
      throw new ModuleRefusedError(module, `no such module in the agent's modules directory`, { cause: err });
    }
    if (!real.startsWith(this.root + sep))
      throw new ModuleRefusedError(module, `it leads out of the agent's modules directory (a symlink to ${real})`);
    if (!statSync(real).isFile()) throw new ModuleRefusedError(module, 'it is not a file');
    return pathToFileURL(real).href;
  }
}
