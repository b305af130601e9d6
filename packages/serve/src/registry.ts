/**
 * The models a server answers for. Models are registered once, when the
 * server is created; a request's model name is only ever a key into this
 * map, never a path.
 */
import { InvalidArgumentError, type EntropyModelSpec } from '@vqkit/core';
import { AudioTokenizer } from '@vqkit/audio';
import { imageCodeSpace, ImageTokenizer } from '@vqkit/image';
import type { PriorModel } from '@vqkit/prior';
import { audioGenerateSignature, audioTokenizerSignatures, checkPriorFitsAudioTokenizer } from './audio-signatures.js';
import { checkPriorFitsTokenizer, imageGenerateSignature, imageTokenizerSignatures } from './image-signatures.js';
import type { Signature } from './signature.js';

/** A model to serve. */
export interface ServedModelOptions {
  /** Name in the URL (`/v1/models/{name}`): letters, digits, `.`, `_`, `-`; at most 128 characters. */
  name: string;
  /** The version reported and accepted in `/versions/{v}`. Default 1. */
  version?: number;
  /** The image or audio tokenizer behind the compress / decompress / encode / decode signatures. */
  tokenizer: ImageTokenizer | AudioTokenizer;
  /** A prior over the tokenizer's codes: adds the `generate` signature. */
  prior?: PriorModel;
  /** Image tokenizers: the learned entropy model (`loadEntropyModel(dir)` from @vqkit/image), if it has one. */
  learnedEntropyModel?: EntropyModelSpec;
  /** Dispose the tokenizer and prior when the server closes (they were loaded for it). Default false. */
  owned?: boolean;
}

/** A registered model. */
export interface ServedModel {
  readonly name: string;
  readonly version: number;
  readonly modality: 'image' | 'audio';
  readonly signatures: ReadonlyMap<string, Signature>;
  /** Frees what the server owns. */
  dispose(): void;
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Throws InvalidArgumentError unless `name` is a valid model name. */
export function checkModelName(name: string): void {
  if (!MODEL_NAME.test(name)) {
    throw new InvalidArgumentError(`invalid model name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-' (starting with a letter or digit, at most 128 characters)`);
  }
}

export interface RegistryLimits {
  maxImagePixels: number;
  maxAudioSeconds: number;
}

const HEX_ID = /^[0-9a-f]{16}$/;

/** A prior that records the id of its tokenizer must be paired with exactly that tokenizer. */
function checkPriorTokenizerId(prior: PriorModel, tokenizerId: string, modelName: string): void {
  const recorded = prior.metadata.tokenizer;
  if (recorded !== undefined && HEX_ID.test(recorded) && recorded !== tokenizerId) {
    throw new InvalidArgumentError(`model '${modelName}': the prior was trained on codes of tokenizer ${recorded}, but the tokenizer given is ${tokenizerId}`);
  }
}

function signaturesOf(options: ServedModelOptions, limits: RegistryLimits): Map<string, Signature> {
  const { tokenizer, prior, name } = options;
  if (tokenizer instanceof AudioTokenizer) {
    const audioOptions = { maxAudioSeconds: limits.maxAudioSeconds };
    const signatures = new Map(Object.entries(audioTokenizerSignatures(tokenizer, audioOptions)));
    if (prior !== undefined) {
      checkPriorFitsAudioTokenizer(prior, tokenizer, name);
      checkPriorTokenizerId(prior, tokenizer.id, name);
      signatures.set('generate', audioGenerateSignature(prior, tokenizer, audioOptions));
    }
    return signatures;
  }
  if (!(tokenizer instanceof ImageTokenizer)) throw new InvalidArgumentError(`model '${name}': tokenizer must be an ImageTokenizer or an AudioTokenizer`);
  const signatures = new Map(
    Object.entries(imageTokenizerSignatures(tokenizer, { maxImagePixels: limits.maxImagePixels, learnedEntropyModel: options.learnedEntropyModel })),
  );
  if (prior !== undefined) {
    checkPriorFitsTokenizer(prior, tokenizer, name);
    checkPriorTokenizerId(prior, imageCodeSpace(tokenizer).tokenizerId, name);
    signatures.set('generate', imageGenerateSignature(prior, tokenizer));
  }
  return signatures;
}

/** Builds the registry, validating names, versions and tokenizer/prior pairs. */
export function buildRegistry(models: readonly ServedModelOptions[], limits: RegistryLimits): Map<string, ServedModel> {
  if (models.length === 0) throw new InvalidArgumentError('no models to serve: give at least one');
  const registry = new Map<string, ServedModel>();
  for (const options of models) {
    checkModelName(options.name);
    if (registry.has(options.name)) throw new InvalidArgumentError(`model name '${options.name}' is given twice`);
    const version = options.version ?? 1;
    if (!Number.isSafeInteger(version) || version < 1) throw new InvalidArgumentError(`model '${options.name}': version must be a positive integer, got ${version}`);
    const signatures = signaturesOf(options, limits);
    registry.set(options.name, {
      name: options.name,
      version,
      modality: options.tokenizer instanceof AudioTokenizer ? 'audio' : 'image',
      signatures,
      dispose: () => {
        if (options.owned !== true) return;
        options.tokenizer.dispose();
        options.prior?.dispose();
      },
    });
  }
  return registry;
}
