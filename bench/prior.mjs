// Transformer-prior benchmark: training throughput (tokens/s through
// forward + backward + AdamW) and sampling throughput (generated tokens/s)
// with the KV cache, against re-running the whole prefix for every token.
// Run after the build:
//   npx tsc -b && node bench/prior.mjs [options]
// Options:
//   --backends a,b   backends to measure (default: vqkit-cpu,cpu)
//   --embd C --layers L --heads H --ctx T --vocab V   model (default 128/4/4/256/512)
//   --batch B        training batch and sampling batch (default 8)
//   --new N          tokens generated per sequence (default 64)
//   --steps S        training steps timed per repetition (default 3)
//   --reps R         repetitions; the best is printed (default 3)
// Timings are best-of-R: the machine is shared and noisy.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { initEngine } from '../packages/core/dist/index.js';
import { DecodingSession, GPT, createVocabulary, generate, trainPrior } from '../packages/prior/dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tf = createRequire(path.join(here, '../packages/prior/package.json'))('@tensorflow/tfjs');

function parseArgs(argv) {
  const opts = { backends: ['vqkit-cpu', 'cpu'], embd: 128, layers: 4, heads: 4, ctx: 256, vocab: 512, batch: 8, new: 64, steps: 3, reps: 3 };
  const keys = { '--embd': 'embd', '--layers': 'layers', '--heads': 'heads', '--ctx': 'ctx', '--vocab': 'vocab', '--batch': 'batch', '--new': 'new', '--steps': 'steps', '--reps': 'reps' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--backends') opts.backends = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (arg in keys) {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${arg} needs a positive integer`);
      opts[keys[arg]] = v;
    } else if (arg === '--help' || arg === '-h') {
      console.log('options: --backends a,b --embd C --layers L --heads H --ctx T --vocab V --batch B --new N --steps S --reps R');
      process.exit(0);
    } else throw new Error(`unknown option ${arg}`);
  }
  return opts;
}

function randomSequences(n, length, vocabulary, seed) {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    const seq = new Int32Array(length);
    seq[0] = vocabulary.bosId;
    for (let i = 1; i < length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      seq[i] = s % vocabulary.codebookSize;
    }
    return seq;
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const vocabulary = createVocabulary({ codebookSize: opts.vocab, numClasses: 10 });
  const modelOptions = { vocabulary, nPositions: opts.ctx, nEmbd: opts.embd, nLayer: opts.layers, nHead: opts.heads };
  console.log(`model: nEmbd ${opts.embd}, nLayer ${opts.layers}, nHead ${opts.heads}, context ${opts.ctx}, vocab ${vocabulary.vocabSize}; batch ${opts.batch}`);
  for (const backend of opts.backends) {
    let info;
    try {
      info = await initEngine({ backend });
    } catch (err) {
      console.log(`${backend}: unavailable (${err.message})`);
      continue;
    }
    const train = randomSequences(opts.batch * 4, opts.ctx + 1, vocabulary, 1);
    let bestTrain = 0;
    let params = 0;
    for (let r = 0; r < opts.reps; r++) {
      // +1 warm-up step excluded by reading the throughput the trainer reports after all steps.
      const report = await trainPrior({ model: { ...modelOptions, seed: r }, train, validationFraction: 0, steps: opts.steps, batchSize: opts.batch, logEvery: 1000 });
      bestTrain = Math.max(bestTrain, report.tokensPerSecond);
      params = report.parameterCount;
      report.model.dispose();
    }
    const model = new GPT(modelOptions);
    const before = tf.memory().numTensors;
    let bestCached = 0;
    for (let r = 0; r < opts.reps; r++) {
      const t0 = performance.now();
      generate(model, { batch: opts.batch, maxNewTokens: opts.new, seed: r, topK: 50 });
      bestCached = Math.max(bestCached, (opts.batch * opts.new) / ((performance.now() - t0) / 1000));
    }
    // Baseline: the full prefix re-run for every new token (what decoding costs without the cache).
    let bestFull = 0;
    const fullTokens = Math.min(opts.new, 16);
    for (let r = 0; r < opts.reps; r++) {
      const session = new DecodingSession(model, Array.from({ length: opts.batch }, () => [vocabulary.bosId]));
      const seqs = Array.from({ length: opts.batch }, () => [vocabulary.bosId]);
      const t0 = performance.now();
      for (let i = 0; i < fullTokens; i++) {
        const T = seqs[0].length;
        const logits = tf.tidy(() => model.forward(tf.tensor2d(seqs.flat(), [opts.batch, T], 'int32')).dataSync());
        for (let b = 0; b < opts.batch; b++) seqs[b].push(logits[(b * T + T - 1) * vocabulary.vocabSize] > 0 ? 1 : 2);
      }
      bestFull = Math.max(bestFull, (opts.batch * fullTokens) / ((performance.now() - t0) / 1000));
      session.dispose();
    }
    const leaked = tf.memory().numTensors - before;
    model.dispose();
    console.log(
      `${info.description}: ${(params / 1e6).toFixed(2)}M params; train ${bestTrain.toFixed(0)} tokens/s; ` +
        `sample (KV cache) ${bestCached.toFixed(0)} tokens/s; full re-run per token ${bestFull.toFixed(0)} tokens/s (first ${fullTokens} tokens); leaked tensors ${leaked}`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
