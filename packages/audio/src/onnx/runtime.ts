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
import * as path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { InvalidArgumentError } from '@vqkit/core';
import { chooseOnnxRuntime, loadOnnxRuntime, ONNX_EXPORT_DIR, openOnnxExport, type InferenceRuntime, type OnnxRuntimeChoice } from '@vqkit/image';
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
    const { ort, encoder, decoder, manifest } = await openOnnxExport<AudioOnnxManifest>(dir, tokenizerId, AUDIO_ONNX_FORMAT, 'audio', options);
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
