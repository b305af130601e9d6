// GEMM throughput of the WebAssembly SIMD engine (both kernel builds, 1 and 2
// threads) against the plain-JS reference. Run after the build:
//   node scripts/build-wasm.mjs && npx tsc -b && node bench/gemm.mjs [--quick] [--json]
// Prints GFLOP/s (best of several runs: timings on a shared machine are noisy).
import os from 'node:os';
import { benchmarkGemm, createWasmGemmEngine, relaxedSimdSupported } from '../packages/core/dist/engine/wasm/index.js';
import { referenceGemm } from '../packages/core/dist/engine/gemm.js';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const json = args.has('--json');

/**
 * [label, m, k, n, inPlace]. `inPlace` puts the operands in engine memory
 * (`engine.alloc`), as a conv kernel writing its im2col matrix there does;
 * otherwise A and B are copied in and C out on every call.
 */
const SHAPES = [
  ['square 1024³', 1024, 1024, 1024, false],
  ['conv-like 25088×288×64', 25088, 288, 64, false],
  ['conv-like, in place', 25088, 288, 64, true],
];
if (quick) SHAPES.push(['small 128³', 128, 128, 128, false]);

const variants = ['simd'];
if (await relaxedSimdSupported()) variants.push('relaxed');
const threadCounts = [...new Set([1, Math.min(2, os.availableParallelism())])];

const rows = [];
const print = (row) => {
  rows.push(row);
  if (!json) {
    console.log(
      `${row.engine.padEnd(32)} ${row.shape.padEnd(26)} ${row.gflops.toFixed(1).padStart(7)} GFLOP/s  ${(row.seconds * 1e3).toFixed(2).padStart(9)} ms`,
    );
  }
};

for (const variant of variants) {
  for (const threads of threadCounts) {
    const engine = await createWasmGemmEngine({ variant, threads });
    try {
      for (const [shape, m, k, n, inPlace] of SHAPES) {
        const result = benchmarkGemm(engine, { m, n, k, inPlace, repeats: quick ? 3 : 5, minSeconds: quick ? 0.3 : 1 });
        print({ ...result, shape });
      }
    } finally {
      engine.dispose();
    }
  }
}

// The JS reference is ~100× slower: time it on a small size only.
const small = benchmarkGemm(referenceGemm, { m: 256, n: 256, k: 256, warmup: 1, repeats: 3, minSeconds: 0.3 });
print({ ...small, shape: 'small 256³' });

if (json) console.log(JSON.stringify(rows, null, 2));
