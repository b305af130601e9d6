// `pnpm bench tokenize`: dataset tokenization throughput (items/s) in this
// thread, with 1 and 2 worker threads, and through a Redis queue with 2
// worker processes, on Fashion-MNIST (train + test, 70k images) with the
// reference f=4 tokenizer and on the Free Spoken Digit Dataset (3,000 WAVs)
// with the audio tokenizer — the trained ones from `pnpm bench image` /
// `pnpm bench audio` when present, else untrained ones of the same
// architecture (the speed is the same).
//
// Options: --dataset fmnist,fsdd   --limit N (FMNIST items, default all)
//          --modes inline,threads1,threads2,queue2   --shard-size N (default 4096; FSDD 500)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initEngine } from '@vqkit/core';
import { AudioTokenizer, DEFAULT_AUDIO_TOKENIZER_CONFIG } from '@vqkit/audio';
import { fashionMnistConfig, ImageTokenizer } from '@vqkit/image';
import { tokenizeDataset } from '@vqkit/tokenize';
import { dataRoot, repoRoot, resultsDir, writeResult } from './lib/common.mjs';

const { values: args } = parseArgs({
  options: {
    limit: { type: 'string' },
    dataset: { type: 'string', default: 'fmnist,fsdd' },
    modes: { type: 'string', default: 'inline,threads1,threads2,queue2' },
    'shard-size': { type: 'string' },
  },
});

const engine = await initEngine({});
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-bench-tokenize-'));

/** The trained bench tokenizer if present, else an untrained one of the same architecture. */
async function tokenizerFor(name, create) {
  const trained = path.join(resultsDir, 'tokenizers', name);
  if (fs.existsSync(path.join(trained, 'config.json'))) return { dir: trained, note: `trained ${name}` };
  const dir = path.join(work, `tokenizer-${name}`);
  const untrained = create();
  await untrained.save(dir);
  untrained.dispose();
  return { dir, note: `untrained ${name} architecture (same speed)` };
}

async function fmnistInputs() {
  const fmnistDir = '/usr/share/datasets/fashion-mnist';
  const data = ['train-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte.gz'].map((f) => path.join(fmnistDir, f));
  if (!data.every((f) => fs.existsSync(f))) return { skipped: `Fashion-MNIST not found in ${fmnistDir} (apt-get install dataset-fashion-mnist)` };
  if (args.limit === undefined) return { data };
  const { readIdxImages, encodeIdx } = await import('@vqkit/image');
  const train = await readIdxImages(data[0]);
  const n = Math.min(Number(args.limit), train.count);
  const file = path.join(work, 'subset-images-idx3-ubyte');
  fs.writeFileSync(file, encodeIdx({ dtype: 'uint8', shape: [n, train.height, train.width], data: train.data.subarray(0, n * train.height * train.width) }));
  return { data: [file] };
}

const datasets = {
  fmnist: async () => ({
    ...(await fmnistInputs()),
    tokenizer: await tokenizerFor('fmnist-f4', () => ImageTokenizer.create(fashionMnistConfig())),
    shardSize: Number(args['shard-size'] ?? 4096),
  }),
  fsdd: async () => {
    const fsdd = path.join(dataRoot, 'audio/fsdd');
    if (!fs.existsSync(fsdd)) return { skipped: `FSDD not found in ${fsdd}` };
    return { data: [fsdd], tokenizer: await tokenizerFor('fsdd', () => AudioTokenizer.create(DEFAULT_AUDIO_TOKENIZER_CONFIG)), shardSize: Number(args['shard-size'] ?? 500) };
  },
};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function run(set, mode) {
  const outDir = path.join(work, `out-${mode}`);
  const options = { tokenizer: set.tokenizer.dir, data: set.data, outDir, shardSize: set.shardSize };
  const children = [];
  try {
    if (mode === 'inline') options.workers = 0;
    else if (mode.startsWith('threads')) options.workers = Number(mode.slice('threads'.length));
    else if (mode.startsWith('queue')) {
      const redisServer = spawnSync('which', ['redis-server']).stdout.toString().trim();
      if (!redisServer) return { mode, skipped: 'redis-server not installed' };
      const port = await freePort();
      children.push(spawn(redisServer, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
      options.queue = `redis://127.0.0.1:${port}`;
      const workers = Number(mode.slice('queue'.length));
      for (let i = 0; i < workers; i++) {
        children.push(spawn(process.execPath, [path.join(repoRoot, 'packages/cli/dist/main.js'), '--threads', '1', 'worker', '--queue', options.queue], { stdio: 'ignore' }));
      }
    }
    const started = performance.now();
    const result = await tokenizeDataset(options);
    const seconds = (performance.now() - started) / 1000;
    return { mode, items: result.manifest.totals.items, errors: result.manifest.totals.errors, seconds, itemsPerSecond: result.manifest.totals.items / seconds };
  } finally {
    for (const child of children) child.kill('SIGTERM');
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}

console.log(`engine: ${engine.description}; cores: ${os.availableParallelism()}`);
const rows = [];
for (const name of args.dataset.split(',')) {
  const set = await datasets[name]();
  if (set.skipped) {
    console.log(`${name}: skipped: ${set.skipped}`);
    continue;
  }
  console.log(`${name} (${set.tokenizer.note}):`);
  for (const mode of args.modes.split(',')) {
    const row = { dataset: name, tokenizer: set.tokenizer.note, ...(await run(set, mode)) };
    rows.push(row);
    console.log(row.skipped ? `  ${mode.padEnd(9)} skipped: ${row.skipped}` : `  ${mode.padEnd(9)} ${String(row.items).padStart(6)} items  ${row.seconds.toFixed(1).padStart(6)} s  ${row.itemsPerSecond.toFixed(0).padStart(6)} items/s`);
  }
}
const out = writeResult('tokenize', { engine: engine.description, rows });
console.log(`wrote ${path.relative(repoRoot, out)}`);
fs.rmSync(work, { recursive: true, force: true });
