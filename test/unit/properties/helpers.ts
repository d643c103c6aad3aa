import { OptionError } from '../../../src/errors.js';
import {
  type CompileOptions,
  compileProperties,
  type DBusProperty,
  type UnitProperties,
} from '../../../src/properties/index.js';

/** compileProperties with a quiet, host-independent setup: no env, 8 CPUs, warnings collected. */
export function compile(props: UnitProperties | Record<string, unknown>, options: CompileOptions = {}): DBusProperty[] {
  return compileProperties(props as UnitProperties, { env: 'none', hostCpus: 8, warn: () => {}, ...options });
}

/** The OptionError thrown by fn (fails the test if it throws anything else or nothing). */
export function optionError(fn: () => unknown): OptionError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OptionError) return err;
    throw err;
  }
  throw new Error('expected an OptionError, nothing was thrown');
}

/** The message compile() throws for props. */
export function message(props: UnitProperties | Record<string, unknown>, options: CompileOptions = {}): string {
  return optionError(() => compile(props, options)).message;
}
