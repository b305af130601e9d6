/**
 * ONNX Runtime inference for an exported image tokenizer (see export.ts).
 *
 * `openImageOnnxRuntime` decides whether the ONNX path can be used: the
 * tokenizer directory must hold an export (`onnx/manifest.json` + graphs)
 * made from exactly these weights (tokenizer id), and `onnxruntime-node`
 * must load (its prebuilt CPU binaries ship inside the npm package). Under
 * `runtime: 'auto'` any failure falls back to TensorFlow.js with the reason
 * recorded; under `runtime: 'onnx'` it is an error.
 *
 * ONNX Runtime shares the process with TensorFlow.js (and possibly vqkit-cpu
 * worker threads), so intra-op thread spinning is off by default: spinning
 * threads would keep a core busy between runs and slow the JavaScript side.
 * `spinning: true` turns it on for processes that do nothing but ONNX
 * inference (it saves the thread wake-up on every node, which matters for
 * small batches; see docs/onnx.md for measurements).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { BackendError, FileFormatError, InvalidArgumentError } from '@vqkit/core';
import { IMAGE_ONNX_FORMAT, ONNX_EXPORT_DIR, ONNX_MANIFEST_FILE, type ImageOnnxManifest } from './export.js';

/** Which inference engine an ImageTokenizer uses: `'auto'` = ONNX Runtime when an export exists and loads, else TF.js. */
export type InferenceRuntime = 'auto' | 'onnx' | 'tfjs';

/** Options of {@link openImageOnnxRuntime}. */
export interface ImageOnnxRuntimeOptions {
  /** Directory holding the export. Default `<tokenizer dir>/onnx`. */
  onnxDir?: string;
  /** ONNX Runtime intra-op threads. Default: ORT's default (one per physical core). */
  threads?: number;
  /** Let idle intra-op threads spin instead of sleeping. Default false (see the module comment). */
  spinning?: boolean;
}

type OrtModule = typeof Ort;
let ortModule: Promise<OrtModule> | undefined;

/** Loads onnxruntime-node once (dynamically, so a missing native binary is a recoverable error). */
export function loadOnnxRuntime(): Promise<OrtModule> {
  ortModule ??= import('onnxruntime-node').then((m) => ((m as unknown as { default?: OrtModule }).default ?? m) as OrtModule);
  return ortModule;
}

/** Session options used for every vqkit ONNX session. */
export function ortSessionOptions(threads?: number, spinning = false): Ort.InferenceSession.SessionOptions {
  const spin = spinning ? '1' : '0';
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    ...(threads ? { intraOpNumThreads: threads } : {}),
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
  };
}

/** The manifest fields every tokenizer export has. */
export interface OnnxExportManifest {
  format: string;
  version: number;
  tokenizerId: string;
  encoder: string;
  decoder: string;
}

/** An export opened by {@link openOnnxExport}. */
export interface OpenedOnnxExport<M extends OnnxExportManifest> {
  ort: OrtModule;
  encoder: Ort.InferenceSession;
  decoder: Ort.InferenceSession;
  manifest: M;
}

/**
 * Opens the encoder/decoder export of a `modality` tokenizer in `dir` whose
 * manifest has `format` (version 1) and was made from the weights `tokenizerId`; throws
 * FileFormatError (missing, unreadable, foreign or stale export) or
 * BackendError (onnxruntime-node does not load) with the reason.
 */
