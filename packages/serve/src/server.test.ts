import autocannon from 'autocannon';
import sharp from 'sharp';
import { initEngine } from '@vqkit/core';
import { createImageTokenizerConfig, decompressImage, encodeImage, ImageTokenizer, loadImage } from '@vqkit/image';
import { createVocabulary, GPT, PriorModel, samplePrior } from '@vqkit/prior';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ServeLimits, type VqkitServer } from './server.js';

function tinyTokenizer(seed: number): ImageTokenizer {
  return ImageTokenizer.create(
    createImageTokenizerConfig({
      architecture: { downsampling: 4, hiddenChannels: 8, residualBlocks: 1, residualHiddenChannels: 4, codeDim: 4 },
      preprocessing: { height: 28, width: 28, channels: 1 },
      quantizer: { type: 'vq', codebookSize: 16, kmeansInit: false },
    }),
    { seed },
  );
}

function tinyPrior(): PriorModel {
  const vocabulary = createVocabulary({ codebookSize: 16, numClasses: 2 });
  const gpt = new GPT({ vocabulary, nPositions: 50, nEmbd: 8, nLayer: 1, nHead: 2, seed: 1 });
  return new PriorModel(gpt, { modality: 'image', grid: { height: 7, width: 7 }, classNames: ['shirt', 'shoe'] });
}

/** A smooth grey 28×28 PNG (what the Java client would read from disk, here as bytes). */
async function testPng(width = 28, height = 28, channels: 1 | 3 = 1): Promise<Buffer> {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(127 + 120 * Math.sin(i / 9));
  return encodeImage({ data, width, height, channels }, 'png');
}

let tokenizer: ImageTokenizer;
let otherTokenizer: ImageTokenizer;
let prior: PriorModel;
let server: VqkitServer;
let base: string;
let png: Buffer;
let b64: string;

async function startServer(limits: Partial<ServeLimits> = {}): Promise<{ server: VqkitServer; base: string }> {
  const s = createServer({ models: [{ name: 'vq_vae', tokenizer, prior }], limits });
  return { server: s, base: await s.listen({ port: 0, host: '127.0.0.1' }) };
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, any>; headers: Headers }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, any>, headers: response.headers };
}

async function get(url: string): Promise<{ status: number; json: Record<string, any> }> {
  const response = await fetch(url);
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
  tokenizer = tinyTokenizer(3);
  otherTokenizer = tinyTokenizer(4);
  prior = tinyPrior();
  png = await testPng();
  b64 = png.toString('base64');
  ({ server, base } = await startServer());
});

afterAll(async () => {
  await server.close();
  tokenizer.dispose();
  otherTokenizer.dispose();
  prior.dispose();
});

