/**
 * Polls `fn` until it returns without throwing (and, if it returns a boolean, returns true), or the
 * timeout passes; then rethrows the last failure. Use instead of sleeping: tests wait exactly as long
 * as the condition takes.
 */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5_000, intervalMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = new Error('condition never checked');
  for (;;) {
    try {
      const v = await fn();
      if (v !== false) return v;
      lastErr = new Error('condition returned false');
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const msg = lastErr instanceof Error ? lastErr.message : String(lastErr);
      throw new Error(`eventually: not true within ${timeoutMs} ms: ${msg}`, { cause: lastErr });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