export async function openOnnxExport<M extends OnnxExportManifest>(
  dir: string,
  tokenizerId: string,
  format: string,
  modality: 'image' | 'audio',
  options: { threads?: number; spinning?: boolean } = {},
): Promise<OpenedOnnxExport<M>> {
  const file = path.join(dir, ONNX_MANIFEST_FILE);
  if (!fs.existsSync(file)) throw new FileFormatError('no ONNX export (run `vqkit export onnx`)', file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FileFormatError(`unreadable ONNX export manifest (${err instanceof Error ? err.message : String(err)})`, file, { cause: err });
  }
  const manifest = parsed as Partial<M>;
  if (manifest.format !== format || manifest.version !== 1) {
    throw new FileFormatError(`not a vqkit ${modality} tokenizer ONNX export (format ${String(manifest.format)}, version ${String(manifest.version)})`, file);
  }
  if (manifest.tokenizerId !== tokenizerId) {
    throw new FileFormatError(`the ONNX export was made from tokenizer ${manifest.tokenizerId}, but the weights are ${tokenizerId}; re-run \`vqkit export onnx\``, file);
  }
  let ort: OrtModule;
  try {
    ort = await loadOnnxRuntime();
  } catch (err) {
    throw new BackendError(`onnxruntime-node does not load: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const opts = ortSessionOptions(options.threads, options.spinning);
  const encoder = await ort.InferenceSession.create(path.join(dir, manifest.encoder!), opts);
  try {
    const decoder = await ort.InferenceSession.create(path.join(dir, manifest.decoder!), opts);
    return { ort, encoder, decoder, manifest: manifest as M };
  } catch (err) {
    await encoder.release();
    throw err;
  }
}

/** Encoder/decoder sessions of one export. */
export class ImageOnnxRuntime {
  private constructor(
    private readonly ort: OrtModule,
    private readonly encoder: Ort.InferenceSession,
    private readonly decoder: Ort.InferenceSession,
    readonly manifest: ImageOnnxManifest,
    readonly dir: string,
  ) {}

  /** Opens the sessions; throws FileFormatError / BackendError with the reason. */
  static async open(dir: string, tokenizerId: string, options: Pick<ImageOnnxRuntimeOptions, 'threads' | 'spinning'> = {}): Promise<ImageOnnxRuntime> {
    const { ort, encoder, decoder, manifest } = await openOnnxExport<ImageOnnxManifest>(dir, tokenizerId, IMAGE_ONNX_FORMAT, 'image', options);
    return new ImageOnnxRuntime(ort, encoder, decoder, manifest, dir);
  }

  /** Images [B, H, W, C] (H, W multiples of f) → int32 codes and their shape [B, h, w(, levels)]. */
  async encode(pixels: Float32Array, shape: readonly [number, number, number, number]): Promise<{ codes: Int32Array; shape: number[] }> {
    const f = this.manifest.downsampling;
    if (shape[1] % f !== 0 || shape[2] % f !== 0 || shape[3] !== this.manifest.channels) {
      throw new InvalidArgumentError(`ONNX encoder expects [batch, height, width, ${this.manifest.channels}] with sides multiples of ${f}, got [${shape}]`);
    }
    const out = await this.encoder.run({ images: new this.ort.Tensor('float32', pixels, [...shape]) });
    const codes = out.codes!;
    return { codes: codes.data as Int32Array, shape: [...codes.dims] };
  }

  /** int32 codes [B, h, w(, levels)] → images [B, h·f, w·f, C]. */
  async decode(codes: Int32Array, shape: readonly number[]): Promise<{ pixels: Float32Array; shape: number[] }> {
    const out = await this.decoder.run({ codes: new this.ort.Tensor('int32', codes, [...shape]) });
    const images = out.images!;
    return { pixels: images.data as Float32Array, shape: [...images.dims] };
  }

  async release(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }
}

/** Outcome of choosing the inference runtime. */
export interface OnnxRuntimeChoice<R> {
  runtime: R | undefined;
  /** Why ONNX Runtime is not used (when it is not). */
  reason?: string;
}
export type RuntimeChoice = OnnxRuntimeChoice<ImageOnnxRuntime>;

/**
 * The runtime policy every tokenizer shares: `'tfjs'` never opens the export
 * in `exportDir`, `'onnx'` always does (errors propagate), `'auto'` does when
 * an export exists and opens (else the reason is returned). `open` is called
 * only when the manifest exists.
 */
export async function chooseOnnxRuntime<R>(exportDir: string, runtime: InferenceRuntime, open: () => Promise<R>): Promise<OnnxRuntimeChoice<R>> {
  if (runtime === 'tfjs') return { runtime: undefined, reason: 'runtime tfjs requested' };
  try {
    if (!fs.existsSync(path.join(exportDir, ONNX_MANIFEST_FILE))) throw new FileFormatError('no ONNX export (run `vqkit export onnx`)', exportDir);
    return { runtime: await open() };
  } catch (err) {
    if (runtime === 'onnx') throw err;
    return { runtime: undefined, reason: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Opens the ONNX path for a tokenizer directory as `runtime` asks
 * (`tokenizerId` is called only when an export exists; see {@link chooseOnnxRuntime}).
 */
export async function openImageOnnxRuntime(
  tokenizerDir: string,
  tokenizerId: () => string,
  runtime: InferenceRuntime,
  options: ImageOnnxRuntimeOptions = {},
): Promise<RuntimeChoice> {
  const dir = options.onnxDir ?? path.join(tokenizerDir, ONNX_EXPORT_DIR);
  // The id hashes all weights: only worth computing when there is an export to check it against.
  return chooseOnnxRuntime(dir, runtime, () => ImageOnnxRuntime.open(dir, tokenizerId(), { threads: options.threads, spinning: options.spinning }));
}