describe('model status and metadata', () => {
  it('answers GetModelStatus in TF Serving shape, for the model and its version', async () => {
    const expected = { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] };
    expect(await get(`${base}/v1/models/vq_vae`)).toEqual({ status: 200, json: expected });
    expect(await get(`${base}/v1/models/vq_vae/versions/1`)).toEqual({ status: 200, json: expected });
  });

  it('answers 404 for unknown models and versions, 400 for a malformed version', async () => {
    const unknown = await get(`${base}/v1/models/nope`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatch(/Servable not found.*Latest\(nope\)/);
    const version = await get(`${base}/v1/models/vq_vae/versions/2`);
    expect(version.status).toBe(404);
    expect(version.json.error).toMatch(/Specific\(vq_vae, 2\)/);
    expect((await get(`${base}/v1/models/vq_vae/versions/abc`)).status).toBe(400);
    expect((await get(`${base}/v1/models/vq_vae/versions/2/metadata`)).status).toBe(404);
    // Model names are keys, never paths.
    expect((await get(`${base}/v1/models/..%2F..%2Fetc`)).status).toBe(404);
    const route = await get(`${base}/v2/whatever`);
    expect(route.status).toBe(404);
    expect(route.json.error).toMatch(/Malformed request/);
  });

  it('describes every signature as a SignatureDef with typed inputs and outputs', async () => {
    for (const url of [`${base}/v1/models/vq_vae/metadata`, `${base}/v1/models/vq_vae/versions/1/metadata`]) {
      const { status, json } = await get(url);
      expect(status).toBe(200);
      expect(json.model_spec).toEqual({ name: 'vq_vae', signature_name: '', version: '1' });
      const defs = json.metadata.signature_def.signature_def;
      expect(Object.keys(defs).sort()).toEqual(['compress', 'decode', 'decompress', 'encode', 'generate', 'serving_default']);
      expect(defs.serving_default.method_name).toBe('tensorflow/serving/predict');
      expect(defs.serving_default.inputs.image).toEqual({ dtype: 'DT_STRING', tensor_shape: { dim: [{ size: '-1', name: '' }], unknown_rank: false }, name: 'image:0' });
      expect(Object.keys(defs.serving_default.outputs)).toEqual(['compressed', 'codes', 'shape', 'bpp']);
      expect(defs.decompress.outputs.image.dtype).toBe('DT_STRING');
      expect(Object.keys(defs.generate.inputs)).toEqual(['class', 'temperature', 'top_k', 'top_p', 'seed']);
    }
  });
});

describe('predict: compress and decompress', () => {
  it('serves the TF Serving client request unchanged: instances[{image: base64}] → predictions[0].compressed', async () => {
    const { status, json } = await post(`${base}/v1/models/vq_vae:predict`, { instances: [{ image: b64 }] });
    expect(status).toBe(200);
    const [prediction] = json.predictions;
    const container = Buffer.from(prediction.compressed, 'base64');
    // The server's codes are the tokenizer's codes of the image, and the container decodes to them.
    const reference = await tokenizer.encode(await loadImage(png, { channels: 1 }));
    const decoded = await decompressImage(new Uint8Array(container), tokenizer);
    expect(Array.from(decoded.codes.codes)).toEqual(Array.from(reference.codes));
    expect(prediction.shape).toEqual([7, 7]);
    expect(prediction.codes.flat()).toEqual(Array.from(reference.codes));
    expect(prediction.bpp).toBeCloseTo((8 * container.length) / (28 * 28), 10);
  });

  it('accepts {"b64": …}, bare values, several instances, and the columnar format with the same results', async () => {
    const url = `${base}/v1/models/vq_vae/versions/1:predict`;
    const other = (await testPng(30, 20, 3)).toString('base64');
    const row = await post(url, { signature_name: 'compress', instances: [{ image: { b64 } }, other] });
    expect(row.status).toBe(200);
    const bare = await post(url, { instances: [b64] });
    const wrapped = await post(url, { instances: [{ b64 }] });
    expect(bare.json.predictions[0].compressed).toBe(row.json.predictions[0].compressed);
    expect(wrapped.json.predictions[0].compressed).toBe(row.json.predictions[0].compressed);
    // 30×20 RGB → grey, padded to a multiple of 4: a 5×8 grid.
    expect(row.json.predictions[1].shape).toEqual([5, 8]);

    const columnar = await post(url, { inputs: { image: [b64, { b64: other }] } });
    expect(columnar.status).toBe(200);
    expect(columnar.json.outputs.compressed).toEqual(row.json.predictions.map((p: { compressed: string }) => p.compressed));
    expect(columnar.json.outputs.shape).toEqual([[7, 7], [5, 8]]);
    const single = await post(url, { inputs: b64 });
    expect(single.json.outputs.compressed).toEqual([row.json.predictions[0].compressed]);
  });

  it('decompresses to the PNG of the decoded codes, in both formats', async () => {
    const compressed = (await post(`${base}/v1/models/vq_vae:predict`, { instances: [b64] })).json.predictions[0].compressed as string;
    const reference = await tokenizer.decodeToPng(await tokenizer.encode(await loadImage(png, { channels: 1 })));
    const row = await post(`${base}/v1/models/vq_vae:predict`, { signature_name: 'decompress', instances: [{ compressed }] });
    expect(row.status).toBe(200);
    expect(row.json.predictions[0].height).toBe(28);
    expect(Buffer.from(row.json.predictions[0].image.b64, 'base64').equals(reference)).toBe(true);
    const columnar = await post(`${base}/v1/models/vq_vae:predict`, { signature_name: 'decompress', inputs: { compressed: [{ b64: compressed }] } });
    expect(columnar.json.outputs.image[0].b64).toBe(row.json.predictions[0].image.b64);
  });

  it('encodes to codes and decodes codes back to the same PNG', async () => {
    const encoded = await post(`${base}/v1/models/vq_vae:predict`, { signature_name: 'encode', instances: [{ image: b64 }] });
    const { codes, shape, height, width } = encoded.json.predictions[0];
    expect([shape, height, width]).toEqual([[7, 7], 28, 28]);
    const decoded = await post(`${base}/v1/models/vq_vae:predict`, { signature_name: 'decode', instances: [{ codes, height, width }] });
    expect(decoded.status).toBe(200);
    const reference = await tokenizer.decodeToPng({ codes: Int32Array.from(codes.flat()), shape, height, width });
    expect(Buffer.from(decoded.json.predictions[0].image.b64, 'base64').equals(reference)).toBe(true);
  });
});

