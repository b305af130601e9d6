// Serving benchmark: requests/s and latency (p50/p99) of the TF Serving
// `compress` call (`POST /v1/models/NAME:predict`, {"instances":[{"image": base64}]})
// against `vqkit serve` running as its own process, for a 28×28 Fashion-MNIST
// PNG and a 256×256 Kodak JPEG, at 1, 8 and 32 concurrent connections
// (autocannon, loopback, fixed duration per run).
//
// Tokenizers: bench/results/tokenizers/fmnist-f4 and bench/results/tokenizers/kodak-f4
// when they exist (written by `pnpm bench image`), else untrained tokenizers of
// the same architecture (speed depends on the architecture, not the weights;
// only the entropy-coded size differs). Prints a table and writes
// bench/results/serve-<timestamp>.json.
//
//   pnpm bench serve [--duration 5] [--connections 1,8,32] [--backend auto] [--concurrency 2]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import { createImageTokenizerConfig, encodeImage, ImageTokenizer, loadImage, readIdxImages } from '../packages/image/dist/index.js';
import { benchOptions, dataRoot, isTokenizerDir, repoRoot, resultsDir, writeResult } from './lib/common.mjs';

const require = createRequire(import.meta.url);

function parseOptions() {
  const opts = benchOptions(import.meta.url, {
    duration: { type: 'number', default: 5 },
    connections: { type: 'list', default: ['1', '8', '32'] },
    backend: { type: 'string', default: 'auto' },
    concurrency: { type: 'integer' },
  });
  const connections = opts.connections.map(Number);
  if (connections.some((c) => !(Number.isInteger(c) && c > 0))) throw new Error('--connections must list positive integers');
  return { ...opts, connections };
}


/** A trained tokenizer from bench/results/tokenizers/NAME, else an untrained one of `config` saved to `tmp`. */
async function tokenizerDir(name, config, tmp) {
  const trained = path.join(resultsDir, 'tokenizers', name);
  if (isTokenizerDir(trained)) return { dir: trained, trained: true };
  const dir = path.join(tmp, name);
  const tokenizer = ImageTokenizer.create(config);
  await tokenizer.save(dir);
  tokenizer.dispose();
  return { dir, trained: false };
}

async function fmnistPng() {
  const system = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
  const file = fs.existsSync(system) ? system : path.join(repoRoot, 'examples/data/fashion-mnist/t10k-images-idx3-ubyte.gz');
  const { height, width, data } = await readIdxImages(file);
  return encodeImage({ data: data.subarray(0, height * width), width, height, channels: 1 }, 'png');
}

async function kodakJpeg() {
  const image = await loadImage(path.join(dataRoot, 'images/kodak/kodim23.png'), { size: 256, resize: 'center-crop' });
  return encodeImage(image, 'jpeg', { quality: 90 });
}

/** Starts `vqkit serve` on a free port; resolves with its base URL once it listens. */
function startServer(models, opts) {
  const args = [path.join(repoRoot, 'packages/cli/dist/main.js'), '--backend', opts.backend, 'serve', '--port', '0'];
  for (const [name, dir] of models) args.push('--model', `${name}=${dir}`);
  if (opts.concurrency !== undefined) args.push('--concurrency', String(opts.concurrency));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      log += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(log);
      if (match) resolve({ child, url: match[1], log: () => log });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`vqkit serve exited with ${code}:\n${log}`)));
  });
}

async function post(url, body) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  return response.json();
}

const pad = (s, n) => String(s).padStart(n);

async function main() {
  const opts = parseOptions();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-bench-serve-'));
  const reference = createImageTokenizerConfig();
  const fmnist = await tokenizerDir('fmnist-f4', reference, tmp);
  const kodak = await tokenizerDir('kodak-f4', createImageTokenizerConfig({ preprocessing: { height: 256, width: 256, channels: 3 } }), tmp);
  const cases = [
    { label: '28x28 PNG', model: 'fmnist', image: await fmnistPng(), tokenizer: fmnist },
    { label: '256x256 JPEG', model: 'kodak', image: await kodakJpeg(), tokenizer: kodak },
  ];
  const server = await startServer(
    cases.map((c) => [c.model, c.tokenizer.dir]),
    opts,
  );
  const backend = /backend (.*)/.exec(server.log())?.[1] ?? opts.backend;
  console.log(`vqkit serve at ${server.url} (backend ${backend}); ${opts.duration} s per run`);
  const rows = [];
  try {
    for (const c of cases) {
      const url = `${server.url}/v1/models/${c.model}:predict`;
      const body = JSON.stringify({ instances: [{ image: c.image.toString('base64') }] });
      // Warm-up: first-call kernel setup is not part of the steady state.
      const first = await post(url, body);
      for (let i = 0; i < 3; i++) await post(url, body);
      for (const connections of opts.connections) {
        const result = await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, duration: opts.duration });
        const codes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
        const row = {
          image: c.label,
          bytesIn: c.image.length,
          containerBytes: Buffer.from(first.predictions[0].compressed, 'base64').length,
          trainedTokenizer: c.tokenizer.trained,
          connections,
          requests: result.requests.total,
          requestsPerSecond: result.requests.average,
          latencyP50Ms: result.latency.p50,
          latencyP99Ms: result.latency.p99,
          statusCodes: codes,
          errors: result.errors,
          timeouts: result.timeouts,
        };
        rows.push(row);
        console.log(
          `${c.label.padEnd(13)} c=${pad(connections, 2)}  ${pad(row.requestsPerSecond.toFixed(1), 7)} req/s  p50 ${pad(row.latencyP50Ms, 5)} ms  p99 ${pad(row.latencyP99Ms, 5)} ms  ${JSON.stringify(codes)}${row.errors ? `  errors ${row.errors}` : ''}`,
        );
      }
    }
  } finally {
    server.child.kill('SIGTERM');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const file = writeResult('serve', { backend, options: opts, autocannon: require('autocannon/package.json').version, cpus: os.cpus().length, rows });
  console.log(`results: ${path.relative(repoRoot, file)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
