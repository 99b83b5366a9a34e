/**
 * Waiting in integration tests that talk to real servers and child processes, where there is no injected clock
 * to move: poll a condition (or retry an assertion) on real time until it holds, and fail with a clear error (or
 * the assertion's last error) after a bound. Unit tests never use these: they move a `FakeClock`.
 */

/** Resolves after `ms` milliseconds of real time. */
export const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every `intervalMs` until it is true; rejects after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(intervalMs);
  }
}

/** Retries `check` every 10 ms until it passes; fails with its last error after `timeoutMs`. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(10);
    }
  }
}
