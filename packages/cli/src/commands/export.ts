/**
 * `vqkit export onnx`:
 *
 *   vqkit export onnx -m TOKENIZER [-o DIR]   image tokenizer → DIR/{encoder,decoder}.onnx + manifest.json
 *                                             (default DIR: TOKENIZER/onnx, where encode/decode look for it)
 *   vqkit export onnx --prior PRIOR -o DIR    prior → Hugging Face–style GPT-2 directory
 *                                             (config.json, generation_config.json, onnx/model.onnx)
 *
 * Both are written from TypeScript (no Python) at opset 17 with a dynamic
 * batch axis; see @vqkit/image's and @vqkit/prior's onnx modules for the graphs.
 */
import * as path from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from '@vqkit/core';
import { exportImageTokenizerToOnnx, ImageTokenizer, ONNX_EXPORT_DIR } from '@vqkit/image';
import { exportPriorToOnnx, PriorModel } from '@vqkit/prior';
import { startEngine, type EngineFlags } from '../engine.js';
import type { CommandGroups } from './groups.js';

interface ExportOnnxFlags extends EngineFlags {
  model?: string;
  prior?: string;
  output?: string;
}

export function registerExport(_program: Command, groups: CommandGroups): void {
  groups.export
    .command('onnx')
    .description('export an image tokenizer (-m) or a prior (--prior) to ONNX (opset 17, dynamic batch)')
    .option('-m, --model <dir>', 'image tokenizer directory')
    .option('--prior <dir>', 'prior directory (written as a Hugging Face GPT-2 model that transformers.js loads)')
    .option('-o, --output <dir>', 'output directory (tokenizer default: <model>/onnx, which encode/decode use automatically)')
    .action(async (_opts: ExportOnnxFlags, cmd: Command) => {
      const flags = cmd.optsWithGlobals<ExportOnnxFlags>();
      if ((flags.model === undefined) === (flags.prior === undefined)) throw new InvalidArgumentError('give exactly one of -m/--model (image tokenizer) or --prior');
      await startEngine(flags);
      if (flags.model !== undefined) {
        const tokenizer = await ImageTokenizer.load(flags.model, { runtime: 'tfjs' });
        try {
          const out = flags.output ?? path.join(flags.model, ONNX_EXPORT_DIR);
          const manifest = exportImageTokenizerToOnnx(tokenizer, out);
          console.log(`wrote ${path.join(out, manifest.encoder)}, ${path.join(out, manifest.decoder)} (opset ${manifest.opset}, tokenizer ${manifest.tokenizerId})`);
        } finally {
          tokenizer.dispose();
        }
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
