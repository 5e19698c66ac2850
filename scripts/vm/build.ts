import { execFile } from 'node:child_process';
import path from 'node:path';
import { AppError, formatError } from '../../shared/errors.js';
import { readGuestImage, type GuestImage } from './guest-vm.js';

/** Result of scripts/vm/build-guest.sh: the image plus how long the (possibly cached) build took. */
export interface BuiltGuest {
  image: GuestImage;
  manifestPath: string;
  buildMs: number;
}

/**
 * Runs scripts/vm/build-guest.sh (apt installs/downloads on first use, then cached in
 * .cache/vm). Throws VM_ERR_BUILD with the script's stderr on failure.
 */
export async function buildGuest(repoRoot: string, timeoutMs = 10 * 60_000): Promise<BuiltGuest> {
  const script = path.join(repoRoot, 'scripts', 'vm', 'build-guest.sh');
  const t0 = performance.now();
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile('bash', [script, '--quiet'], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, out, stderr) => {
      if (err) reject(new AppError('VM_ERR_BUILD', formatError('VM_ERR_BUILD', `${err.message}\n${stderr.slice(-3000)}`), { cause: err }));
      else resolve(out);
    });
  });
  const manifestPath = stdout.trim().split('\n').pop() ?? '';
  return { image: readGuestImage(manifestPath), manifestPath, buildMs: performance.now() - t0 };
}
