/**
 * Local parallelism: a pool of worker threads, each with its own engine and
 * tokenizer, each working on one shard at a time — so memory is bounded by
 * workers × one shard, whatever the dataset size.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { VqkitError } from '@vqkit/core';
import type { ShardJob } from './job.js';
import type { ShardSummary } from './shards.js';

/** What a pool worker is started with. */
export interface PoolWorkerData {
  backend: string | undefined;
  computeThreads: number;
}

/** Messages from a pool worker. */
export type PoolReply = { ready: true } | { shard: number; summary: ShardSummary } | { shard: number; error: string };

/** A shard a worker could not write (the run goes on; the shard is reported and redone next run). */
export class ShardFailedError extends VqkitError {
  constructor(
    readonly shard: number,
    message: string,
  ) {
    super('ERR_SHARD_FAILED', `shard ${shard}: ${message}`);
  }
}

/**
 * The compiled worker script. Under a TypeScript source runner (tests) this
 * module is `src/pool.ts`, and the thread still has to run compiled code, so
 * it is taken from `dist/` — `pnpm build` makes it.
 */
function workerScript(): URL {
  const here = new URL('./worker-thread.js', import.meta.url);
  if (import.meta.url.endsWith('.js')) return here;
  const built = new URL('../dist/worker-thread.js', import.meta.url);
  if (!fs.existsSync(fileURLToPath(built))) throw new VqkitError('ERR_NOT_BUILT', 'worker threads need the compiled package: run `pnpm build` first');
  return built;
}

export interface WorkerPoolOptions {
  /** Worker threads. */
  workers: number;
  /** Engine backend for the workers (default: auto). */
  backend?: string;
}

/** Runs shard jobs on worker threads; `run` resolves per job, in completion order. */
export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private readonly waiting: (() => void)[] = [];
  private started: Promise<void> | undefined;

  constructor(private readonly options: WorkerPoolOptions) {}

  /** Starts one worker thread and resolves once its engine and message loop are up. */
  private spawn(): Promise<Worker> {
    const data: PoolWorkerData = { backend: this.options.backend, computeThreads: 1 };
    const worker = new Worker(workerScript(), { workerData: data });
    this.all.add(worker);
    worker.once('exit', () => this.all.delete(worker));
    return new Promise<Worker>((resolve, reject) => {
      const onMessage = (reply: PoolReply): void => {
        if (!('ready' in reply)) return;
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve(worker);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  }

  private start(): Promise<void> {
    this.started ??= Promise.all(Array.from({ length: this.options.workers }, () => this.spawn())).then((workers) => {
      this.idle.push(...workers);
    });
    return this.started;
  }

  private async acquire(): Promise<Worker> {
    await this.start();
    for (;;) {
      const worker = this.idle.pop();
      if (worker !== undefined) return worker;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(worker: Worker, alive: boolean): void {
    if (alive) {
      this.idle.push(worker);
      this.waiting.shift()?.();
      return;
    }
    // A dead thread is replaced so the pool keeps its width.
    void worker.terminate();
    this.spawn().then(
      (fresh) => this.release(fresh, true),
      () => undefined,
    );
  }

  /** Runs one job on the next free worker. */
  async run(job: ShardJob): Promise<ShardSummary> {
    const worker = await this.acquire();
    let alive = true;
    try {
      return await new Promise<ShardSummary>((resolve, reject) => {
        const onMessage = (reply: PoolReply): void => {
          if (!('shard' in reply) || reply.shard !== job.shard) return;
          cleanup();
          if ('summary' in reply) resolve(reply.summary);
          else reject(new ShardFailedError(job.shard, reply.error));
        };
        const onError = (err: Error): void => {
          alive = false;
          cleanup();
          reject(new ShardFailedError(job.shard, `worker thread died: ${err.message}`));
        };
        const cleanup = (): void => {
          worker.off('message', onMessage);
          worker.off('error', onError);
        };
        worker.on('message', onMessage);
        worker.once('error', onError);
        worker.postMessage(job);
      });
    } finally {
      this.release(worker, alive);
    }
  }

  /** Lets the workers finish and exit. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.all].map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.once('exit', () => resolve());
            worker.postMessage(null);
          }),
      ),
    );
  }
}
