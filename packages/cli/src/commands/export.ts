/**
 * `vqkit export onnx`:
 *
 *   vqkit export onnx -m TOKENIZER [-o DIR]   image or audio tokenizer (from its config.json) →
 *                                             DIR/{encoder,decoder}.onnx + manifest.json
 *                                             (default DIR: TOKENIZER/onnx, where encode/decode look for it)
 *   vqkit export onnx --prior PRIOR -o DIR    prior → Hugging Face–style GPT-2 directory
 *                                             (config.json, generation_config.json, onnx/model.onnx)
 *
 * Both are written from TypeScript (no Python) at opset 17 with a dynamic
 * batch axis; see @vqkit/image's, @vqkit/audio's and @vqkit/prior's onnx modules for the graphs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { AUDIO_TOKENIZER_FORMAT, AudioTokenizer, exportAudioTokenizerToOnnx } from '@vqkit/audio';
import { FileFormatError, InvalidArgumentError } from '@vqkit/core';
import { exportImageTokenizerToOnnx, IMAGE_TOKENIZER_FORMAT, ImageTokenizer, ONNX_EXPORT_DIR } from '@vqkit/image';
import { exportPriorToOnnx, PriorModel } from '@vqkit/prior';
import { startEngine, type EngineFlags } from '../engine.js';
import type { CommandGroups } from './groups.js';

interface ExportOnnxFlags extends EngineFlags {
  model?: string;
  prior?: string;
  output?: string;
}

/** The `format` of a tokenizer directory's config.json (image or audio tokenizer). */
function tokenizerFormat(dir: string): typeof IMAGE_TOKENIZER_FORMAT | typeof AUDIO_TOKENIZER_FORMAT {
  const file = path.join(dir, 'config.json');
  let format: unknown;
  try {
    format = (JSON.parse(fs.readFileSync(file, 'utf8')) as { format?: unknown }).format;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileFormatError(code === 'ENOENT' ? 'missing; is this a vqkit tokenizer directory?' : `unreadable (${(err as Error).message})`, file, { cause: err });
  }
  if (format === IMAGE_TOKENIZER_FORMAT || format === AUDIO_TOKENIZER_FORMAT) return format;
  throw new FileFormatError(`tokenizer format ${JSON.stringify(format)} has no ONNX export (supported: ${IMAGE_TOKENIZER_FORMAT}, ${AUDIO_TOKENIZER_FORMAT})`, file);
}

export function registerExport(_program: Command, groups: CommandGroups): void {
  groups.export
    .command('onnx')
    .description('export an image or audio tokenizer (-m) or a prior (--prior) to ONNX (opset 17, dynamic batch)')
    .option('-m, --model <dir>', 'image or audio tokenizer directory')
    .option('--prior <dir>', 'prior directory (written as a Hugging Face GPT-2 model that transformers.js loads)')
    .option('-o, --output <dir>', 'output directory (tokenizer default: <model>/onnx, which encode/decode use automatically)')
    .action(async (_opts: ExportOnnxFlags, cmd: Command) => {
      const flags = cmd.optsWithGlobals<ExportOnnxFlags>();
      if ((flags.model === undefined) === (flags.prior === undefined)) throw new InvalidArgumentError('give exactly one of -m/--model (image or audio tokenizer) or --prior');
      const format = flags.model === undefined ? undefined : tokenizerFormat(flags.model);
      await startEngine(flags);
      if (flags.model !== undefined) {
        const out = flags.output ?? path.join(flags.model, ONNX_EXPORT_DIR);
        let manifest: { encoder: string; decoder: string; opset: number; tokenizerId: string };
        let detail: string;
        if (format === AUDIO_TOKENIZER_FORMAT) {
          const tokenizer = await AudioTokenizer.load(flags.model, { runtime: 'tfjs' });
          try {
            const m = exportAudioTokenizerToOnnx(tokenizer, out);
            manifest = m;
            detail = `audio, hop ${m.hop}, ${m.levels} levels`;
          } finally {
            tokenizer.dispose();
          }
        } else {
          const tokenizer = await ImageTokenizer.load(flags.model, { runtime: 'tfjs' });
          try {
            manifest = exportImageTokenizerToOnnx(tokenizer, out);
            detail = 'image';
          } finally {
            tokenizer.dispose();
          }
        }
        console.log(`wrote ${path.join(out, manifest.encoder)}, ${path.join(out, manifest.decoder)} (${detail}, opset ${manifest.opset}, tokenizer ${manifest.tokenizerId})`);
        return;
      }
      if (flags.output === undefined) throw new InvalidArgumentError('--prior needs -o/--output (the Hugging Face model directory to write)');
      const prior = PriorModel.load(flags.prior!);
      try {
        const files = exportPriorToOnnx(prior.gpt, flags.output, prior.metadata);
        console.log(`wrote ${files.map((f) => path.join(flags.output!, f)).join(', ')}`);
      } finally {
        prior.dispose();
      }
    });
}
