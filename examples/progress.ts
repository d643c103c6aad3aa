// A batch job with a terminal progress bar: map()'s onProgress reports items done, the total and the rate.
//   npm run example -- progress
import { SingleBar, Presets } from 'cli-progress';
import { UnitPool } from 'unitpool';

const items = Array.from({ length: 20_000 }, (_, i) => i);
const bar = new SingleBar(
  { format: 'primes {bar} {value}/{total} items | {rate} items/s', noTTYOutput: true, notTTYSchedule: 500 },
  Presets.shades_classic,
);
bar.start(items.length, 0, { rate: 0 });

await using pool = new UnitPool({ maxWorkers: 2, preset: 'batch', properties: { PrivateNetwork: true } });
let primes = 0;
for await (const isPrime of pool.map(
  (n: number) => {
    if (n < 2) return false;
    for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
    return true;
  },
  items,
  { chunksize: 500, onProgress: ({ done, rate }) => bar.update(done, { rate: Math.round(rate) }) },
)) {
  if (isPrime) primes++;
}
bar.stop();
console.log(`${primes} primes below ${items.length}, computed in ${pool.unit?.name}`);
