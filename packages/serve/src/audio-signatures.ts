/**
 * Signatures of an audio tokenizer (and of a prior over its codes):
 *
 * | signature                      | inputs                                      | outputs |
 * |--------------------------------|---------------------------------------------|---------|
 * | `serving_default` = `compress` | `audio` (WAV, base64), `levels`?, `bitrate`? | `compressed` (base64 `.vqt`), `codes` [frames, levels], `shape`, `bits_per_second`, `sample_rate` |
 * | `decompress`                   | `compressed`                                | `audio` ({"b64": WAV}), `sample_rate`, `samples` |
 * | `encode`                       | `audio`, `levels`?, `bitrate`?              | `codes`, `shape`, `samples`, `sample_rate` |
 * | `decode`                       | `codes` [frames, levels], `samples`?        | `audio`, `sample_rate`, `samples` |
 * | `generate` (with a prior)      | `class`?, `temperature`?, `top_k`?, `top_p`?, `seed`?, `frames`? | `audio`, `codes`, `shape`, `seed` |
 *
 * Inputs are WAV files of any rate and channel count (downmixed and
 * resampled to the model's rate); outputs are 16-bit mono WAV at the
 * model's rate.
 */
import { audioCodeSpace, decodeWav, encodeWav, packAudioCodes, toMono, unpackAudioCodes, type AudioTokenizer } from '@vqkit/audio';
import { InvalidArgumentError, readContainerHeader } from '@vqkit/core';
import { samplePrior, type PriorModel } from '@vqkit/prior';
import { PayloadTooLargeError } from './errors.js';
import { DEFAULT_SIGNATURE, type InstanceOutputs, type Signature, type TensorSpec } from './signature.js';
import { eachInstance, FLOAT_BATCH, INT_BATCH, SAMPLING_INPUTS, samplingOptionsOf, STRING_BATCH, toBase64 } from './signature-util.js';
import { decodeBinary, encodeBinary, fromNestedIntList, optionalInteger, optionalNumber, toNestedList } from './tensors.js';

export interface AudioSignatureOptions {
  /** Longest audio accepted or produced, in seconds. */
  maxAudioSeconds: number;
}

/** Seconds of audio `generate` makes when a request gives no `frames`. */
const DEFAULT_GENERATE_SECONDS = 1;

/** The compress / decompress / encode / decode signatures of an audio tokenizer. */
export function audioTokenizerSignatures(tokenizer: AudioTokenizer, options: AudioSignatureOptions): Record<string, Signature> {
  // The id hashes the weights: computed once, not per request.
  const space = audioCodeSpace(tokenizer);
  const { sampleRate, hopLength } = space;
  const maxLevels = space.codebookSizes.length;
  const maxSamples = Math.floor(options.maxAudioSeconds * sampleRate);
  const maxFrames = Math.ceil(maxSamples / hopLength);
  const codesSpec: TensorSpec = { dtype: 'DT_INT32', shape: [-1, -1, -1] };
  const shapeSpec: TensorSpec = { dtype: 'DT_INT32', shape: [-1, 2] };
  const levelInputs = { levels: { ...INT_BATCH, optional: true }, bitrate: { ...FLOAT_BATCH, optional: true } };

  const wavOutput = (samples: Float32Array): InstanceOutputs => ({
    audio: encodeBinary(encodeWav(clampUnit(samples), { sampleRate })),
    sample_rate: sampleRate,
    samples: samples.length,
  });

  /** Reads a WAV input, checking its duration before downmixing and resampling. */
  const readInput = (value: unknown, where: string): { samples: Float32Array; sampleRate: number } => {
    const wav = decodeWav(decodeBinary(value, `${where}: audio`), `${where}: audio`);
    const seconds = (wav.channels[0]?.length ?? 0) / wav.sampleRate;
    if (seconds > options.maxAudioSeconds) throw new PayloadTooLargeError(`${where}: audio is ${seconds.toFixed(1)} s long; at most ${options.maxAudioSeconds} s are accepted`);
    return { samples: toMono(wav.channels), sampleRate: wav.sampleRate };
  };

  const encodeInput = async (instance: Record<string, unknown>, where: string) =>
    tokenizer.encode(readInput(instance.audio, where), {
      levels: optionalInteger(instance.levels, `${where}: levels`),
      bitrate: optionalNumber(instance.bitrate, `${where}: bitrate`),
    });

  const compress: Signature = {
    inputs: { audio: STRING_BATCH, ...levelInputs },
    outputs: { compressed: STRING_BATCH, codes: codesSpec, shape: shapeSpec, bits_per_second: FLOAT_BATCH, sample_rate: INT_BATCH },
    run: (instances, context) =>
      eachInstance(instances, context, async (instance, where) => {
        const encoded = await encodeInput(instance, where);
        const packed = packAudioCodes(encoded, space);
        const shape = [encoded.frames, encoded.levels];
        return { compressed: toBase64(packed.bytes), codes: toNestedList(encoded.codes, shape), shape, bits_per_second: packed.bitsPerSecond, sample_rate: sampleRate };
      }),
  };

  const decompress: Signature = {
    inputs: { compressed: STRING_BATCH },
    outputs: { audio: STRING_BATCH, sample_rate: INT_BATCH, samples: INT_BATCH },
    run: (instances, context) =>
      eachInstance(instances, context, async (instance, where) => {
        const buffer = decodeBinary(instance.compressed, `${where}: compressed`);
        const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
        // Sizes come from the header and are checked before any code is decoded.
        readContainerHeader(bytes, { limits: { maxSegments: 1, maxLevels, maxSymbolsPerSegment: maxFrames * maxLevels, maxTotalSymbols: maxFrames * maxLevels, maxMetadataBytes: 4 } });
        const { codes } = unpackAudioCodes(bytes, space);
        return wavOutput(await tokenizer.decodeAsync(codes));
      }),
  };

  const encode: Signature = {
    inputs: { audio: STRING_BATCH, ...levelInputs },
    outputs: { codes: codesSpec, shape: shapeSpec, samples: INT_BATCH, sample_rate: INT_BATCH },
    run: (instances, context) =>
      eachInstance(instances, context, async (instance, where) => {
        const encoded = await encodeInput(instance, where);
        const shape = [encoded.frames, encoded.levels];
        return { codes: toNestedList(encoded.codes, shape), shape, samples: encoded.length, sample_rate: sampleRate };
      }),
  };

  const decode: Signature = {
    inputs: { codes: codesSpec, samples: { ...INT_BATCH, optional: true } },
    outputs: { audio: STRING_BATCH, sample_rate: INT_BATCH, samples: INT_BATCH },
    run: (instances, context) =>
      eachInstance(instances, context, async (instance, where) => {
        const { data, shape } = fromNestedIntList(instance.codes, `${where}: codes`, maxFrames * maxLevels);
        if (shape.length !== 2) throw new InvalidArgumentError(`${where}: codes must be a [frames, levels] list, got ${shape.length} dimension(s)`);
        const length = optionalInteger(instance.samples, `${where}: samples`);
        return wavOutput(await tokenizer.decodeAsync({ codes: data, frames: shape[0]!, levels: shape[1]!, length }));
      }),
  };

  return { [DEFAULT_SIGNATURE]: compress, compress, decompress, encode, decode };
}

