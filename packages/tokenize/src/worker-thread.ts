/**
 * Entry point of a local tokenization worker thread: starts its own engine
 * (one compute thread — the pool already uses one worker per core), then runs
 * the shard jobs the pool posts, one at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initEngine, type BackendRequest } from '@vqkit/core';
import { runShardJob, TokenizerCache, type ShardJob } from './job.js';
import type { PoolReply, PoolWorkerData } from './pool.js';

async function serve(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('worker-thread.js must run as a worker thread');
  const data = workerData as PoolWorkerData;
  await initEngine({ backend: data.backend as BackendRequest | undefined, threads: data.computeThreads });
  const tokenizers = new TokenizerCache();
  port.on('message', (job: ShardJob | null) => {
    if (job === null) {
      void tokenizers.dispose().then(() => port.close());
      return;
    }
    runShardJob(job, tokenizers).then(
      (summary) => port.postMessage({ shard: job.shard, summary } satisfies PoolReply),
      (err: unknown) => port.postMessage({ shard: job.shard, error: err instanceof Error ? err.message : String(err) } satisfies PoolReply),
    );
  });
  port.postMessage({ ready: true } satisfies PoolReply);
}

void serve();
