/**
 * `vqkit bench`: how fast this machine runs vqkit, with the backend and
 * runtime the other commands would pick. The repository's `pnpm bench …`
 * scripts measure quality and compare codecs; these two answer "how many
 * images per second will my tokenizer do here?" for an installed vqkit.
 */
import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import type { CodesInput, ImageF32 } from '@vqkit/image';
import { startEngine, type EngineFlags } from '../engine.js';
import { loadImageTokenizer } from '../inference.js';
import { intOption } from '../flags.js';

/** Calls `run` until `seconds` have passed (after one untimed call); returns calls per second. */
async function rate(seconds: number, run: () => Promise<void> | void): Promise<number> {
  await run();
  let calls = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await run();
    calls++;
  }
  return calls / ((performance.now() - started) / 1000);
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('measure this machine: matrix multiply GFLOP/s, or a tokenizer’s encode/decode images/s');

  bench
    .command('matmul')
    .description('GFLOP/s of an n×n×n float32 matrix multiply on the selected backend')
    .option('--size <n>', 'matrix size', '1024')
    .option('--seconds <s>', 'time to measure', '3')
    .action(async (opts: { size: string; seconds: string }, cmd: Command) => {
      const info = await startEngine(cmd.optsWithGlobals<EngineFlags>());
      const n = intOption('size', opts.size, 1)!;
      const a = tf.randomNormal([n, n]);
      const b = tf.randomNormal([n, n]);
      const perSecond = await rate(Number(opts.seconds), async () => {
        const c = tf.matMul(a, b);
        await c.data();
        c.dispose();
      });
      tf.dispose([a, b]);
      console.log(`matmul ${n}×${n}×${n} on ${info.description}: ${((2 * n ** 3 * perSecond) / 1e9).toFixed(1)} GFLOP/s`);
    });

  bench
    .command('tokenizer')
    .description('encode and decode images/s of an image tokenizer at its training size (random pixels)')
    .requiredOption('-m, --model <dir>', 'image tokenizer directory')
    .option('--batch <n>', 'images per call', '64')
    .option('--seconds <s>', 'time to measure each direction', '3')
    .option('--runtime <name>', 'auto, onnx or tfjs (env VQKIT_RUNTIME)')
    .action(async (opts: { model: string; batch: string; seconds: string; runtime?: string }, cmd: Command) => {
      await startEngine(cmd.optsWithGlobals<EngineFlags>());
      const tokenizer = await loadImageTokenizer(opts.model, opts.runtime);
      try {
        const batch = intOption('batch', opts.batch, 1)!;
        const seconds = Number(opts.seconds);
        const { height, width, channels } = tokenizer.config.preprocessing;
        const images: ImageF32[] = Array.from({ length: batch }, () => ({
          data: Float32Array.from({ length: height * width * channels }, () => Math.random()),
          height,
          width,
          channels,
        }));
        let codes: CodesInput[] = [];
        const encode = await rate(seconds, async () => {
          codes = await tokenizer.encodeBatch(images);
        });
        const decode = await rate(seconds, async () => {
          await tokenizer.decodeBatch(codes);
        });
        console.log(`${width}×${height}×${channels}, batch ${batch}, ${tokenizer.runtime}: encode ${(encode * batch).toFixed(0)} images/s, decode ${(decode * batch).toFixed(0)} images/s`);
      } finally {
        tokenizer.dispose();
      }
    });
}