/** PCM output saturates instead of wrapping; the decoder can overshoot ±1 slightly. */
function clampUnit(samples: Float32Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i]!;
    out[i] = v > 1 ? 1 : v < -1 ? -1 : Number.isNaN(v) ? 0 : v;
  }
  return out;
}

/** Checks that a prior samples codes this audio tokenizer decodes. */
export function checkPriorFitsAudioTokenizer(prior: PriorModel, tokenizer: AudioTokenizer, modelName: string): void {
  const vocab = prior.config.vocabulary;
  const sizes = tokenizer.codebookSizes;
  if (prior.metadata.modality !== 'audio') throw new InvalidArgumentError(`model '${modelName}': the prior is not an audio prior (modality ${prior.metadata.modality ?? 'generic'})`);
  if (vocab.levels > sizes.length || sizes.slice(0, vocab.levels).some((k) => k !== vocab.codebookSize)) {
    throw new InvalidArgumentError(`model '${modelName}': the prior models ${vocab.levels} level(s) of ${vocab.codebookSize} codes but the tokenizer has codebooks [${sizes.join(', ')}]`);
  }
}

/** The `generate` signature of an audio prior: sample `frames` code frames, decode them to a WAV. */
export function audioGenerateSignature(prior: PriorModel, tokenizer: AudioTokenizer, options: AudioSignatureOptions): Signature {
  const levels = prior.config.vocabulary.levels;
  const maxFrames = Math.floor((options.maxAudioSeconds * tokenizer.sampleRate) / tokenizer.hopLength);
  const defaultFrames = Math.max(1, Math.round(DEFAULT_GENERATE_SECONDS * tokenizer.frameRate));
  return {
    inputs: { ...SAMPLING_INPUTS, frames: { ...INT_BATCH, optional: true } },
    outputs: { audio: STRING_BATCH, codes: { dtype: 'DT_INT32', shape: [-1, -1, levels] }, shape: { dtype: 'DT_INT32', shape: [-1, 2] }, seed: INT_BATCH },
    run: (instances, context) =>
      eachInstance(instances, context, async (instance, where) => {
        const sampling = samplingOptionsOf(instance, prior, where);
        const frames = optionalInteger(instance.frames, `${where}: frames`) ?? defaultFrames;
        if (frames > maxFrames) throw new PayloadTooLargeError(`${where}: ${frames} frames is longer than ${options.maxAudioSeconds} s; at most ${maxFrames} frames`);
        const [sample] = samplePrior(prior, { ...sampling, frames, signal: context.signal });
        const shape = [sample!.frames!, levels];
        const samples = await tokenizer.decodeAsync({ codes: sample!.codes, frames: shape[0]!, levels });
        return {
          audio: encodeBinary(encodeWav(clampUnit(samples), { sampleRate: tokenizer.sampleRate })),
          codes: toNestedList(sample!.codes, shape),
          shape,
          seed: sampling.seed,
        };
      }),
  };
}
