/** Waiting in long-running CLI commands (beat, events). */

/** Resolves on SIGINT or SIGTERM, or after `ms` when given; removes its listeners and timer then. */
export function untilStopped(ms?: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      clearTimeout(timer);
      resolve();
    };
    const timer = ms !== undefined ? setTimeout(stop, ms) : undefined;
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
