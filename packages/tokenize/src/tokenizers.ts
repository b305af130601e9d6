/**
 * A uniform face over the modality tokenizers for dataset tokenization: load
 * by directory, tokenize a batch of items, and report per item — one bad file
 * becomes an error entry, never a failed batch.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileFormatError, InvalidArgumentError } from '@vqkit/core';
import { AUDIO_TOKENIZER_FORMAT, AudioTokenizer } from '@vqkit/audio';
import { IMAGE_TOKENIZER_FORMAT, ImageTokenizer, readIdxImages, type IdxImages, type RawImage } from '@vqkit/image';
import type { DatasetItem } from './items.js';
import type { ItemResult } from './shards.js';

export type DatasetModality = 'image' | 'audio';

export interface DatasetTokenizer {
  /** Directory the tokenizer was loaded from. */
  readonly dir: string;
  /** Identity of the weights and config (what containers and manifests record). */
  readonly id: string;
  readonly modality: DatasetModality;
  /** Codebook size per quantizer level. */
  readonly codebookSizes: readonly number[];
  /** Tokenizes items in order; a failing item yields `{ error }`. */
  tokenize(items: readonly DatasetItem[]): Promise<ItemResult[]>;
  dispose(): void;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Image tokenizer adapter; IDX stacks are read once and kept while the adapter lives. */
class ImageDatasetTokenizer implements DatasetTokenizer {
  readonly modality = 'image';
  readonly id: string;
  private readonly idxCache = new Map<string, Promise<IdxImages>>();

  constructor(
    readonly dir: string,
    private readonly tokenizer: ImageTokenizer,
  ) {
    this.id = tokenizer.id;
  }

  get codebookSizes(): readonly number[] {
    return this.tokenizer.codebookSizes;
  }

  private idx(file: string): Promise<IdxImages> {
    let images = this.idxCache.get(file);
    if (images === undefined) {
      images = readIdxImages(file);
      this.idxCache.set(file, images);
    }
    return images;
  }

  private async input(item: DatasetItem): Promise<string | RawImage> {
    if (item.index === undefined) return item.source;
    const stack = await this.idx(item.source);
    if (item.index >= stack.count) throw new InvalidArgumentError(`${item.source} has ${stack.count} images, no #${item.index}`);
    const size = stack.height * stack.width;
    return { data: stack.data.subarray(item.index * size, (item.index + 1) * size), width: stack.width, height: stack.height, channels: 1 };
  }

  async tokenize(items: readonly DatasetItem[]): Promise<ItemResult[]> {
    const inputs: (string | RawImage | undefined)[] = [];
    const results: ItemResult[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      try {
        inputs.push(await this.input(items[i]!));
      } catch (err) {
        inputs.push(undefined);
        results[i] = { error: message(err) };
      }
    }
    const ready = inputs.flatMap((input, i) => (input === undefined ? [] : [i]));
    try {
      const encoded = await this.tokenizer.encode(ready.map((i) => inputs[i]!));
      ready.forEach((i, j) => {
        results[i] = { codes: encoded[j]!.codes, shape: encoded[j]!.shape };
      });
    } catch {
      // Some input of the batch is unusable (corrupt file, wrong size…): find which, one at a time.
      for (const i of ready) {
        try {
          const encoded = await this.tokenizer.encode(inputs[i]!);
          results[i] = { codes: encoded.codes, shape: encoded.shape };
        } catch (err) {
          results[i] = { error: message(err) };
        }
      }
    }
    return results;
  }

  dispose(): void {
    this.tokenizer.dispose();
  }
}

/**
 * Audio tokenizer adapter: one WAV file per item, every quantizer level
 * (codes `[frames, levels]`); long files are encoded in chunks by the tokenizer.
 */
class AudioDatasetTokenizer implements DatasetTokenizer {
  readonly modality = 'audio';
  readonly id: string;

  constructor(
    readonly dir: string,
    private readonly tokenizer: AudioTokenizer,
  ) {
    this.id = tokenizer.id;
  }

  get codebookSizes(): readonly number[] {
    return this.tokenizer.codebookSizes;
  }

  async tokenize(items: readonly DatasetItem[]): Promise<ItemResult[]> {
    const results: ItemResult[] = [];
    for (const item of items) {
      try {
        if (item.index !== undefined) throw new InvalidArgumentError('IDX items are images; an audio tokenizer needs WAV files');
        const encoded = await this.tokenizer.encode(item.source);
        results.push({ codes: encoded.codes, shape: [encoded.frames, encoded.levels] });
      } catch (err) {
        results.push({ error: message(err) });
      }
    }
    return results;
  }

  dispose(): void {
    this.tokenizer.dispose();
  }
}

/** The `format` field of a tokenizer directory's config.json. */
function tokenizerFormat(dir: string): string {
  const file = path.join(dir, 'config.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(code === 'ENOENT' ? 'missing; is this a vqkit tokenizer directory?' : `unreadable (${message(err)})`, file);
  }
  const format = (parsed as { format?: unknown }).format;
  if (typeof format !== 'string') throw new FileFormatError('has no "format" field; is this a vqkit tokenizer directory?', file);
  return format;
}

/** Loads the tokenizer in `dir`, whichever modality its config says it is. */
export async function loadDatasetTokenizer(dir: string): Promise<DatasetTokenizer> {
  const format = tokenizerFormat(dir);
  if (format === IMAGE_TOKENIZER_FORMAT) return new ImageDatasetTokenizer(dir, await ImageTokenizer.load(dir));
  if (format === AUDIO_TOKENIZER_FORMAT) return new AudioDatasetTokenizer(dir, await AudioTokenizer.load(dir));
  throw new FileFormatError(
    `tokenizer format ${JSON.stringify(format)} cannot tokenize datasets (supported: ${IMAGE_TOKENIZER_FORMAT}, ${AUDIO_TOKENIZER_FORMAT})`,
    path.join(dir, 'config.json'),
  );
}
