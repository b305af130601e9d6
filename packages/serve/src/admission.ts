/**
 * Admission control: at most `maxConcurrent` requests run at once, at most
 * `maxQueue` more wait for a slot, and anything beyond is refused at once
 * with 503 — an overloaded server answers quickly instead of letting
 * latency grow without bound. Each request has a deadline: still waiting
 * when it passes → 503 (it never ran); started but not finished → 504.
 *
 * A request that passes its deadline while running keeps its slot until
 * its work really ends (model inference is not interruptible), so the
 * concurrency bound always reflects the work the process is doing.
 */
import PQueue from 'p-queue';
import { DeadlineExceededError, OverloadedError } from './errors.js';

export interface AdmissionOptions {
  /** Requests running at once. */
  maxConcurrent: number;
  /** Requests waiting for a slot beyond those running. */
  maxQueue: number;
  /** Deadline of a request from admission, in milliseconds. */
  timeoutMs: number;
}

export class AdmissionQueue {
  private readonly queue: PQueue;
  private closing = false;

  constructor(private readonly options: AdmissionOptions) {
    this.queue = new PQueue({ concurrency: options.maxConcurrent });
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.queue.size;
  }

  /** Requests running. */
  get running(): number {
    return this.queue.pending;
  }

  /**
   * Runs `job` when a slot is free. Rejects with OverloadedError when the
   * queue is full, the server is closing or the deadline passes before the
   * job starts, and with DeadlineExceededError when it passes while the job
   * runs (the job gets an aborted signal and may stop early).
   * `options.signal` cancels the request (the client went away): a waiting
   * job is dropped from the queue, a running one sees its signal abort.
   */
  async run<T>(job: (signal: AbortSignal) => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    if (this.closing) throw new OverloadedError('the server is shutting down');
    if (this.queue.pending + this.queue.size >= this.options.maxConcurrent + this.options.maxQueue) {
      throw new OverloadedError(`overloaded: ${this.queue.pending} requests running and ${this.queue.size} waiting; retry later`);
    }
    const waitController = new AbortController();
    const runController = new AbortController();
    let started = false;
    const cancel = options.signal;
    const onCancel = (): void => {
      if (!started) waitController.abort(cancel!.reason);
      else runController.abort(cancel!.reason);
    };
    if (cancel?.aborted) throw cancel.reason;
    cancel?.addEventListener('abort', onCancel, { once: true });
    const timer = setTimeout(() => {
      if (!started) waitController.abort(new OverloadedError(`overloaded: no slot became free within ${this.options.timeoutMs} ms; retry later`));
      else runController.abort(new DeadlineExceededError(`the request did not finish within ${this.options.timeoutMs} ms`));
    }, this.options.timeoutMs);
    const work = this.queue.add(
      () => {
        started = true;
        return job(runController.signal);
      },
      { signal: waitController.signal },
    );
    try {
      return await raceAbort(work, runController.signal);
    } finally {
      clearTimeout(timer);
      cancel?.removeEventListener('abort', onCancel);
    }
  }

  /** Refuses new requests from now on and resolves when everything admitted has finished. */
  async drain(): Promise<void> {
    this.closing = true;
    await this.queue.onIdle();
  }
}

/** `promise`, or the abort reason of `signal` if it aborts first. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