describe('predict: generate', () => {
  it('samples from the prior reproducibly by seed, by class index or name, and decodes the sample', async () => {
    const url = `${base}/v1/models/vq_vae:predict`;
    const a = await post(url, { signature_name: 'generate', instances: [{ class: 1, seed: 5, temperature: 0.9, top_k: 8 }] });
    expect(a.status).toBe(200);
    const b = await post(url, { signature_name: 'generate', inputs: { class: ['shoe'], seed: 5, temperature: 0.9, top_k: 8 } });
    expect(b.json.outputs.codes[0]).toEqual(a.json.predictions[0].codes);
    const [sample] = samplePrior(prior, { classIndex: 1, seed: 5, temperature: 0.9, topK: 8 });
    expect(a.json.predictions[0].codes.flat()).toEqual(Array.from(sample!.codes));
    const png = await tokenizer.decodeToPng({ codes: sample!.codes, shape: [7, 7] });
    expect(Buffer.from(a.json.predictions[0].image.b64, 'base64').equals(png)).toBe(true);
    expect(a.json.predictions[0].seed).toBe(5);
    // Without a seed the server picks one and reports it.
    const c = await post(url, { signature_name: 'generate', instances: [{}, { class: null }] });
    expect(c.status).toBe(200);
    expect(c.json.predictions).toHaveLength(2);
    expect(Number.isInteger(c.json.predictions[0].seed)).toBe(true);
  });

  it('rejects unknown classes and bad sampling options with 400', async () => {
    const url = `${base}/v1/models/vq_vae:predict`;
    for (const instance of [{ class: 'hat' }, { class: 7 }, { class: 0.5 }, { temperature: -1 }, { top_k: 'x' }, { seed: [1] }]) {
      const r = await post(url, { signature_name: 'generate', instances: [instance] });
      expect(r.status, JSON.stringify(instance)).toBe(400);
      expect(typeof r.json.error).toBe('string');
    }
  });
});

