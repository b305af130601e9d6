#!/usr/bin/env node
/**
 * The `vqkit` command line: a thin wrapper over the library packages. Each
 * subcommand lives in `commands/` and only parses flags, calls the library
 * and prints.
 */
import { Command, CommanderError } from 'commander';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createGroups } from './commands/groups.js';
import { registerBench } from './commands/bench.js';
import { registerInfo } from './commands/info.js';
import { registerCompress } from './commands/compress.js';
import { registerImage } from './commands/image.js';
import { registerAudio } from './commands/audio.js';
import { registerVideo } from './commands/video.js';
import { registerTokenize } from './commands/tokenize.js';
import { registerPrior } from './commands/prior.js';
import { registerExport } from './commands/export.js';
import { registerServe } from './commands/serve.js';
import { reportError } from './errors.js';

export function buildProgram(): Command {
  const program = new Command('vqkit')
    .description('discrete tokenizers (VQ-VAE) for images, speech and video, and a Transformer prior')
    .option('--backend <name>', 'compute backend: auto, tfjs-node, vqkit-cpu or cpu (env VQKIT_BACKEND)')
    .option('--threads <n>', 'worker threads for vqkit-cpu (env VQKIT_THREADS; default all cores)')
    .showHelpAfterError()
    .exitOverride();
  registerInfo(program);
  const groups = createGroups(program);
  // Modality commands register below: subcommands of groups.train / groups.encode /
  // groups.export, options on groups.decode plus groups.decoders.register('image', …),
  // or top-level commands of their own.
  void groups;
  registerPrior(program, groups);
  registerCompress(program, groups);
  registerImage(program, groups);
  registerAudio(program, groups);
  registerVideo(program, groups);
  registerTokenize(program);
  registerBench(program);
  registerExport(program, groups);
  registerServe(program);
  return program;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    return reportError(err);
  }
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main().then((code) => {
    if (!process.exitCode) process.exitCode = code;
  });
}
