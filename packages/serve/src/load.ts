/**
 * Loading served models from directories, for `vqkit serve --model
 * [name=]DIR --prior name=DIR`. What a directory holds is read from its
 * `config.json`; the paths come from the operator at start-up, never from
 * a request.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileFormatError, InvalidArgumentError } from '@vqkit/core';
import { AUDIO_TOKENIZER_FORMAT, AudioTokenizer } from '@vqkit/audio';
import { IMAGE_TOKENIZER_FORMAT, ImageTokenizer, loadEntropyModel } from '@vqkit/image';
import { PriorModel, priorTokenizerDir } from '@vqkit/prior';
import { checkModelName, type ServedModelOptions } from './registry.js';

/** A model given by directories. */
export interface ModelDirectory {
  /** Name in the URL. Default: the directory's base name. */
  name?: string;
  /**
   * A tokenizer directory (`config.json` + `model.safetensors`, optionally
   * `entropy.bin`), or a prior directory that records its tokenizer (`vqkit
   * train prior` writes one): then both are served.
   */
  dir: string;
  /** A prior directory trained on this tokenizer's codes: adds the `generate` signature. */
  priorDir?: string;
  /** Default 1. */
  version?: number;
}

/** What a model directory's `config.json` says it is. */
export type ModelDirectoryKind = 'image-tokenizer' | 'audio-tokenizer' | 'prior' | 'unknown';

export function modelDirectoryKind(dir: string): ModelDirectoryKind {
  const file = path.join(dir, 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(code === 'ENOENT' ? 'no config.json: is this a model directory?' : `unreadable config (${code ?? String(err)})`, file, { cause: err });
  }
  const config = json as { format?: unknown; vqkit?: { format?: unknown } } | null;
  if (config?.format === IMAGE_TOKENIZER_FORMAT) return 'image-tokenizer';
  if (config?.format === AUDIO_TOKENIZER_FORMAT) return 'audio-tokenizer';
  if (config?.vqkit?.format === 'vqkit-prior') return 'prior';
  return 'unknown';
}

/**
 * Parses `[name=]DIR` (the `--model` flag). A name must be a valid model
 * name; without one, the directory's base name is used.
 */
export function parseModelFlag(value: string): { name: string; dir: string } {
  const eq = value.indexOf('=');
  const name = eq > 0 ? value.slice(0, eq) : path.basename(path.resolve(value));
  const dir = eq > 0 ? value.slice(eq + 1) : value;
  if (dir === '') throw new InvalidArgumentError(`--model ${JSON.stringify(value)}: give a directory, as NAME=DIR or DIR`);
  checkModelName(name);
  return { name, dir };
}

/**
 * Loads a model's tokenizer (image: with its learned entropy model, if any)
 * and prior; the server disposes them. A prior directory given as `dir` is
 * served with the tokenizer it records.
 */
export async function loadModelDirectory(spec: ModelDirectory): Promise<ServedModelOptions> {
  const name = spec.name ?? path.basename(path.resolve(spec.dir));
  checkModelName(name);
  let tokenizerDir = spec.dir;
  let priorDir = spec.priorDir;
  if (modelDirectoryKind(spec.dir) === 'prior') {
    if (priorDir !== undefined) throw new InvalidArgumentError(`${spec.dir} is a prior, and model '${name}' is also given the prior ${priorDir}: give a tokenizer directory with --prior`);
    priorDir = spec.dir;
    const prior = PriorModel.load(spec.dir);
    const recorded = priorTokenizerDir(spec.dir, prior.metadata);
    prior.dispose();
    if (recorded === undefined) throw new InvalidArgumentError(`${spec.dir} is a prior that records no tokenizer directory; serve it as --model ${name}=TOKENIZER_DIR --prior ${name}=${spec.dir}`);
    tokenizerDir = recorded;
  }
  const kind = modelDirectoryKind(tokenizerDir);
  if (kind !== 'image-tokenizer' && kind !== 'audio-tokenizer') {
    throw new FileFormatError(`not a tokenizer directory vqkit can serve (config.json format ${IMAGE_TOKENIZER_FORMAT} or ${AUDIO_TOKENIZER_FORMAT})`, tokenizerDir);
  }
  if (priorDir !== undefined && modelDirectoryKind(priorDir) !== 'prior') throw new FileFormatError('not a prior directory (config.json has no vqkit prior block)', priorDir);
  const tokenizer = kind === 'image-tokenizer' ? await ImageTokenizer.load(tokenizerDir) : await AudioTokenizer.load(tokenizerDir);
  let prior: PriorModel | undefined;
  try {
    const learnedEntropyModel = tokenizer instanceof ImageTokenizer ? loadEntropyModel(tokenizerDir) : undefined;
    prior = priorDir === undefined ? undefined : PriorModel.load(priorDir);
    return { name, version: spec.version, tokenizer, prior, learnedEntropyModel, owned: true };
  } catch (err) {
    tokenizer.dispose();
    prior?.dispose();
    throw err;
  }
}
