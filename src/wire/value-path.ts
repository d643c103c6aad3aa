// Where in a value the problem is, for the check before packing (prepare.ts): a Failure collects the path (`args[1]
// .handler`, `.get("k")`, `[3]`) while it travels up out of the walk, and becomes the SerializationError the caller
// sees, or the placeholder string of an Error's field that cannot be sent. A path that meets the same container
// twice is a cycle, and is reported as one.

import { SerializationError } from '../errors.js';

/** Why a value cannot be sent; collects the path while unwinding (innermost first). */
export class Failure {
  readonly segments: string[] = [];
  readonly containers: object[] = [];
  constructor(
    /** For the SerializationError message. */
    readonly problem: string,
    /** For the placeholder of an error field: "a function", "an instance of Foo". */
    readonly short: string,
    /** 'depth': nesting limit reached (a cycle, or really deep); the path tells which. */
    readonly kind: 'value' | 'depth' = 'value',
    readonly cause?: unknown,
  ) {}
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

export function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

export function describeMapKey(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key.length > 40 ? key.slice(0, 37) + '...' : key);
  if (typeof key === 'bigint') return `${key}n`;
  if (key === null || (typeof key !== 'object' && typeof key !== 'function' && typeof key !== 'symbol'))
    return String(key);
  return '…';
}

export function errorMessage(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'an unprintable value';
  }
}

/** Adds one level of path to a failure travelling up, turning any other exception into one. */
export function trace(err: unknown, container: object, segment: string): Failure {
  const failure =
    err instanceof Failure
      ? err
      : new Failure(`reading it threw: ${errorMessage(err)}`, 'reading it threw', 'value', err);
  failure.segments.push(segment);
  failure.containers.push(container);
  return failure;
}

/** The first container that occurs twice on the path, as [first index, second index] (root first). */
export function findCycle(containersInnermostFirst: readonly object[]): [number, number] | undefined {
  const seen = new Map<object, number>();
  const n = containersInnermostFirst.length;
  for (let i = 0; i < n; i++) {
    const container = containersInnermostFirst[n - 1 - i]!;
    const first = seen.get(container);
    if (first !== undefined) return [first, i];
    seen.set(container, i);
  }
  return undefined;
}

export function toSerializationError(err: unknown, root: string): SerializationError {
  if (!(err instanceof Failure)) {
    return new SerializationError(root, `checking it threw: ${errorMessage(err)}`, { cause: err });
  }
  const segments = err.segments.slice().reverse();
  if (err.kind === 'depth') {
    const cycle = findCycle(err.containers);
    if (cycle) {
      const [first, second] = cycle;
      const to = root + segments.slice(0, first).join('');
      return new SerializationError(
        root + segments.slice(0, second).join(''),
        `it is a circular reference to ${to} (the value contains itself); circular structures cannot be sent`,
      );
    }
  }
  return new SerializationError(
    root + segments.join(''),
    err.problem,
    err.cause === undefined ? {} : { cause: err.cause },
  );
}

export function placeholder(failure: unknown): string {
  if (!(failure instanceof Failure)) return '[not sendable: reading it threw]';
  if (failure.kind === 'depth')
    return `[not sendable: ${findCycle(failure.containers) ? 'a circular reference' : failure.short}]`;
  return `[not sendable: ${failure.short}]`;
}
