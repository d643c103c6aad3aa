// A pool scoped to a block: `await using` stops it, and its unit, when the block ends, even on an exception.
//   npm run example -- scoped
import { UnitPool } from 'unitpool';

async function wordLengths(words: string[]): Promise<number[]> {
  await using pool = new UnitPool({
    maxWorkers: 2,
    properties: { User: 'nobody', PrivateNetwork: true, PrivateTmp: true, ProtectSystem: 'strict', MemoryMax: '256M' },
  });
  const lengths: number[] = [];
  for await (const n of pool.map((w: string) => w.length, words, { chunksize: 2 })) lengths.push(n);
  console.log(`computed in ${pool.unit?.name}`);
  return lengths;
}

console.log(await wordLengths(['systemd', 'transient', 'unit', 'pool']));
