/**
 * `vqkit serve --model [NAME=]DIR … [--prior NAME=DIR …] [--port 8501] [--host 127.0.0.1]`:
 * a TensorFlow Serving-compatible REST server for image and audio
 * tokenizers (and priors over their codes),
 * see @vqkit/serve. Runs until SIGINT/SIGTERM, then finishes the requests
 * it has admitted and exits; a second signal exits at once.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from '@vqkit/core';
import { createServer, loadModelDirectory, parseModelFlag, type ServedModelOptions, type ServeLimits } from '@vqkit/serve';
import { startEngine, type EngineFlags } from '../engine.js';
import { collect, intOption, numberOption } from '../flags.js';

interface ServeFlags {
  model?: string[];
  prior?: string[];
  port: string;
  host: string;
  maxBodyMb?: string;
  maxPixels?: string;
  maxAudioSeconds?: string;
  maxBatch?: string;
  concurrency?: string;
  queue?: string;
  timeoutMs?: string;
  log?: boolean;
}

function limitsFrom(flags: ServeFlags): Partial<ServeLimits> {
  const mb = numberOption('max-body-mb', flags.maxBodyMb, (n) => n > 0, 'a positive number');
  return {
    maxBodyBytes: mb === undefined ? undefined : Math.round(mb * 1024 * 1024),
    maxImagePixels: intOption('max-pixels', flags.maxPixels, 1),
    maxAudioSeconds: intOption('max-audio-seconds', flags.maxAudioSeconds, 1),
    maxBatch: intOption('max-batch', flags.maxBatch, 1),
    maxConcurrent: intOption('concurrency', flags.concurrency, 1),
    maxQueue: intOption('queue', flags.queue, 0),
    requestTimeoutMs: intOption('timeout-ms', flags.timeoutMs, 1),
  };
}

/** `--prior NAME=DIR` flags → prior directory per model name. */
function priorDirs(values: readonly string[], modelNames: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0 || eq === value.length - 1) throw new InvalidArgumentError(`--prior ${JSON.stringify(value)}: use NAME=DIR, where NAME is a --model name`);
    const name = value.slice(0, eq);
    if (!modelNames.has(name)) throw new InvalidArgumentError(`--prior ${value}: no --model is named '${name}' (models: ${[...modelNames].join(', ')})`);
    if (out.has(name)) throw new InvalidArgumentError(`--prior: model '${name}' is given two priors`);
    out.set(name, value.slice(eq + 1));
  }
  return out;
}

/** Resolves when the process gets SIGINT or SIGTERM; a second one exits at once. */
function untilSignal(): { stopped: Promise<NodeJS.Signals>; dispose: () => void } {
  let resolve!: (signal: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((r) => (resolve = r));
  let received = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) {
      console.error(`vqkit: ${signal} again, exiting without waiting for requests`);
      process.exit(130);
    }
    received = true;
    resolve(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stopped,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve tokenizers (and priors) over a TensorFlow Serving-compatible REST API (/v1/models/NAME:predict)')
    .option('-m, --model <[name=]dir>', 'image or audio tokenizer directory, or a prior directory that records its tokenizer, as NAME=DIR or DIR (name = directory name); repeatable', collect)
    .option('--prior <name=dir>', "prior trained on model NAME's codes: adds the 'generate' signature; repeatable", collect)
    .option('-p, --port <n>', 'TCP port (0 = any free port)', '8501')
    .option('--host <address>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--max-body-mb <mb>', 'largest request body in MiB (default 16)')
    .option('--max-pixels <n>', 'largest image in pixels, checked before decoding (default 16777216)')
    .option('--max-audio-seconds <s>', 'longest audio accepted or produced (default 600)')
    .option('--max-batch <n>', 'most instances per request (default 64)')
    .option('--concurrency <n>', 'requests running at once (default 2)')
    .option('--queue <n>', 'requests waiting for a slot before 503 (default 64)')
    .option('--timeout-ms <ms>', 'deadline of a request (default 30000)')
    .option('--log', 'log every request (JSON lines on stdout; internal errors are always logged)')
    .action(async (flags: ServeFlags, cmd: Command) => {
      const port = intOption('port', flags.port, 0)!;
      if (port > 65535) throw new InvalidArgumentError(`--port must be at most 65535, got ${port}`);
      const limits = limitsFrom(flags);
      if (flags.model === undefined) throw new InvalidArgumentError('give at least one model to serve: --model [NAME=]DIR');
      const specs = flags.model.map(parseModelFlag);
      const names = new Set<string>();
      for (const { name } of specs) {
        if (names.has(name)) throw new InvalidArgumentError(`two --model flags are named '${name}'; name them NAME=DIR`);
        names.add(name);
      }
      const priors = priorDirs(flags.prior ?? [], names);
      await startEngine(cmd.optsWithGlobals<EngineFlags>());
      const models: ServedModelOptions[] = [];
      try {
        for (const spec of specs) models.push(await loadModelDirectory({ ...spec, priorDir: priors.get(spec.name) }));
      } catch (err) {
        for (const m of models) {
          m.tokenizer.dispose();
          m.prior?.dispose();
        }
        throw err;
      }
      const server = createServer({ models, limits, logLevel: flags.log === true ? 'info' : 'error' });
      const signals = untilSignal();
      try {
        const url = await server.listen({ port, host: flags.host });
        for (const model of server.models.values()) {
          console.log(`vqkit: serving '${model.name}' (version ${model.version}; signatures ${[...model.signatures.keys()].join(', ')})`);
        }
        console.log(`vqkit: listening on ${url} — POST ${url}/v1/models/${[...server.models.keys()][0]}:predict`);
        const signal = await signals.stopped;
        console.error(`vqkit: ${signal}: finishing ${server.admission.running + server.admission.waiting} admitted request(s), then exiting (press Ctrl-C again to exit at once)`);
      } finally {
        await server.close();
        signals.dispose();
      }
    });
}
