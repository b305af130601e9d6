import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createImageTokenizerConfig, ImageTokenizer } from '@vqkit/image';
import { createVocabulary, GPT, PriorModel } from '@vqkit/prior';
import { afterAll, describe, expect, it } from 'vitest';
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
