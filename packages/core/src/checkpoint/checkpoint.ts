/**
 * Training checkpoints. A checkpoint is a directory `step-<N>` under a
 * checkpoints root holding
 *
 *   model.safetensors      all model variables (trainable and buffers, e.g. EMA codebooks)
 *   optimizer.safetensors  the optimizer's slots (Adam: iteration counter, first and second moments)
 *   trainer.json           the trainer's own state (step, epoch, RNG state, schedule, metrics history …)
 *   <extra files>          e.g. the model config
 *   checkpoint.json        manifest with each file's size and SHA-256 — written LAST
 *
 * Each file is replaced atomically and the manifest is written last, so a
 * directory without a valid manifest (a crash mid-save) is never picked up by
 * `latestCheckpoint`, and a manifest always describes complete files.
 *
 * Optimizer slots are stored under the model's variable names
 * (`slot0.encoder.conv1.weight`), not tfjs's process-local variable ids. tfjs
 * optimizers keep slots by position in the variable list passed to
 * `minimize`, so trainers must pass `model.trainableVariables()` as that list
 * (in that order) for a checkpoint to map slots back to the right variables.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FileFormatError, InvalidArgumentError } from '../errors.js';
import type { Module } from '../nn/module.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../nn/safetensors.js';
import { loadModuleFromBytes, moduleToSafetensors } from '../nn/serialize.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export const CHECKPOINT_FORMAT = 'vqkit.checkpoint';
export const CHECKPOINT_VERSION = 1;
const MANIFEST = 'checkpoint.json';
const MODEL_FILE = 'model.safetensors';
const OPTIMIZER_FILE = 'optimizer.safetensors';
const TRAINER_FILE = 'trainer.json';
const DIR_PATTERN = /^step-(\d+)$/;

interface ManifestFile {
  bytes: number;
  sha256: string;
}

/** Contents of `checkpoint.json`. */
export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  /** ISO time of the save. */
  createdAt: string;
  /** Optimizer class (`Adam`), or null when none was saved. */
  optimizer: string | null;
  files: Record<string, ManifestFile>;
}

export interface SaveCheckpointOptions<T extends object> {
  /** Checkpoints root; the checkpoint goes to `<root>/step-<step>`. Created if missing. */
  root: string;
  /** Global training step (optimizer updates so far). */
  step: number;
  model: Module;
  /** Optimizer whose slots to save (any tfjs optimizer with `getWeights`). Optional. */
  optimizer?: tf.Optimizer;
  /** JSON-serialisable trainer state. */
  trainerState: T;
  /** Additional files to store (name → content), e.g. `config.json`. */
  extraFiles?: Record<string, string | Uint8Array>;
  /** Complete checkpoints to keep (older ones are deleted after a successful save). Default 3; 0 keeps all. */
  keep?: number;
}

/** A complete checkpoint found on disk. */
export interface CheckpointInfo {
  /** The checkpoint directory. */
  path: string;
  step: number;
  manifest: CheckpointManifest;
}

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function dirName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** Optimizer slot variables in model-variable order; the names tfjs gives them are process-local, so we rename. */
async function optimizerTensors(optimizer: tf.Optimizer, model: Module): Promise<[string, SafetensorsTensor][]> {
  const weights = await optimizer.getWeights();
  const [iter, ...slots] = weights;
  // getWeights allocates a fresh scalar for the counter on every call; the slots are the optimizer's own variables.
  iter?.tensor.dispose();
  if (!iter || iter.name !== 'iter') throw new InvalidArgumentError(`optimizer ${optimizer.getClassName()} does not expose its iteration counter`);
  const trainable = new Set<tf.Variable>(model.trainableVariables());
  const names = model.namedVariables().filter(([, v]) => trainable.has(v)).map(([n]) => n);
  const out: [string, SafetensorsTensor][] = [['iter', { dtype: 'I32', shape: [], data: new Int32Array([optimizer.iterations]) }]];
  if (slots.length === 0) return out;
  if (slots.length % names.length !== 0) {
    throw new InvalidArgumentError(
      `optimizer has ${slots.length} slot tensors for ${names.length} trainable variables; was it given model.trainableVariables() as its variable list?`,
    );
  }
  const slotCount = slots.length / names.length;
  for (let s = 0; s < slotCount; s++) {
    for (let i = 0; i < names.length; i++) {
      const t = slots[s * names.length + i]!.tensor;
      const expected = model.namedVariables().find(([n]) => n === names[i])![1];
      if (t.shape.join('x') !== expected.shape.join('x')) {
        throw new InvalidArgumentError(`optimizer slot ${s} for '${names[i]}' has shape [${t.shape}] but the variable has [${expected.shape}]; variable order mismatch`);
      }
      out.push([`slot${s}.${names[i]}`, { dtype: 'F32', shape: [...t.shape], data: (await t.data()) as Float32Array }]);
    }
  }
  return out;
}

