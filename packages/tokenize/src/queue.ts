/**
 * Distributed tokenization over a Redis-backed BullMQ queue.
 *
 * The producer (`vqkit tokenize --queue redis://…`) adds one job per missing
 * shard, with a job id derived from the plan and the shard number, so adding
 * the same shard twice (a restarted producer) is a no-op. Workers
 * (`vqkit worker --queue redis://…`) on any machine that sees the same
 * tokenizer directory and output directory (a shared file system) take jobs,
 * write the shard atomically and return its summary. Delivery is
 * at-least-once: a worker that dies mid-job loses its lock, the job goes back
 * to the queue after `lockDurationMs` and another worker redoes it — writing
 * the same bytes, so a duplicate is harmless. A job that fails
 * `attempts` times is reported and its shard left for the next run.
 */
import { Queue, Worker, type Job } from 'bullmq';
import { InvalidArgumentError, VqkitError } from '@vqkit/core';
import { runShardJob, TokenizerCache, type ShardJob } from './job.js';
import { planKey, type ShardSummary } from './shards.js';

/** Default BullMQ queue name. */
export const DEFAULT_QUEUE_NAME = 'vqkit-tokenize';

export interface QueueConnectionOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  url: string;
  /** Queue name; producer and workers must agree. Default `vqkit-tokenize`. */
  queueName?: string;
}

function connectionFor(url: string): { url: string; maxRetriesPerRequest: null } {
  if (!/^rediss?:\/\//.test(url)) throw new InvalidArgumentError(`queue ${JSON.stringify(url)} is not a Redis URL; use redis://host:port`);
  // BullMQ workers block on Redis; ioredis must not give up on those commands.
  return { url, maxRetriesPerRequest: null };
}

export function shardJobId(job: Pick<ShardJob, 'plan' | 'shard'>): string {
  return `${planKey(job.plan)}-${job.shard}`;
}

/** A shard job that failed on every attempt. */
export class QueueJobFailedError extends VqkitError {
  constructor(
    readonly shard: number,
    reason: string,
  ) {
    super('ERR_QUEUE_JOB_FAILED', `shard ${shard} failed on the queue: ${reason}`);
  }
}

export interface QueueProducerOptions extends QueueConnectionOptions {
  /** Tries per shard before it is reported failed. Default 3. */
  attempts?: number;
  /** Interval between state polls, ms. Default 250. */
  pollMs?: number;
  signal?: AbortSignal;
}

/** Adds jobs and reports each shard's outcome as it completes; resolves when all have. */
export async function runOnQueue(
  jobs: readonly ShardJob[],
  options: QueueProducerOptions,
  onShard: (job: ShardJob, outcome: { summary: ShardSummary; redelivered: boolean } | { error: Error }) => void,
): Promise<void> {
  const queue = new Queue(options.queueName ?? DEFAULT_QUEUE_NAME, { connection: connectionFor(options.url) });
  try {
    const pending = new Map<string, ShardJob>();
    for (const job of jobs) {
      const jobId = shardJobId(job);
      const existing = await queue.getJob(jobId);
      // A finished job from an earlier run whose shard is missing now (it is only
      // queued because it is missing) must run again: drop the stale record.
      if (existing !== undefined && ['completed', 'failed'].includes(await existing.getState())) await existing.remove();
      await queue.add(`shard-${job.shard}`, job, {
        jobId,
        attempts: options.attempts ?? 3,
        backoff: { type: 'fixed', delay: 500 },
        removeOnComplete: false,
        removeOnFail: false,
      });
      pending.set(jobId, job);
    }
    while (pending.size > 0) {
      if (options.signal?.aborted) return;
      for (const [jobId, job] of pending) {
        // State first, then the record: a job fetched before it completes carries
        // no return value even if getState() then reports it completed.
        const state = await queue.getJobState(jobId);
        const queued = state === 'unknown' ? undefined : await queue.getJob(jobId);
        if (queued === undefined) {
          pending.delete(jobId);
          onShard(job, { error: new QueueJobFailedError(job.shard, 'the job disappeared from the queue') });
          continue;
        }
        if (state === 'completed' && queued.returnvalue == null) {
          pending.delete(jobId);
          onShard(job, { error: new QueueJobFailedError(job.shard, 'the job completed without a shard summary') });
        } else if (state === 'completed') {
          pending.delete(jobId);
          // Started more than once: a worker died or stalled holding it and another one redid it.
          onShard(job, { summary: queued.returnvalue as ShardSummary, redelivered: queued.attemptsStarted > 1 || queued.stalledCounter > 0 });
        } else if (state === 'failed') {
          pending.delete(jobId);
          onShard(job, { error: new QueueJobFailedError(job.shard, queued.failedReason) });
        }
      }
      if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
    }
  } finally {
    await queue.close();
  }
}

export interface QueueWorkerOptions extends QueueConnectionOptions {
  /** Jobs run at once by this worker. Default 1 (a shard already uses the engine's threads). */
  concurrency?: number;
  /**
   * How long a job stays claimed without a lock renewal; a worker that dies
   * mid-job releases its shard after this. Default 30000.
   */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs of dead workers, ms. Default 30000. */
  stalledIntervalMs?: number;
  /** Called when a job starts, completes or fails here. */
  onJob?: (event: { shard: number; state: 'started' | 'completed' | 'failed'; summary?: ShardSummary; error?: string }) => void;
  /** Aborting closes the worker after its current jobs. */
  signal?: AbortSignal;
}

/** Runs a queue worker until the signal aborts. */
export async function runQueueWorker(options: QueueWorkerOptions): Promise<void> {
  const tokenizers = new TokenizerCache();
  const worker = new Worker(
    options.queueName ?? DEFAULT_QUEUE_NAME,
    async (job: Job<ShardJob>) => runShardJob(job.data, tokenizers),
    {
      connection: connectionFor(options.url),
      concurrency: options.concurrency ?? 1,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      // A shard that stalls repeatedly is retried through `attempts`, not failed outright.
      maxStalledCount: 3,
    },
  );
  worker.on('active', (job: Job<ShardJob>) => options.onJob?.({ shard: job.data.shard, state: 'started' }));
  worker.on('completed', (job: Job<ShardJob>, summary: ShardSummary) => options.onJob?.({ shard: job.data.shard, state: 'completed', summary }));
  worker.on('failed', (job: Job<ShardJob> | undefined, err: Error) => {
    if (job !== undefined) options.onJob?.({ shard: job.data.shard, state: 'failed', error: err.message });
  });
  await worker.waitUntilReady();
  await new Promise<void>((resolve) => {
    if (options.signal === undefined) return;
    if (options.signal.aborted) resolve();
    else options.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await worker.close();
  await tokenizers.dispose();
}
