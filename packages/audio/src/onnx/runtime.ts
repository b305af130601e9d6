/**
 * ONNX Runtime inference for an exported audio tokenizer (see export.ts).
 *
 * `openAudioOnnxRuntime` decides whether the ONNX path can be used, with the
 * same rules as the image tokenizer's: the tokenizer directory must hold an
 * export (`onnx/manifest.json` + graphs) made from exactly these weights
 * (tokenizer id), and `onnxruntime-node` must load. Under `runtime: 'auto'`
 * any failure falls back to TensorFlow.js with the reason recorded; under
 * `runtime: 'onnx'` it is an error. Sessions use the image tokenizer's
 * options (CPU provider, full graph optimisation, thread spinning off unless
 * `spinning` asks for it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { BackendError, FileFormatError, InvalidArgumentError } from '@vqkit/core';
import { chooseOnnxRuntime, loadOnnxRuntime, ONNX_EXPORT_DIR, ONNX_MANIFEST_FILE, ortSessionOptions, type InferenceRuntime, type OnnxRuntimeChoice } from '@vqkit/image';
import { AUDIO_ONNX_FORMAT, type AudioOnnxManifest } from './export.js';

/** Options of {@link openAudioOnnxRuntime}. */
export interface AudioOnnxRuntimeOptions {
  /** Directory holding the export. Default `<tokenizer dir>/onnx`. */
  onnxDir?: string;
  /** ONNX Runtime intra-op threads. Default: ORT's default (one per physical core). */
  threads?: number;
  /** Let idle intra-op threads spin instead of sleeping. Default false (ONNX Runtime shares the process with TF.js). */
  spinning?: boolean;
}

type OrtModule = Awaited<ReturnType<typeof loadOnnxRuntime>>;

function readManifest(file: string): AudioOnnxManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FileFormatError(`unreadable ONNX export manifest (${err instanceof Error ? err.message : String(err)})`, file, { cause: err });
  }
  const m = parsed as Partial<AudioOnnxManifest>;
  if (m.format !== AUDIO_ONNX_FORMAT || m.version !== 1) throw new FileFormatError(`not a vqkit audio tokenizer ONNX export (format ${String(m.format)}, version ${String(m.version)})`, file);
  return m as AudioOnnxManifest;
}

/** Encoder/decoder sessions of one audio export. */
export class AudioOnnxRuntime {
  private constructor(
    private readonly ort: OrtModule,
    private readonly encoder: Ort.InferenceSession,
    private readonly decoder: Ort.InferenceSession,
    readonly manifest: AudioOnnxManifest,
    readonly dir: string,
  ) {}

  /** Opens the sessions; throws FileFormatError / BackendError with the reason. */
  static async open(dir: string, tokenizerId: string, options: Pick<AudioOnnxRuntimeOptions, 'threads' | 'spinning'> = {}): Promise<AudioOnnxRuntime> {
    const manifestFile = path.join(dir, ONNX_MANIFEST_FILE);
    if (!fs.existsSync(manifestFile)) throw new FileFormatError('no ONNX export (run `vqkit export onnx`)', manifestFile);
    const manifest = readManifest(manifestFile);
    if (manifest.tokenizerId !== tokenizerId) {
      throw new FileFormatError(`the ONNX export was made from tokenizer ${manifest.tokenizerId}, but the weights are ${tokenizerId}; re-run \`vqkit export onnx\``, manifestFile);
    }
    let ort: OrtModule;
    try {
      ort = await loadOnnxRuntime();
    } catch (err) {
      throw new BackendError(`onnxruntime-node does not load: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const opts = ortSessionOptions(options.threads, options.spinning);
    const encoder = await ort.InferenceSession.create(path.join(dir, manifest.encoder), opts);
    let decoder: Ort.InferenceSession;
    try {
      decoder = await ort.InferenceSession.create(path.join(dir, manifest.decoder), opts);
    } catch (err) {
      await encoder.release();
      throw err;
    }
    return new AudioOnnxRuntime(ort, encoder, decoder, manifest, dir);
  }

  /** Waveforms [B, T] (T a multiple of the hop) → int32 codes [B, T / hop, N] (all levels). */
  async encode(waveform: Float32Array, shape: readonly [number, number]): Promise<{ codes: Int32Array; shape: [number, number, number] }> {
    const hop = this.manifest.hop;
    if (shape[1] < hop || shape[1] % hop !== 0 || waveform.length !== shape[0] * shape[1]) {
      throw new InvalidArgumentError(`ONNX audio encoder expects [batch, samples] with samples a positive multiple of ${hop}, got [${shape}]`);
    }
    const out = await this.encoder.run({ waveform: new this.ort.Tensor('float32', waveform, [...shape]) });
    const codes = out.codes!;
    return { codes: codes.data as Int32Array, shape: [...codes.dims] as [number, number, number] };
  }

  /** int32 codes [B, F, m] (1 ≤ m ≤ N leading levels) → waveforms [B, F · hop]. */
  async decode(codes: Int32Array, shape: readonly [number, number, number]): Promise<{ samples: Float32Array; shape: [number, number] }> {
    if (shape[1] < 1 || shape[2] < 1 || shape[2] > this.manifest.levels || codes.length !== shape[0] * shape[1] * shape[2]) {
      throw new InvalidArgumentError(`ONNX audio decoder expects codes [batch, frames, 1..${this.manifest.levels} levels], got [${shape}]`);
    }
    const out = await this.decoder.run({ codes: new this.ort.Tensor('int32', codes, [...shape]) });
    const waveform = out.waveform!;
    return { samples: waveform.data as Float32Array, shape: [...waveform.dims] as [number, number] };
  }

  async release(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }
}

/** Outcome of choosing the inference runtime. */
export type AudioRuntimeChoice = OnnxRuntimeChoice<AudioOnnxRuntime>;

/**
 * Opens the ONNX path for an audio tokenizer directory as `runtime` asks
 * (`tokenizerId` is called only when an export exists; the policy is
 * @vqkit/image's `chooseOnnxRuntime`).
 */
export async function openAudioOnnxRuntime(
  tokenizerDir: string,
  tokenizerId: () => string,
  runtime: InferenceRuntime,
  options: AudioOnnxRuntimeOptions = {},
): Promise<AudioRuntimeChoice> {
  const dir = options.onnxDir ?? path.join(tokenizerDir, ONNX_EXPORT_DIR);
  return chooseOnnxRuntime(dir, runtime, () => AudioOnnxRuntime.open(dir, tokenizerId(), { threads: options.threads, spinning: options.spinning }));
}
