import type { Command } from 'commander';
import { InvalidArgumentError, readContainerHeader, type Modality } from '@vqkit/core';
import { readFile } from 'node:fs/promises';

/**
 * Parent commands shared by several modalities. Each modality package's CLI
 * module adds its subcommand (`train image`, `encode audio`, …) to these, so
 * the per-modality files never edit each other.
 */
export interface CommandGroups {
  /** `vqkit train <image|audio|prior> …` */
  train: Command;
  /** `vqkit encode <image|audio|video> …` */
  encode: Command;
  /** `vqkit export <onnx> …` */
  export: Command;
  /** `vqkit decode FILE -m DIR -o OUT`; modalities may add options of their own. */
  decode: Command;
  /** Who decodes which modality for `vqkit decode`. */
  decoders: DecodeRegistry;
}

export function createGroups(program: Command): CommandGroups {
  const decoders = new DecodeRegistry();
  return {
    train: program.command('train').description('train a tokenizer or a prior (see `vqkit train <kind> --help`)'),
    encode: program.command('encode').description('turn an image, a WAV file or a video into codes'),
    export: program.command('export').description('export a trained model to another runtime'),
    decode: program
      .command('decode')
      .description('turn a codes file (.vqt container or JSON) back into an image, WAV or video; the modality is read from the file')
      .argument('<codes>', 'codes file written by `vqkit encode` or `vqkit compress`')
      .requiredOption('-m, --model <dir>', 'tokenizer directory the codes were made with')
      .requiredOption('-o, --output <path>', 'output file (.png, .wav, .mp4, .webm) or frames directory')
      .action(async (input: string, opts: Record<string, unknown>, cmd: Command) => {
        await decoders.dispatch(input, opts, cmd.optsWithGlobals());
      }),
    decoders,
  };
}

/** Options every `vqkit decode` handler receives. */
export interface DecodeRequest {
  /** The container or codes file given on the command line. */
  input: string;
  bytes: Uint8Array;
  /** Values of the `decode` command's own flags. */
  options: Record<string, unknown>;
  /** Flags of the whole program (backend, threads). */
  globals: Record<string, unknown>;
}

export type DecodeHandler = (request: DecodeRequest) => Promise<void>;

/**
 * What a codes file holds: a binary container says so in its header; a JSON
 * codes file (`vqkit encode … --format json`) in its `modality` field.
 */
export function detectModality(input: string, bytes: Uint8Array): Modality {
  if (bytes[0] === 0x7b /* '{' */) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      throw new InvalidArgumentError(`${input} looks like JSON but does not parse: ${(err as Error).message}`);
    }
    const modality = (parsed as { modality?: unknown }).modality;
    if (modality === 'image' || modality === 'audio' || modality === 'video') return modality;
    throw new InvalidArgumentError(`${input}: a JSON codes file needs "modality": "image" | "audio" | "video"`);
  }
  return readContainerHeader(bytes).modality;
}

/**
 * `vqkit decode FILE` works out what FILE holds from its container header and
 * hands it to the handler registered for that modality.
 */
export class DecodeRegistry {
  private readonly handlers = new Map<Modality, DecodeHandler>();

  register(modality: Modality, handler: DecodeHandler): void {
    this.handlers.set(modality, handler);
  }

  async dispatch(input: string, options: Record<string, unknown>, globals: Record<string, unknown>): Promise<void> {
    const bytes = new Uint8Array(await readFile(input));
    const modality = detectModality(input, bytes);
    const handler = this.handlers.get(modality);
    if (handler === undefined) {
      const known = [...this.handlers.keys()].join(', ') || 'none';
      throw new InvalidArgumentError(`${input} holds ${modality} codes, which this vqkit cannot decode (it decodes: ${known})`);
    }
    await handler({ input, bytes, options, globals });
  }
}
