import type { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { startEngine, type EngineFlags } from '../engine.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('print the compute backend vqkit selects on this machine and why')
    .action(async (_opts: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<EngineFlags>();
      const info = await startEngine(flags);
      console.log(JSON.stringify({ ...info, tfjs: tf.version_core, node: process.version }, null, 2));
    });
}
