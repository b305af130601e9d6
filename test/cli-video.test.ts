import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initEngine } from '@vqkit/core';
import { createImageTokenizerConfig, ImageTokenizer } from '@vqkit/image';
import { openVideo, writeVideo, type VideoFrame } from '@vqkit/video';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../packages/cli/src/main.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-cli-video-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function saveTokenizer(dir: string, seed: number): Promise<void> {
  const tok = ImageTokenizer.create(
    createImageTokenizerConfig({
      architecture: { downsampling: 4, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
      preprocessing: { height: 32, width: 32, channels: 3 },
      quantizer: { type: 'vq', codebookSize: 32, kmeansInit: false },
    }),
    { seed },
  );
  await tok.save(dir);
  tok.dispose();
}

/** A gradient background with a square moving right. */
function clip(count: number, width: number, height: number): VideoFrame[] {
  return Array.from({ length: count }, (_, index) => {
    const data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const square = y >= 8 && y < 24 && x >= index * 4 && x < index * 4 + 16;
        for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = square ? 240 : 30 + ((x + y + c * 20) % 100);
      }
    }
    return { index, timestamp: index / 12, width, height, data };
  });
}

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
  await saveTokenizer(path.join(root, 'tok'), 1);
  await saveTokenizer(path.join(root, 'other'), 2);
  await writeVideo(clip(12, 64, 48), path.join(root, 'clip.mp4'), { fps: 12 });
});

describe('vqkit encode/decode video', () => {
  it('encodes an MP4 at an explicit size and decodes it to MP4 and to PNG frames', async () => {
    const model = path.join(root, 'tok');
    const vqt = path.join(root, 'clip.vqt');
    const report = path.join(root, 'report.json');
    const encode = ['--backend', 'cpu', 'encode', 'video', path.join(root, 'clip.mp4'), '-m', model, '-o', vqt, '--size', '32x24', '--resize', 'resize', '--key-interval', '5', '--report', report];
    expect(await main(encode)).toBe(0);
    const stats = JSON.parse(fs.readFileSync(report, 'utf8'));
    expect(stats).toMatchObject({ frames: 12, keyFrames: 3, width: 32, height: 24, codeShape: [6, 8, 1], decoder: 'ffmpeg' });
    expect(stats.psnr.mean).toBeGreaterThan(0);

    const mp4 = path.join(root, 'out.mp4');
    expect(await main(['--backend', 'cpu', 'decode', vqt, '-m', model, '-o', mp4])).toBe(0);
    const back = await openVideo(mp4);
    expect(back.info).toMatchObject({ width: 32, height: 24, fps: { num: 12, den: 1 }, estimatedFrames: 12 });

    const frames = path.join(root, 'frames');
    expect(await main(['--backend', 'cpu', 'decode', vqt, '-m', model, '-o', `${frames}/`])).toBe(0);
    expect(fs.readdirSync(frames)).toHaveLength(12);

    // Codes of another tokenizer, a truncated video and a non-.vqt output are refused.
    expect(await main(['--backend', 'cpu', 'decode', vqt, '-m', path.join(root, 'other'), '-o', path.join(root, 'x.mp4')])).not.toBe(0);
    const truncated = path.join(root, 'truncated.mp4');
    const bytes = fs.readFileSync(path.join(root, 'clip.mp4'));
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(await main(['--backend', 'cpu', 'encode', 'video', truncated, '-m', model, '-o', path.join(root, 't.vqt')])).toBe(1);
    expect(fs.existsSync(path.join(root, 't.vqt'))).toBe(false);
    expect(await main(['--backend', 'cpu', 'encode', 'video', path.join(root, 'clip.mp4'), '-m', model, '-o', path.join(root, 'c.json')])).toBe(2);
  });
});
