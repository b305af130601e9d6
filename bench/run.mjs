// `pnpm bench <name> [args…]` runs bench/<name>.mjs after the build.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs')
  .map((f) => f.slice(0, -4));
const [name, ...rest] = process.argv.slice(2);
if (!name || !existsSync(join(here, `${name}.mjs`))) {
  console.error(`usage: pnpm bench <${available.join('|')}> [options]`);
  process.exit(2);
}
const r = spawnSync(process.execPath, [join(here, `${name}.mjs`), ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
