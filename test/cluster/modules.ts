// The modules the test agents may run (written into each test's --modules directory).
export const JOBS = `
import { networkInterfaces } from 'node:os';
export function square(x) { return x * x; }
/** Which host ran it, and what its confinement looks like from inside. */
export function where(i) {
  return { i, host: process.env.AGENT, uid: process.getuid(), interfaces: Object.keys(networkInterfaces()).sort() };
}
export async function slow(i, ms) {
  await new Promise((r) => setTimeout(r, ms));
  return { i, host: process.env.AGENT, pid: process.pid };
}
export async function span(ms) {
  const start = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return { start, end: Date.now(), host: process.env.AGENT };
}
export function spin(ms) {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) n++;
  return { host: process.env.AGENT, n };
}
export function fail(code) {
  const err = new RangeError('no such thing', { cause: new Error('the root cause') });
  err.code = code;
  err.detail = { when: new Date(0), bytes: Buffer.from('abc') };
  throw err;
}
export function die() { process.kill(process.pid, 'SIGKILL'); }
export function hog() {
  const chunks = [];
  for (;;) chunks.push(Buffer.alloc(16 * 1024 * 1024, 1));
}
export function echo(value) { return value; }
`;
