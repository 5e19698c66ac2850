import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The real-kernel lab (docs/vm-lab.md): one QEMU guest for the whole file, so no parallelism and
// long timeouts (TCG is slow). Run: npx vitest run --config test/vm/vitest.vm.config.ts
export default defineConfig({
  root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'),
  test: {
    include: ['test/vm/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 360_000,
    hookTimeout: 900_000,
  },
});
