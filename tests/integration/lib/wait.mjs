// Waiting for conditions instead of sleeping: poll a predicate until it holds or a deadline
// passes. The poll interval starts small and grows, so fast conditions are seen fast and slow
// ones do not spin a loaded machine.

// Resolves with the predicate's first truthy value; rejects after timeoutMs. The predicate may
// be async; an exception it throws counts as "not yet" and is reported if time runs out.
export async function waitFor(predicate, timeoutMs = 5000, { message, intervalMs = 10,
                                                              maxIntervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let interval = intervalMs;
  let lastError;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const what = message || predicate.toString().slice(0, 200);
      const err = new Error(`timed out after ${timeoutMs} ms waiting for: ${what}` +
                            (lastError ? ` (last error: ${lastError.message})` : ''));
      if (lastError) err.cause = lastError;
      throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(interval, left)));
    interval = Math.min(interval * 2, maxIntervalMs);
  }
}

// Rejects with a clear message if promise does not settle within ms.
export function withTimeout(promise, ms, what = 'operation') {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}
