import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageTokenizer, createImageTokenizerConfig, encodeIdx, loadImage } from '@vqkit/image';
import { PriorModel, priorTokenizerDir } from '@vqkit/prior';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../packages/cli/src/main.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-cli-prior-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const COUNT = 24;
const SIDE = 8;
let tokenizerDir: string;
let tokenizerId: string;
let images: string;

beforeAll(async () => {
  const tokenizer = ImageTokenizer.create(
    createImageTokenizerConfig({
      architecture: { downsampling: 4, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
      preprocessing: { height: SIDE, width: SIDE, channels: 1 },
      quantizer: { type: 'vq', codebookSize: 16, kmeansInit: false },
    }),
    { seed: 4 },
  );
  tokenizerDir = path.join(root, 'tokenizer');
  await tokenizer.save(tokenizerDir);
  tokenizerId = tokenizer.id;
  tokenizer.dispose();
  const pixels = new Uint8Array(COUNT * SIDE * SIDE).map((_, p) => ((p % SIDE) * 31 + Math.floor(p / (SIDE * SIDE)) * 53 + Math.floor(p / SIDE) * 7) % 256);
  images = path.join(root, 'train-images-idx3-ubyte');
  fs.writeFileSync(images, encodeIdx({ dtype: 'uint8', shape: [COUNT, SIDE, SIDE], data: pixels }));
  fs.writeFileSync(path.join(root, 'train-labels-idx1-ubyte'), encodeIdx({ dtype: 'uint8', shape: [COUNT], data: Uint8Array.from({ length: COUNT }, (_, i) => i % 3) }));
});

describe('vqkit train prior / vqkit sample', () => {
  it('trains a class-conditional prior on tokenizer codes, resumes from its checkpoint, and samples a decoded image grid by class name', async () => {
    const out = path.join(root, 'prior');
    const cache = path.join(root, 'cache');
    const train = (steps: number): string[] => [
      '--backend', 'cpu', 'train', 'prior', '--tokenizer', tokenizerDir, '--data', images, '-o', out, '--cache-dir', cache,
      '--class-names', 'tee,boot,bag', '--steps', String(steps), '--batch-size', '4', '--embd', '16', '--layers', '1', '--heads', '2', '--eval-every', '3',
    ];
    expect(await main(train(3))).toBe(0);
    const first = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { steps: number; resumedFromStep: number; validation: { bitsPerPixel: number } };
    expect(first).toMatchObject({ steps: 3, resumedFromStep: 0 });
    expect(first.validation.bitsPerPixel).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(out, 'checkpoint.safetensors'))).toBe(true);
    // The codes were cached under the tokenizer id.
    expect(fs.readdirSync(cache)).toEqual([tokenizerId]);

    // Same command with more steps: continues from the checkpoint.
    expect(await main(train(5))).toBe(0);
    const second = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as { steps: number; resumedFromStep: number };
    expect(second).toMatchObject({ steps: 5, resumedFromStep: 3 });

    const prior = PriorModel.load(out);
    expect(prior.metadata).toMatchObject({ modality: 'image', tokenizer: tokenizerId, grid: { height: 2, width: 2 }, classNames: ['tee', 'boot', 'bag'] });
    expect(prior.config.vocabulary).toMatchObject({ codebookSize: 16, numClasses: 3 });
    // Recorded relative to the prior, so the two directories can move together.
    expect(prior.metadata.tokenizerDir).toBe(path.join('..', 'tokenizer'));
    expect(priorTokenizerDir(out, prior.metadata)).toBe(tokenizerDir);
    prior.dispose();

    const grid = path.join(root, 'samples.png');
    const codes = path.join(root, 'samples.json');
    expect(await main(['--backend', 'cpu', 'sample', '--prior', out, '--class', 'boot', '--n', '5', '--columns', '5', '-o', grid, '--codes', codes, '--seed', '3'])).toBe(0);
    const png = await loadImage(grid, { channels: 3 });
    expect(png.width).toBeGreaterThan(5 * SIDE);
    const sampled = JSON.parse(fs.readFileSync(codes, 'utf8')) as { classIndex: number; samples: { codes: number[] }[] };
    expect(sampled.classIndex).toBe(1);
    expect(sampled.samples).toHaveLength(5);
    for (const s of sampled.samples) {
      expect(s.codes).toHaveLength(4);
      expect(s.codes.every((c) => Number.isInteger(c) && c >= 0 && c < 16)).toBe(true);
    }
    // The same seed in other batch sizes gives the same samples.
    const again = path.join(root, 'again.json');
    expect(await main(['--backend', 'cpu', 'sample', '--prior', out, '--class', '1', '--n', '5', '--batch', '2', '-o', grid, '--codes', again, '--seed', '3'])).toBe(0);
    expect(JSON.parse(fs.readFileSync(again, 'utf8')).samples).toEqual(sampled.samples);

    expect(await main(['--backend', 'cpu', 'sample', '--prior', out, '--class', 'sandal', '-o', grid])).toBe(2);
  });
});
