/**
 * Signatures of an image tokenizer (and of a prior over its codes):
 *
 * | signature                      | inputs                                   | outputs                                   |
 * |--------------------------------|------------------------------------------|-------------------------------------------|
 * | `serving_default` = `compress` | `image` (encoded image, base64)          | `compressed` (base64 `.vqt`), `codes`, `shape`, `bpp` |
 * | `decompress`                   | `compressed` (base64 `.vqt`)             | `image` ({"b64": PNG}), `height`, `width` |
 * | `encode`                       | `image`                                  | `codes`, `shape`, `height`, `width`       |
 * | `decode`                       | `codes` (nested list), `height`?, `width`? | `image` ({"b64": PNG}), `height`, `width` |
 * | `generate` (with a prior)      | `class`?, `temperature`?, `top_k`?, `top_p`?, `seed`? | `image`, `codes`, `shape`, `seed` |
 *
 * `compressed` is a plain base64 string (what existing TF Serving clients of
 * a compression model read); images are returned in TF Serving's binary
 * form `{"b64": …}`. Binary inputs are accepted in both forms.
 */
import { randomInt } from 'node:crypto';
import sharp from 'sharp';
import { InvalidArgumentError, type EntropyModelSpec } from '@vqkit/core';
import { compressImage, decompressImage, encodeImage, type ImageF32, type ImageTokenizer } from '@vqkit/image';
import { samplePrior, type PriorModel } from '@vqkit/prior';
import { BadRequestError, PayloadTooLargeError } from './errors.js';
import { DEFAULT_SIGNATURE, type InstanceInputs, type InstanceOutputs, type RunContext, type Signature, type TensorSpec } from './signature.js';
import { decodeBinary, encodeBinary, fromNestedIntList, optionalInteger, optionalNumber, toNestedList } from './tensors.js';

export interface ImageSignatureOptions {
  /** Largest image accepted or produced, in pixels (checked from the header, before decoding). */
  maxImagePixels: number;
  /** The tokenizer's learned entropy model (`loadEntropyModel(dir)`), used by compress and needed to decompress files coded with it. */
  learnedEntropyModel?: EntropyModelSpec;
}

const STRING_BATCH: TensorSpec = { dtype: 'DT_STRING', shape: [-1] };
const INT_BATCH: TensorSpec = { dtype: 'DT_INT32', shape: [-1] };
const FLOAT_BATCH: TensorSpec = { dtype: 'DT_FLOAT', shape: [-1] };

/**
 * Opens an encoded image for decoding after checking its size from the
 * header alone: a small file can declare a huge image ("decompression
 * bomb"), so pixels are never decoded past `maxPixels` (sharp enforces the
 * same limit again while decoding).
 */
async function openImage(bytes: Buffer, maxPixels: number, what: string): Promise<sharp.Sharp> {
  let meta: sharp.Metadata;
  try {
    // Header only: no limit here, so an oversized image gets its 413 with its size.
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new BadRequestError(`${what} is not a decodable image (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})`, { cause: err });
  }
  const { width, height } = meta;
  if (!width || !height) throw new BadRequestError(`${what}: the image header has no dimensions`);
  if (width * height > maxPixels) throw new PayloadTooLargeError(`${what} is ${width}x${height} = ${width * height} pixels; at most ${maxPixels} are accepted`);
  return sharp(bytes, { limitInputPixels: maxPixels, failOn: 'warning' });
}

async function pngOutput(image: ImageF32): Promise<InstanceOutputs> {
  return { image: encodeBinary(await encodeImage(image, 'png')), height: image.height, width: image.width };
}

/** Runs `fn` over the instances one after another (each is a whole image; the model batches nothing across sizes). */
async function each(instances: readonly InstanceInputs[], context: RunContext, fn: (instance: InstanceInputs, where: string) => Promise<InstanceOutputs>): Promise<InstanceOutputs[]> {
  const out: InstanceOutputs[] = [];
  for (let i = 0; i < instances.length; i++) {
    if (context.signal.aborted) throw context.signal.reason;
    out.push(await fn(instances[i]!, `instance ${i}`));
  }
  return out;
}

