import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/**
 * Per-test teardown for suites that start real collectors, agents and temp dirs: what a test
 * registers in `cleanups` runs after it, last registered first (an agent stops before the
 * collector it talks to, and both before their directories go). Call once, at module level.
 */
export function useCleanups(): { cleanups: Array<() => Promise<void> | void>; tmp(prefix: string): string } {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  /** A fresh directory under the OS temp dir, removed after the test. */
  function tmp(prefix: string): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    return d;
  }
  return { cleanups, tmp };
}
