import { describe, expect, it } from 'vitest';
import { AdmissionQueue } from './admission.js';
import { ClientClosedRequestError, DeadlineExceededError, OverloadedError } from './errors.js';

/** A job that runs until released, recording the abort reason of its signal. */
function controllable(): { job: (signal: AbortSignal) => Promise<string>; release: () => void; started: Promise<AbortSignal> } {
  let release!: () => void;
  let onStart!: (signal: AbortSignal) => void;
  const started = new Promise<AbortSignal>((resolve) => (onStart = resolve));
  const done = new Promise<void>((resolve) => (release = resolve));
  return {
    job: async (signal) => {
      onStart(signal);
      await done;
      return 'done';
    },
    release,
    started,
  };
}

describe('AdmissionQueue', () => {
  it('runs up to maxConcurrent jobs, queues maxQueue more and refuses the rest with 503', async () => {
    const queue = new AdmissionQueue({ maxConcurrent: 2, maxQueue: 1, timeoutMs: 10_000 });
    const jobs = [controllable(), controllable(), controllable()];
    const results = jobs.map((j) => queue.run(j.job));
    await Promise.all([jobs[0]!.started, jobs[1]!.started]);
    expect([queue.running, queue.waiting]).toEqual([2, 1]);
    await expect(queue.run(async () => 'x')).rejects.toBeInstanceOf(OverloadedError);
    jobs[0]!.release();
    await jobs[2]!.started;
    jobs[1]!.release();
    jobs[2]!.release();
    expect(await Promise.all(results)).toEqual(['done', 'done', 'done']);
    expect([queue.running, queue.waiting]).toEqual([0, 0]);
  });

  it('answers 504 when a running job passes its deadline, and aborts its signal; the slot stays taken until it ends', async () => {
    const queue = new AdmissionQueue({ maxConcurrent: 1, maxQueue: 1, timeoutMs: 50 });
    const job = controllable();
    const result = queue.run(job.job);
    const signal = await job.started;
    await expect(result).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(signal.aborted).toBe(true);
    expect(queue.running).toBe(1);
    job.release();
    await queue.drain();
    expect(queue.running).toBe(0);
  });

  it('drops a waiting job whose client went away without running it', async () => {
    const queue = new AdmissionQueue({ maxConcurrent: 1, maxQueue: 4, timeoutMs: 10_000 });
    const first = controllable();
    const firstResult = queue.run(first.job);
    await first.started;
    const client = new AbortController();
    let ran = false;
    const second = queue.run(
      async () => {
        ran = true;
        return 'x';
      },
      { signal: client.signal },
    );
    expect(queue.waiting).toBe(1);
    client.abort(new ClientClosedRequestError());
    await expect(second).rejects.toBeInstanceOf(ClientClosedRequestError);
    expect(queue.waiting).toBe(0);
    first.release();
    await firstResult;
    expect(ran).toBe(false);
  });

  it('drain refuses new jobs and waits for admitted ones', async () => {
    const queue = new AdmissionQueue({ maxConcurrent: 1, maxQueue: 4, timeoutMs: 10_000 });
    const job = controllable();
    const queued = controllable();
    const results = [queue.run(job.job), queue.run(queued.job)];
    await job.started;
    let drained = false;
    const drain = queue.drain().then(() => (drained = true));
    await expect(queue.run(async () => 'late')).rejects.toThrow(/shutting down/);
    job.release();
    await queued.started;
    expect(drained).toBe(false);
    queued.release();
    await drain;
    expect(await Promise.all(results)).toEqual(['done', 'done']);
  });
});
