import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readContainerHeader } from '@vqkit/core';
import { createImageTokenizerConfig, encodeImage, ImageTokenizer } from '@vqkit/image';
import { createVocabulary, GPT, PriorModel } from '@vqkit/prior';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../packages/cli/src/main.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vqkit-cli-serve-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function waitFor<T>(probe: () => T | undefined): Promise<T> {
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('vqkit serve', () => {
  it('serves a tokenizer directory with its prior over TF Serving REST and exits cleanly on SIGTERM', async () => {
    const tokenizerDir = path.join(root, 'tok');
    const priorDir = path.join(root, 'prior');
    const tokenizer = ImageTokenizer.create(
      createImageTokenizerConfig({
        architecture: { downsampling: 4, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
        quantizer: { type: 'vq', codebookSize: 16, kmeansInit: false },
      }),
    );
    await tokenizer.save(tokenizerDir);
    tokenizer.dispose();
    const vocabulary = createVocabulary({ codebookSize: 16, numClasses: 2 });
    // The prior records its tokenizer, as `vqkit train prior` does.
    const prior = new PriorModel(new GPT({ vocabulary, nPositions: 50, nEmbd: 8, nLayer: 1, nHead: 2 }), {
      modality: 'image',
      grid: { height: 7, width: 7 },
      tokenizerDir: path.relative(priorDir, tokenizerDir),
    });
    prior.save(priorDir);
    prior.dispose();

    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const running = main(['--backend', 'cpu', 'serve', '--model', `vq_vae=${tokenizerDir}`, '--prior', `vq_vae=${priorDir}`, '--port', '0']);
      const url = await waitFor(() => lines.map((l) => /listening on (http:\/\/\S+)/.exec(l)?.[1]).find((u) => u !== undefined));
      const status = await (await fetch(`${url}/v1/models/vq_vae`)).json();
      expect(status.model_version_status[0].state).toBe('AVAILABLE');
      const png = await encodeImage({ data: new Uint8Array(28 * 28).fill(120), width: 28, height: 28, channels: 1 }, 'png');
      const compress = await fetch(`${url}/v1/models/vq_vae:predict`, { method: 'POST', body: JSON.stringify({ instances: [{ image: png.toString('base64') }] }) });
      expect(compress.status).toBe(200);
      const container = Buffer.from((await compress.json()).predictions[0].compressed, 'base64');
      expect(readContainerHeader(new Uint8Array(container)).modality).toBe('image');
      const generate = await fetch(`${url}/v1/models/vq_vae:predict`, { method: 'POST', body: JSON.stringify({ signature_name: 'generate', instances: [{ class: 1, seed: 2 }] }) });
      expect(generate.status).toBe(200);
      process.emit('SIGTERM');
      expect(await running).toBe(0);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    } finally {
      log.mockRestore();
      vi.restoreAllMocks();
    }
  });

  it('serves a prior directory with the tokenizer it records', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const running = main(['--backend', 'cpu', 'serve', '--model', path.join(root, 'prior'), '--port', '0']);
      const url = await waitFor(() => lines.map((l) => /listening on (http:\/\/\S+)/.exec(l)?.[1]).find((u) => u !== undefined));
      const generate = await fetch(`${url}/v1/models/prior:predict`, { method: 'POST', body: JSON.stringify({ signature_name: 'generate', instances: [{ seed: 1 }] }) });
      expect(generate.status).toBe(200);
      process.emit('SIGINT');
      expect(await running).toBe(0);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('refuses a prior for an unknown model, a prior given twice, and a bad model name', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await main(['serve', '--model', `p=${path.join(root, 'prior')}`, '--prior', `p=${path.join(root, 'prior')}`, '--port', '0'])).toBe(2);
      expect(await main(['serve', '--model', `a=${path.join(root, 'tok')}`, '--prior', `b=${path.join(root, 'prior')}`, '--port', '0'])).toBe(2);
      expect(await main(['serve', '--model', `../x=${path.join(root, 'tok')}`, '--port', '0'])).toBe(2);
    } finally {
      vi.restoreAllMocks();
    }
  });
});
