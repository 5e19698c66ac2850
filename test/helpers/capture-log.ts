import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../shared/logger.js';

/** A real pino logger whose JSON lines land in `lines` (for asserting on warnings and errors). */
export function captureLog(level: 'debug' | 'info' = 'debug'): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ level, destination: dest }), lines };
}
