/** Waiting in tests: poll a condition until it holds, with a deadline (never a fixed sleep). */

/** Resolves once `cond` holds; rejects naming `what` after `timeout` ms (default 5000). */
export async function until(cond: () => boolean | Promise<boolean>, what: string, options: { timeout?: number; interval?: number } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeout ?? 5000);
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, options.interval ?? 5));
  }
}
