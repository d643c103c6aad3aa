// Copies the non-TypeScript files that the compiled code loads at run time (shell scripts) into dist/.
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const dir of ['src/sandbox']) {
  let names;
  try {
    names = readdirSync(join(root, dir));
  } catch {
    continue;
  }
  for (const name of names.filter((n) => n.endsWith('.sh'))) {
    mkdirSync(join(root, 'dist', dir), { recursive: true });
    cpSync(join(root, dir, name), join(root, 'dist', dir, name));
  }
}