/**
 * Saves a checkpoint and prunes old ones. Returns the checkpoint directory.
 * Re-saving an existing step first invalidates its manifest, so a crash in
 * between never leaves a manifest pointing at mixed files.
 */
export async function saveCheckpoint<T extends object>(options: SaveCheckpointOptions<T>): Promise<string> {
  const { root, step, model, optimizer } = options;
  if (!Number.isInteger(step) || step < 0) throw new InvalidArgumentError(`step must be a non-negative integer, got ${step}`);
  const dir = path.join(root, dirName(step));
  fs.mkdirSync(dir, { recursive: true });
  fs.rmSync(path.join(dir, MANIFEST), { force: true });

  const files: Record<string, Uint8Array | string> = {};
  for (const [name, content] of Object.entries(options.extraFiles ?? {})) {
    if (name === MANIFEST || name.includes('/') || name.includes('\\')) throw new InvalidArgumentError(`invalid extra checkpoint file name '${name}'`);
    files[name] = content;
  }
  files[MODEL_FILE] = moduleToSafetensors(model);
  if (optimizer) files[OPTIMIZER_FILE] = encodeSafetensors(await optimizerTensors(optimizer, model), { optimizer: optimizer.getClassName() });
  files[TRAINER_FILE] = `${JSON.stringify(options.trainerState, null, 2)}\n`;

  const manifestFiles: Record<string, ManifestFile> = {};
  for (const [name, content] of Object.entries(files)) {
    writeFileAtomic(path.join(dir, name), content);
    manifestFiles[name] = { bytes: typeof content === 'string' ? Buffer.byteLength(content) : content.length, sha256: sha256(content) };
  }
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step,
    createdAt: new Date().toISOString(),
    optimizer: optimizer ? optimizer.getClassName() : null,
    files: manifestFiles,
  };
  writeFileAtomic(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  pruneCheckpoints(root, options.keep ?? 3, dir);
  return dir;
}

function readManifest(dir: string): CheckpointManifest {
  const file = path.join(dir, MANIFEST);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FileFormatError(`cannot read checkpoint manifest (${err instanceof Error ? err.message : String(err)})`, file, { cause: err });
  }
  const m = parsed as Partial<CheckpointManifest>;
  if (m?.format !== CHECKPOINT_FORMAT) throw new FileFormatError(`not a vqkit checkpoint manifest (format ${String(m?.format)})`, file);
  if (m.version !== CHECKPOINT_VERSION) throw new FileFormatError(`unsupported checkpoint version ${String(m.version)}; this vqkit reads version ${CHECKPOINT_VERSION}`, file);
  if (!Number.isInteger(m.step) || typeof m.files !== 'object' || m.files === null) throw new FileFormatError('manifest lacks step or files', file);
  return m as CheckpointManifest;
}

/** Complete checkpoints under `root`, oldest first. Incomplete or foreign directories are skipped. */
export function listCheckpoints(root: string): CheckpointInfo[] {
  if (!fs.existsSync(root)) return [];
  const out: CheckpointInfo[] = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || !DIR_PATTERN.test(entry.name)) continue;
    const dir = path.join(root, entry.name);
    try {
      const manifest = readManifest(dir);
      out.push({ path: dir, step: manifest.step, manifest });
    } catch {
      // no/invalid manifest: an interrupted save; ignore
    }
  }
  return out.sort((a, b) => a.step - b.step);
}

/** The complete checkpoint with the highest step under `root`, or undefined. */
export function latestCheckpoint(root: string): CheckpointInfo | undefined {
  return listCheckpoints(root).at(-1);
}

