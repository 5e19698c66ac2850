import { PassThrough } from 'node:stream';
import type { AdminCliIo } from '../../scripts/commands/admin-api.js';

/** An admin CLI's io captured in memory: `stdin` feeds the password prompt, `env` its environment. */
export function adminCliIo(opts: { env?: Record<string, string>; stdin?: string } = {}): { value: AdminCliIo; out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  let stdin: PassThrough | undefined;
  if (opts.stdin !== undefined) {
    stdin = new PassThrough();
    stdin.end(opts.stdin);
  }
  const value: AdminCliIo = {
    out: { write: (c: string) => out.push(c) },
    err: { write: (c: string) => err.push(c) },
    env: opts.env ?? {},
    ...(stdin ? { stdin } : {}),
  };
  return { value, out: () => out.join(''), err: () => err.join('') };
}