/** The compress / decompress / encode / decode signatures of an image tokenizer. */
export function imageTokenizerSignatures(tokenizer: ImageTokenizer, options: ImageSignatureOptions): Record<string, Signature> {
  const { maxImagePixels: maxPixels, learnedEntropyModel } = options;
  const f = tokenizer.downsampling;
  const levels = tokenizer.codebookSizes.length;
  const grid: TensorSpec = { dtype: 'DT_INT32', shape: levels > 1 ? [-1, -1, -1, levels] : [-1, -1, -1] };
  const gridShape: TensorSpec = { dtype: 'DT_INT32', shape: [-1, levels > 1 ? 3 : 2] };
  const maxCodes = Math.ceil(maxPixels / (f * f)) * levels;

  const compress: Signature = {
    inputs: { image: STRING_BATCH },
    outputs: { compressed: STRING_BATCH, codes: grid, shape: gridShape, bpp: FLOAT_BATCH },
    run: (instances, context) =>
      each(instances, context, async (instance, where) => {
        const pipeline = await openImage(decodeBinary(instance.image, `${where}: image`), maxPixels, `${where}: image`);
        const result = await compressImage(pipeline, tokenizer, { learnedModel: learnedEntropyModel });
        const { codes, shape } = result.codes;
        return {
          compressed: Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.byteLength).toString('base64'),
          codes: toNestedList(codes, shape),
          shape: [...shape],
          bpp: result.stats.bitsPerPixel,
        };
      }),
  };

  const decompress: Signature = {
    inputs: { compressed: STRING_BATCH },
    outputs: { image: STRING_BATCH, height: INT_BATCH, width: INT_BATCH },
    run: (instances, context) =>
      each(instances, context, async (instance, where) => {
        const bytes = decodeBinary(instance.compressed, `${where}: compressed`);
        const { image } = await decompressImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), tokenizer, {
          maxPixels,
          learnedModel: learnedEntropyModel,
        });
        return pngOutput(image);
      }),
  };

  const encode: Signature = {
    inputs: { image: STRING_BATCH },
    outputs: { codes: grid, shape: gridShape, height: INT_BATCH, width: INT_BATCH },
    run: (instances, context) =>
      each(instances, context, async (instance, where) => {
        const pipeline = await openImage(decodeBinary(instance.image, `${where}: image`), maxPixels, `${where}: image`);
        const encoded = await tokenizer.encode(pipeline);
        return { codes: toNestedList(encoded.codes, encoded.shape), shape: [...encoded.shape], height: encoded.height, width: encoded.width };
      }),
  };

  const decode: Signature = {
    inputs: { codes: grid, height: { ...INT_BATCH, optional: true }, width: { ...INT_BATCH, optional: true } },
    outputs: { image: STRING_BATCH, height: INT_BATCH, width: INT_BATCH },
    run: (instances, context) =>
      each(instances, context, async (instance, where) => {
        const { data, shape } = fromNestedIntList(instance.codes, `${where}: codes`, maxCodes);
        const height = optionalInteger(instance.height, `${where}: height`);
        const width = optionalInteger(instance.width, `${where}: width`);
        return pngOutput(tokenizer.decode({ codes: data, shape, height, width }));
      }),
  };

  return { [DEFAULT_SIGNATURE]: compress, compress, decompress, encode, decode };
}

/** Checks that a prior samples codes this tokenizer decodes; throws InvalidArgumentError naming the mismatch. */
export function checkPriorFitsTokenizer(prior: PriorModel, tokenizer: ImageTokenizer, modelName: string): void {
  const { modality, grid } = prior.metadata;
  const vocab = prior.config.vocabulary;
  const sizes = tokenizer.codebookSizes;
  if (modality !== 'image' || grid === undefined) throw new InvalidArgumentError(`model '${modelName}': the prior is not an image prior with a code grid (modality ${modality ?? 'generic'})`);
  if (vocab.levels !== sizes.length || sizes.some((k) => k !== vocab.codebookSize)) {
    throw new InvalidArgumentError(
      `model '${modelName}': the prior models ${vocab.levels} level(s) of ${vocab.codebookSize} codes but the tokenizer has codebooks [${sizes.join(', ')}]`,
    );
  }
}

/** A class given by index or by name (absent or null: unconditional). */
function classOf(value: unknown, classNames: readonly string[], what: string): number | undefined {
  if (typeof value !== 'string') return optionalInteger(value, what);
  const index = classNames.indexOf(value);
  if (index < 0) throw new BadRequestError(`${what}: unknown class ${JSON.stringify(value)}; the prior knows ${classNames.length > 0 ? classNames.join(', ') : 'no class names'}`);
  return index;
}

/** The `generate` signature: sample a code grid from the prior, decode it with the tokenizer. */
export function imageGenerateSignature(prior: PriorModel, tokenizer: ImageTokenizer): Signature {
  const grid = prior.metadata.grid!;
  const levels = prior.config.vocabulary.levels;
  const shape = levels > 1 ? [grid.height, grid.width, levels] : [grid.height, grid.width];
  const classNames = prior.metadata.classNames ?? [];
  return {
    inputs: {
      class: { ...INT_BATCH, optional: true },
      temperature: { ...FLOAT_BATCH, optional: true },
      top_k: { ...INT_BATCH, optional: true },
      top_p: { ...FLOAT_BATCH, optional: true },
      seed: { ...INT_BATCH, optional: true },
    },
    outputs: {
      image: STRING_BATCH,
      codes: { dtype: 'DT_INT32', shape: [-1, ...shape] },
      shape: { dtype: 'DT_INT32', shape: [-1, shape.length] },
      seed: INT_BATCH,
    },
    run: (instances, context) =>
      each(instances, context, async (instance, where) => {
        const classIndex = classOf(instance.class, classNames, `${where}: class`);
        const seed = optionalInteger(instance.seed, `${where}: seed`) ?? randomInt(2 ** 31);
        const [sample] = samplePrior(prior, {
          classIndex,
          temperature: optionalNumber(instance.temperature, `${where}: temperature`),
          topK: optionalInteger(instance.top_k, `${where}: top_k`),
          topP: optionalNumber(instance.top_p, `${where}: top_p`),
          seed,
          signal: context.signal,
        });
        const image = tokenizer.decode({ codes: sample!.codes, shape });
        return { image: encodeBinary(await encodeImage(image, 'png')), codes: toNestedList(sample!.codes, shape), shape: [...shape], seed };
      }),
  };
}
