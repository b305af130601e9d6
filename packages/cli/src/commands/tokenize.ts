import type { Command } from 'commander';
import { runQueueWorker, tokenizeDataset, DEFAULT_QUEUE_NAME } from '@vqkit/tokenize';
import { startEngine, type EngineFlags } from '../engine.js';
import { withInterrupt } from '../interrupt.js';
import { createProgress, formatDuration } from '../progress.js';
import { intOption } from '../flags.js';

interface TokenizeFlags {
  tokenizer: string;
  data: string[];
  out: string;
  shardSize?: string;
  workers?: string;
  queue?: string;
  queueName: string;
}

interface WorkerFlags {
  queue: string;
  queueName: string;
  concurrency: string;
  lockMs: string;
  stalledMs: string;
}

/** `vqkit tokenize` (producer / local run) and `vqkit worker` (queue consumer). */
export function registerTokenize(program: Command): void {
  program
    .command('tokenize')
    .description('tokenize a whole dataset into resumable token shards, on local worker threads or over a Redis queue')
    .requiredOption('--tokenizer <dir>', 'tokenizer directory')
    .requiredOption('--data <path...>', 'folders, IDX(.gz) files or list files (.txt: one path[<TAB>label] per line), tokenized in the order given')
    .requiredOption('--out <dir>', 'output directory (manifest.json, shards/, errors.json); rerun with the same arguments to resume')
    .option('--shard-size <n>', 'items per shard', '4096')
    .option('--workers <n>', 'local worker threads (0 = this thread; default: all cores)')
    .option('--queue <url>', 'distribute shards over a BullMQ queue at this Redis URL (workers: `vqkit worker --queue URL`)')
    .option('--queue-name <name>', 'queue name', DEFAULT_QUEUE_NAME)
    .action(async (opts: TokenizeFlags, cmd: Command) => {
      const globals = cmd.optsWithGlobals<EngineFlags>();
      const workers = intOption('workers', opts.workers, 0);
      // Worker threads and queue workers start engines of their own; this thread only tokenizes with --workers 0.
      if (workers === 0) await startEngine(globals);
      let bar: ReturnType<typeof createProgress> | undefined;
      const result = await withInterrupt((signal) =>
        tokenizeDataset({
          tokenizer: opts.tokenizer,
          data: opts.data,
          outDir: opts.out,
          shardSize: intOption('shard-size', opts.shardSize, 1),
          workers,
          backend: globals.backend,
          queue: opts.queue,
          queueName: opts.queueName,
          signal,
          onProgress: (p) => {
            bar ??= createProgress({ label: 'tokenize', total: p.itemsTotal, unit: 'item' });
            bar.update(p.itemsDone, { shards: `${p.shardsDone}/${p.shardCount}`, errors: p.errors, 'items/s': p.itemsPerSecond });
          },
        }),
      );
      bar?.stop();
      const { manifest } = result;
      console.log(
        `${manifest.complete ? 'complete' : 'incomplete'}: ${manifest.totals.items} items → ${manifest.totals.tokens} tokens in ${manifest.shards.length}/${manifest.shardCount} shards ` +
          `(${result.shardsWritten} written, ${result.shardsReused} reused) in ${formatDuration(result.seconds)}; ${manifest.totals.errors} bad items listed in errors.json`,
      );
      if (result.shardsRedelivered > 0) console.error(`vqkit: ${result.shardsRedelivered} shard(s) were redone after a worker stopped holding them`);
      for (const failed of result.failedShards) console.error(`vqkit: shard ${failed.shard} failed: ${failed.message}`);
      if (!manifest.complete) {
        console.error(`vqkit: run the same command again to finish the remaining ${manifest.shardCount - manifest.shards.length} shard(s)`);
        process.exitCode = 1;
      }
    });

  program
    .command('worker')
    .description('take tokenization shards from a Redis queue until interrupted (same tokenizer and output paths as the producer must be visible here)')
    .requiredOption('--queue <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .option('--queue-name <name>', 'queue name', DEFAULT_QUEUE_NAME)
    .option('--concurrency <n>', 'shards processed at once', '1')
    .option('--lock-ms <ms>', 'a shard held by a worker that died is handed to another after this long', '30000')
    .option('--stalled-ms <ms>', 'how often to look for shards of dead workers', '30000')
    .action(async (opts: WorkerFlags, cmd: Command) => {
      await startEngine(cmd.optsWithGlobals<EngineFlags>());
      await withInterrupt((signal) =>
        runQueueWorker({
          url: opts.queue,
          queueName: opts.queueName,
          concurrency: intOption('concurrency', opts.concurrency, 1),
          lockDurationMs: intOption('lock-ms', opts.lockMs, 100),
          stalledIntervalMs: intOption('stalled-ms', opts.stalledMs, 100),
          signal,
          onJob: (e) => {
            const what =
              e.state === 'started'
                ? 'started'
                : e.state === 'completed'
                  ? `done (${e.summary?.items ?? 0} items, ${e.summary?.errors ?? 0} bad)`
                  : `failed: ${e.error ?? 'unknown error'} (it is retried)`;
            console.error(`vqkit: worker ${process.pid}: shard ${e.shard} ${what}`);
          },
        }),
      );
    });
}