describe('errors', () => {
  const url = (): string => `${base}/v1/models/vq_vae:predict`;

  it('answers malformed requests with 400 and {"error": …}', async () => {
    const cases: unknown[] = [
      '{"instances": [',
      '[]',
      '"text"',
      '',
      {},
      { instances: [b64], inputs: [b64] },
      { instances: b64 },
      { instances: [] },
      { instances: [{ image: b64, extra: 1 }] },
      { instances: [{}] },
      { instances: [{ image: 'not base64!' }] },
      { instances: [{ image: Buffer.from('not an image').toString('base64') }] },
      { instances: [{ image: 42 }] },
      { instances: [b64], signature_name: 3 },
      { instances: [b64], unexpected: true },
      { signature_name: 'decompress', instances: [Buffer.from('garbage container').toString('base64')] },
      { signature_name: 'decode', instances: [{ codes: [[1, 2], [3]] }] },
      { signature_name: 'decode', instances: [{ codes: [[99]] }] },
      { inputs: { image: [b64, b64], extra: [1] } },
      '{"__proto__": {"x": 1}, "instances": []}',
    ];
    for (const body of cases) {
      const r = await post(url(), body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(typeof r.json.error).toBe('string');
    }
  });

  it('rejects a container made by another tokenizer with 400', async () => {
    const other = createServer({ models: [{ name: 'other', tokenizer: otherTokenizer }] });
    const otherBase = await other.listen({ port: 0 });
    const compressed = (await post(`${otherBase}/v1/models/other:predict`, { instances: [b64] })).json.predictions[0].compressed;
    await other.close();
    const r = await post(url(), { signature_name: 'decompress', instances: [compressed] });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/tokenizer/);
  });

  it('answers 404 for unknown signatures, models and verbs', async () => {
    const sig = await post(url(), { signature_name: 'nope', instances: [b64] });
    expect(sig.status).toBe(404);
    expect(sig.json.error).toMatch(/signature name: "nope" not found/);
    expect((await post(`${base}/v1/models/nope:predict`, { instances: [b64] })).status).toBe(404);
    expect((await post(`${base}/v1/models/vq_vae/versions/9:predict`, { instances: [b64] })).status).toBe(404);
    expect((await post(`${base}/v1/models/vq_vae:explode`, { instances: [b64] })).status).toBe(404);
    expect((await post(`${base}/v1/models/vq_vae`, { instances: [b64] })).status).toBe(404);
    expect((await post(`${base}/v1/models/vq_vae:classify`, { examples: [] })).status).toBe(400);
  });

  it('answers 413 for bodies, images and batches over the limits', async () => {
    const small = await startServer({ maxBodyBytes: 4096, maxImagePixels: 28 * 28, maxBatch: 2 });
    try {
      const tooLongBody = await post(`${small.base}/v1/models/vq_vae:predict`, { instances: ['A'.repeat(8192)] });
      expect(tooLongBody.status).toBe(413);
      expect(typeof tooLongBody.json.error).toBe('string');
      const big = (await testPng(29, 28)).toString('base64');
      const tooManyPixels = await post(`${small.base}/v1/models/vq_vae:predict`, { instances: [big] });
      expect(tooManyPixels.status).toBe(413);
      expect(tooManyPixels.json.error).toMatch(/29x28 = 812 pixels/);
      const tooMany = await post(`${small.base}/v1/models/vq_vae:predict`, { instances: [b64, b64, b64] });
      expect(tooMany.status).toBe(413);
      // A container declaring a larger image than the limit is refused before decoding.
      const compressed = (await post(`${base}/v1/models/vq_vae:predict`, { instances: [(await testPng(32, 32)).toString('base64')] })).json.predictions[0].compressed;
      const bomb = await post(`${small.base}/v1/models/vq_vae:predict`, { signature_name: 'decompress', instances: [compressed] });
      expect(bomb.status).toBe(413);
    } finally {
      await small.server.close();
    }
  });

  it('answers 503 with Retry-After when every slot and queue place is taken', async () => {
    const busy = await startServer({ maxConcurrent: 1, maxQueue: 0 });
    let release!: () => void;
    const blocker = busy.server.admission.run(() => new Promise<void>((resolve) => (release = resolve)));
    try {
      const r = await post(`${busy.base}/v1/models/vq_vae:predict`, { instances: [b64] });
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('1');
      expect(r.json.error).toMatch(/overloaded/);
    } finally {
      release();
      await blocker;
    }
    expect((await post(`${busy.base}/v1/models/vq_vae:predict`, { instances: [b64] })).status).toBe(200);
    await busy.server.close();
  });

  it('answers 503 to a request that waits past its deadline for a slot', async () => {
    const slow = await startServer({ maxConcurrent: 1, maxQueue: 4, requestTimeoutMs: 100 });
    let release!: () => void;
    const blocker = slow.server.admission.run(() => new Promise<void>((resolve) => (release = resolve))).catch((err: unknown) => err);
    const r = await post(`${slow.base}/v1/models/vq_vae:predict`, { instances: [b64] });
    expect(r.status).toBe(503);
    expect(r.json.error).toMatch(/no slot became free within 100 ms/);
    release();
    await blocker;
    await slow.server.close();
  });

  it('survives garbage bodies of any content type and keeps answering', async () => {
    const bodies: [string, string | Buffer][] = [
      ['application/octet-stream', Buffer.from([0, 255, 1, 254, 0x7b, 0x22])],
      ['text/plain', 'hello'],
      ['application/x-www-form-urlencoded', `instances=${b64}`],
      ['application/json', '['.repeat(100_000)],
      ['application/json', '{"instances": [{"image": {"b64": {"b64": "x"}}}]}'],
    ];
    for (const [type, body] of bodies) {
      const response = await fetch(url(), { method: 'POST', headers: { 'content-type': type }, body });
      expect(response.status, type).toBeGreaterThanOrEqual(400);
      expect(response.status, type).toBeLessThan(500);
      expect(typeof ((await response.json()) as { error: unknown }).error).toBe('string');
    }
    // `curl -d` sends form-urlencoded: the body is still read as JSON, as TF Serving does.
    const curlStyle = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: JSON.stringify({ instances: [b64] }) });
    expect(curlStyle.status).toBe(200);
    expect((await get(`${base}/healthz`)).json.status).toBe('ok');
  });
});

