// One-off: run a function in a confined worker and print its result.
//   npm run example -- submit
import { UnitPool } from 'unitpool';

const pool = new UnitPool({
  maxWorkers: 1,
  properties: { User: 'nobody', PrivateNetwork: true, ProtectSystem: 'strict' },
});
try {
  const three = await pool.submit((a: number, b: number) => a + b, [1, 2]);
  const who = await pool.submit(() => ({ uid: process.getuid!(), pid: process.pid }));
  console.log(`1 + 2 = ${three}, computed by uid ${who.uid} (pid ${who.pid}) in ${pool.unit?.name}`);
} finally {
  await pool.shutdown();
}