function pruneCheckpoints(root: string, keep: number, current: string): void {
  if (keep <= 0) return;
  const complete = listCheckpoints(root);
  const keepPaths = new Set(complete.slice(-keep).map((c) => c.path));
  keepPaths.add(current);
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || !DIR_PATTERN.test(entry.name)) continue;
    const dir = path.join(root, entry.name);
    // Older complete checkpoints and leftovers of interrupted saves both go.
    if (!keepPaths.has(dir)) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface LoadCheckpointOptions {
  /** Model to load the weights into (must match the saved architecture). */
  model: Module;
  /**
   * Fresh optimizer (no steps taken yet) to restore slots into; it must be
   * of the saved class. Omit to load weights only.
   */
  optimizer?: tf.Optimizer;
}

export interface LoadedCheckpoint<T> {
  step: number;
  trainerState: T;
  /** Extra files stored with the checkpoint, by name. */
  readExtraFile(name: string): Buffer;
}

function readVerified(dir: string, manifest: CheckpointManifest, name: string): Buffer {
  const file = path.join(dir, name);
  const entry = manifest.files[name];
  if (!entry) throw new FileFormatError(`checkpoint has no file '${name}'`, dir);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new FileFormatError(`missing checkpoint file (${(err as NodeJS.ErrnoException).code ?? String(err)})`, file, { cause: err });
  }
  if (bytes.length !== entry.bytes || sha256(bytes) !== entry.sha256) {
    throw new FileFormatError('checkpoint file does not match its manifest checksum (corrupted or modified)', file);
  }
  return bytes;
}

/** Restores model weights, optimizer slots and trainer state from a checkpoint directory. */
export async function loadCheckpoint<T>(checkpointDir: string, options: LoadCheckpointOptions): Promise<LoadedCheckpoint<T>> {
  const manifest = readManifest(checkpointDir);
  loadModuleFromBytes(options.model, readVerified(checkpointDir, manifest, MODEL_FILE), path.join(checkpointDir, MODEL_FILE));
  const { optimizer, model } = options;
  if (optimizer) {
    if (manifest.optimizer !== optimizer.getClassName()) {
      throw new FileFormatError(`checkpoint holds ${manifest.optimizer ?? 'no'} optimizer state, cannot restore into ${optimizer.getClassName()}`, checkpointDir);
    }
    const current = await optimizer.getWeights();
    current[0]?.tensor.dispose(); // the freshly allocated iteration scalar
    if (optimizer.iterations !== 0 || current.length > 1) {
      throw new InvalidArgumentError('restore optimizer state into a fresh optimizer (it has already taken steps)');
    }
    const file = path.join(checkpointDir, OPTIMIZER_FILE);
    const { tensors } = decodeSafetensors(readVerified(checkpointDir, manifest, OPTIMIZER_FILE), file);
    const iter = tensors.get('iter');
    if (!iter || iter.dtype !== 'I32') throw new FileFormatError('optimizer state lacks its iteration counter', file);
    const trainable = new Set<tf.Variable>(model.trainableVariables());
    const named = model.namedVariables().filter(([, v]) => trainable.has(v));
    const weights: Parameters<tf.Optimizer['setWeights']>[0] = [{ name: 'iter', tensor: tf.scalar(iter.data[0]!, 'int32') }];
    for (let s = 0; tensors.has(`slot${s}.${named[0]?.[0]}`); s++) {
      for (const [name, variable] of named) {
        const t = tensors.get(`slot${s}.${name}`);
        if (!t || t.shape.join('x') !== variable.shape.join('x')) {
          tf.dispose(weights.map((w) => w.tensor));
          throw new FileFormatError(`optimizer slot ${s} for '${name}' is missing or has the wrong shape`, file);
        }
        weights.push({ name: `${name}/slot${s}`, tensor: tf.tensor(t.data, t.shape, 'float32') });
      }
    }
    // setWeights copies each tensor into a new optimizer-owned variable.
    await optimizer.setWeights(weights);
    tf.dispose(weights.map((w) => w.tensor));
  }
  const trainerFile = path.join(checkpointDir, TRAINER_FILE);
  let trainerState: T;
  try {
    trainerState = JSON.parse(readVerified(checkpointDir, manifest, TRAINER_FILE).toString('utf8')) as T;
  } catch (err) {
    if (err instanceof FileFormatError) throw err;
    throw new FileFormatError(`trainer state is not valid JSON`, trainerFile, { cause: err });
  }
  return {
    step: manifest.step,
    trainerState,
    readExtraFile: (name: string) => readVerified(checkpointDir, manifest, name),
  };
}