describe('load and shutdown', () => {
  it('handles a bounded concurrent load with no failures other than 503, and still answers afterwards', async () => {
    const loaded = await startServer({ maxConcurrent: 2, maxQueue: 4 });
    const result = await autocannon({
      url: `${loaded.base}/v1/models/vq_vae:predict`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [{ image: b64 }] }),
      connections: 16,
      duration: 3,
    });
    const byStatus = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count]));
    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    expect(byStatus['200']).toBeGreaterThan(0);
    expect(Object.keys(byStatus).filter((code) => code !== '200' && code !== '503')).toEqual([]);
    // Requests autocannon abandoned at the end leave the queue (their clients are gone), so it drains.
    while (loaded.server.admission.running + loaded.server.admission.waiting > 0) await new Promise((r) => setTimeout(r, 10));
    expect((await get(`${loaded.base}/healthz`)).json).toMatchObject({ status: 'ok', running: 0, waiting: 0 });
    const after = await post(`${loaded.base}/v1/models/vq_vae:predict`, { instances: [b64] });
    expect(after.status).toBe(200);
    await loaded.server.close();
  });

  it('finishes in-flight requests on close, then stops listening', async () => {
    const closing = await startServer({ maxConcurrent: 1 });
    let release!: () => void;
    const blocker = closing.server.admission.run(() => new Promise<void>((resolve) => (release = resolve)));
    const inFlight = post(`${closing.base}/v1/models/vq_vae:predict`, { instances: [b64] });
    // Wait until the request is queued behind the blocker.
    while (closing.server.admission.waiting === 0) await new Promise((r) => setTimeout(r, 5));
    const closed = closing.server.close();
    release();
    await blocker;
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(typeof response.json.predictions[0].compressed).toBe('string');
    await closed;
    await expect(fetch(`${closing.base}/healthz`)).rejects.toThrow();
  });
});
