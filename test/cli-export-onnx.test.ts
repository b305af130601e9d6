import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AudioTokenizer, createAudioTokenizerConfig, encodeWav, readWav } from '@vqkit/audio';
import { createImageTokenizerConfig, ImageTokenizer } from '@vqkit/image';
import { createVocabulary, GPT, PriorModel } from '@vqkit/prior';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../packages/cli/src/main.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-cli-onnx-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('vqkit export onnx', () => {
  it('exports a tokenizer into <model>/onnx, which loading then uses', async () => {
    const model = path.join(root, 'tok');
    const tok = ImageTokenizer.create(
      createImageTokenizerConfig({
        architecture: { downsampling: 2, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
        preprocessing: { height: 8, width: 8, channels: 1 },
        quantizer: { type: 'vq', codebookSize: 16, kmeansInit: false },
      }),
    );
    await tok.save(model);
    tok.dispose();
    expect(await main(['--backend', 'cpu', 'export', 'onnx', '-m', model])).toBe(0);
    expect(fs.readdirSync(path.join(model, 'onnx')).sort()).toEqual(['decoder.onnx', 'encoder.onnx', 'manifest.json']);
    const loaded = await ImageTokenizer.load(model);
    expect(loaded.runtime).toBe('onnx');
    loaded.dispose();
  });

  it('exports an audio tokenizer (detected from config.json); encode/decode audio then run on ONNX Runtime with TF.js results', async () => {
    const model = path.join(root, 'audio-tok');
    const tok = AudioTokenizer.create(
      createAudioTokenizerConfig({ architecture: { channels: 4, maxChannels: 8, latentDim: 8, strides: [4, 4] }, quantizer: { levels: 3, codebookSize: 16, kmeansInit: false } }),
      { seed: 1 },
    );
    // The untrained decoder is (nearly) silent: a waveform decoder's output conv starts at zero, an iSTFT
    // decoder's log-magnitudes at −4. Make it audible so decoded audio is not trivially equal.
    for (const [name, variable] of tok.model.namedVariables()) {
      if (name === 'decoder.output.weight') variable.assign(variable.onesLike().cumsum(0).mul(0.05));
      if (name === 'decoder.magnitude.bias') variable.assign(variable.zerosLike());
    }
    tok.save(model);
    tok.dispose();
    expect(await main(['--backend', 'cpu', 'export', 'onnx', '-m', model])).toBe(0);
    expect(fs.readdirSync(path.join(model, 'onnx')).sort()).toEqual(['decoder.onnx', 'encoder.onnx', 'manifest.json']);
    expect(JSON.parse(fs.readFileSync(path.join(model, 'onnx', 'manifest.json'), 'utf8'))).toMatchObject({ format: 'vqkit.audio-tokenizer-onnx', hop: 16, levels: 3 });

    const input = path.join(root, 'speech.wav');
    fs.writeFileSync(input, encodeWav(Float32Array.from({ length: 2400 }, (_, t) => 0.3 * Math.sin((2 * Math.PI * (200 + t / 10) * t) / 8000)), { sampleRate: 8000 }));
    const stderr = vi.spyOn(console, 'error');
    const run = async (runtime: string, name: string): Promise<{ codes: number[][]; wav: Float32Array; log: string }> => {
      process.env.VQKIT_RUNTIME = runtime;
      stderr.mockClear();
      try {
        const codes = path.join(root, `${name}.json`);
        const out = path.join(root, `${name}.wav`);
        expect(await main(['--backend', 'cpu', 'encode', 'audio', input, '-m', model, '--levels', '2', '-o', codes])).toBe(0);
        expect(await main(['--backend', 'cpu', 'decode', codes, '-m', model, '-o', out])).toBe(0);
        const log = stderr.mock.calls.map((c) => String(c[0])).join('\n');
        return { codes: JSON.parse(fs.readFileSync(codes, 'utf8')).codes, wav: (await readWav(out)).channels[0]!, log };
      } finally {
        delete process.env.VQKIT_RUNTIME;
      }
    };
    const onnx = await run('auto', 'via-onnx');
    const tfjs = await run('tfjs', 'via-tfjs');
    stderr.mockRestore();
    expect(onnx.log).toMatch(/vqkit: inference onnx \(ONNX Runtime/);
    expect(tfjs.log).toMatch(/vqkit: inference tfjs \(runtime tfjs requested\)/);
    expect(onnx.codes).toEqual(tfjs.codes);
    expect(onnx.wav.length).toBe(2400);
    // 16-bit PCM: the two decodes (within 1e-4 of each other) round to the same or adjacent steps.
    let worst = 0;
    for (let i = 0; i < onnx.wav.length; i++) worst = Math.max(worst, Math.abs(onnx.wav[i]! - tfjs.wav[i]!));
    expect(worst).toBeLessThanOrEqual(1 / 32768 + 1e-6);
    // Neither an image nor an audio tokenizer: a file error, not a crash.
    const other = path.join(root, 'not-a-tokenizer');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'config.json'), JSON.stringify({ format: 'vqkit.video-tokenizer' }));
    expect(await main(['--backend', 'cpu', 'export', 'onnx', '-m', other])).toBe(1);
  });

  it('exports a prior as a Hugging Face GPT-2 directory and rejects ambiguous flags', async () => {
    const priorDir = path.join(root, 'prior');
    const prior = new PriorModel(new GPT({ vocabulary: createVocabulary({ codebookSize: 8 }), nPositions: 10, nEmbd: 8, nLayer: 1, nHead: 2 }), { modality: 'image' });
    prior.save(priorDir);
    prior.dispose();
    const out = path.join(root, 'hf');
    expect(await main(['--backend', 'cpu', 'export', 'onnx', '--prior', priorDir, '-o', out])).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'))).toMatchObject({ model_type: 'gpt2', n_layer: 1, vocab_size: 9 });
    expect(fs.existsSync(path.join(out, 'onnx', 'model.onnx'))).toBe(true);
    expect(await main(['export', 'onnx', '--prior', priorDir, '-m', priorDir, '-o', out])).toBe(2);
  });
});
