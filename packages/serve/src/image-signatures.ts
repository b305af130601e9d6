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
import sharp from 'sharp';
import { InvalidArgumentError, type EntropyModelSpec } from '@vqkit/core';
import { compressImage, decompressImage, encodeImage, type ImageF32, type ImageTokenizer } from '@vqkit/image';
import { samplePrior, type PriorModel } from '@vqkit/prior';
import { BadRequestError, PayloadTooLargeError } from './errors.js';
import { DEFAULT_SIGNATURE, type InstanceOutputs, type Signature, type TensorSpec } from './signature.js';
import { eachInstance, FLOAT_BATCH, INT_BATCH, SAMPLING_INPUTS, samplingOptionsOf, STRING_BATCH, toBase64 } from './signature-util.js';
import { decodeBinary, encodeBinary, fromNestedIntList, optionalInteger, toNestedList } from './tensors.js';

export interface ImageSignatureOptions {
  /** Largest image accepted or produced, in pixels (checked from the header, before decoding). */
  maxImagePixels: number;
  /** The tokenizer's learned entropy model (`loadEntropyModel(dir)`), used by compress and needed to decompress files coded with it. */
  learnedEntropyModel?: EntropyModelSpec;
}

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
      eachInstance(instances, context, async (instance, where) => {
        const pipeline = await openImage(decodeBinary(instance.image, `${where}: image`), maxPixels, `${where}: image`);
        const result = await compressImage(pipeline, tokenizer, { learnedModel: learnedEntropyModel });
        const { codes, shape } = result.codes;
        return {
          compressed: toBase64(result.bytes),
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
      eachInstance(instances, context, async (instance, where) => {
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
      eachInstance(instances, context, async (instance, where) => {
        const pipeline = await openImage(decodeBinary(instance.image, `${where}: image`), maxPixels, `${where}: image`);
        const encoded = await tokenizer.encode(pipeline);
        return { codes: toNestedList(encoded.codes, encoded.shape), shape: [...encoded.shape], height: encoded.height, width: encoded.width };
      }),
  };

  const decode: Signature = {
    inputs: { codes: grid, height: { ...INT_BATCH, optional: true }, width: { ...INT_BATCH, optional: true } },
    outputs: { image: STRING_BATCH, height: INT_BATCH, width: INT_BATCH },
    run: (instances, context) =>
      eachInstance(instances, context, async (instance, where) => {
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

/** The `generate` signature: sample a code grid from the prior, decode it with the tokenizer. */
export function imageGenerateSignature(prior: PriorModel, tokenizer: ImageTokenizer): Signature {
  const grid = prior.metadata.grid!;
  const levels = prior.config.vocabulary.levels;
  const shape = levels > 1 ? [grid.height, grid.width, levels] : [grid.height, grid.width];
  return {
    inputs: SAMPLING_INPUTS,
    outputs: {
      image: STRING_BATCH,
      codes: { dtype: 'DT_INT32', shape: [-1, ...shape] },
      shape: { dtype: 'DT_INT32', shape: [-1, shape.length] },
      seed: INT_BATCH,
    },
    run: (instances, context) =>
      eachInstance(instances, context, async (instance, where) => {
        const options = samplingOptionsOf(instance, prior, where);
        const [sample] = samplePrior(prior, { ...options, signal: context.signal });
        const image = tokenizer.decode({ codes: sample!.codes, shape });
        return { image: encodeBinary(await encodeImage(image, 'png')), codes: toNestedList(sample!.codes, shape), shape: [...shape], seed: options.seed };
      }),
  };
}
