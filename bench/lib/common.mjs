// What every benchmark script shares: where things are, option parsing and
// the results file.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(benchDir, '..');
export const resultsDir = path.join(benchDir, 'results');
/** Kodak, FSDD and the video clip; `VQKIT_DATA_DIR` overrides. */
export const dataRoot = process.env.VQKIT_DATA_DIR ?? path.resolve(repoRoot, '../shared/data');
/** Where Fashion-MNIST is looked for: the Debian package, then the subset bundled for the demo. */
export const FMNIST_DIRS = ['/usr/share/datasets/fashion-mnist', path.join(repoRoot, 'examples/data/fashion-mnist')];

/** A saved tokenizer directory (config and weights present). */
export const isTokenizerDir = (dir) => fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'model.safetensors'));

/**
 * Parses `--kebab-case` options into a camelCase object. `spec` maps each
 * camelCase name to `{ type, default?, short? }` with type `string`,
 * `boolean`, `number` (finite; `integer` for positive integers), `list`
 * (comma-separated strings) or `repeated` (a string option given any number of
 * times). `--help` prints the leading `//` comment block of
 * `script` (its usage) and exits.
 */
export function benchOptions(script, spec, argv = process.argv.slice(2)) {
  const options = { help: { type: 'boolean', short: 'h' } };
  const kebab = (name) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  for (const [name, { type, short }] of Object.entries(spec)) {
    options[kebab(name)] = { type: type === 'boolean' ? 'boolean' : 'string', multiple: type === 'repeated', ...(short ? { short } : {}) };
  }
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new Error(`${error.message} (see --help)`);
  }
  if (values.help) {
    const lines = fs.readFileSync(fileURLToPath(script), 'utf8').split('\n');
    const end = lines.findIndex((l) => !l.startsWith('//'));
    console.log(lines.slice(0, end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
    process.exit(0);
  }
  const opts = {};
  for (const [name, { type, default: fallback }] of Object.entries(spec)) {
    const raw = values[kebab(name)];
    if (raw === undefined) opts[name] = Array.isArray(fallback) ? [...fallback] : fallback;
    else if (type === 'number' || type === 'integer') {
      const n = Number(raw);
      if (!Number.isFinite(n) || (type === 'integer' && !(Number.isInteger(n) && n > 0))) {
        throw new Error(`--${kebab(name)} must be ${type === 'integer' ? 'a positive integer' : 'a number'}, got ${JSON.stringify(raw)}`);
      }
      opts[name] = n;
    } else if (type === 'list') opts[name] = raw.split(',').filter(Boolean);
    else opts[name] = raw;
  }
  return opts;
}

/** `2026-11-27T03-31-19-619Z`: an ISO date usable in file names. */
export const fileTimestamp = (date = new Date()) => date.toISOString().replace(/[:.]/g, '-');

/** Writes `record` as bench/results/<prefix>-<timestamp>.json and returns the path. */
export function writeResult(prefix, record) {
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${prefix}-${fileTimestamp()}.json`);
  fs.writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}
