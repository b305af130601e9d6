/**
 * Ctrl-C for long jobs: the first SIGINT (or SIGTERM) aborts the job's signal
 * so it can checkpoint and return cleanly; a second one exits at once.
 */
export async function withInterrupt<T>(job: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      console.error(`vqkit: ${name} again, exiting without cleanup`);
      process.exit(130);
    }
    console.error(`vqkit: ${name}: finishing the current step and saving (press Ctrl-C again to exit at once)`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await job(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
