import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initEngine, readContainerHeader } from '@vqkit/core';
import { createImageTokenizerConfig, ImageTokenizer, loadImage, saveImage } from '@vqkit/image';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProgram, main } from '../packages/cli/src/main.js';

describe('vqkit compress / decompress / fit-entropy', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-cli-compress-'));
  const tok = path.join(dir, 'tok');
  const image = path.join(dir, 'img.png');
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
    const config = createImageTokenizerConfig({
      architecture: { downsampling: 4, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
      preprocessing: { height: 16, width: 16, channels: 1 },
      quantizer: { type: 'vq', codebookSize: 16, kmeansInit: false },
    });
    await ImageTokenizer.create(config, { seed: 1 }).save(tok);
    fs.mkdirSync(path.join(dir, 'train'));
    for (let k = 0; k < 4; k++) {
      const data = Float32Array.from({ length: 30 * 29 }, (_, i) => 0.5 + 0.5 * Math.sin(i / (3 + k)));
      await saveImage(k === 0 ? image : path.join(dir, 'train', `${k}.png`), { data, width: 29, height: 30, channels: 1 });
    }
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('registers the commands', () => {
    const names = buildProgram().commands.map((c) => c.name());
    expect(names).toEqual(expect.arrayContaining(['compress', 'decompress', 'fit-entropy']));
  });

  it('fits the entropy model, compresses with it, decompresses to the original size, and rejects a damaged file', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await main(['--backend', 'cpu', 'fit-entropy', '-m', tok, '--data', path.join(dir, 'train'), '--crop', '28'])).toBe(0);
      expect(fs.existsSync(path.join(tok, 'entropy.bin'))).toBe(true);
      const vqt = path.join(dir, 'a.vqt');
      expect(await main(['--backend', 'cpu', 'compress', image, '-m', tok, '-o', vqt, '-e', 'learned'])).toBe(0);
      const summary = log.mock.calls.map((c) => String(c[0])).join('\n');
      expect(summary).toMatch(/compressed bytes \d+/);
      expect(summary).toMatch(/PSNR +[\d.]+ dB/);
      expect(readContainerHeader(new Uint8Array(fs.readFileSync(vqt))).entropyModel).toBe('neighbour');
      const png = path.join(dir, 'a.png');
      expect(await main(['--backend', 'cpu', 'decompress', vqt, '-m', tok, '-o', png])).toBe(0);
      const decoded = await loadImage(png, { channels: 1 });
      expect([decoded.width, decoded.height]).toEqual([29, 30]);
      fs.writeFileSync(path.join(dir, 'bad.vqt'), fs.readFileSync(vqt).subarray(0, 20));
      expect(await main(['--backend', 'cpu', 'decompress', path.join(dir, 'bad.vqt'), '-m', tok, '-o', png])).toBe(1);
      expect(err.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/checksum mismatch/);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
  });
});
