import { createLogger, type Logger } from '../../../shared/logger.js';

/** A real pino logger writing parsed JSON lines into an array, for assertions on what was logged. */
export function captureLogger(): { log: Logger; lines: Array<Record<string, unknown>>; raw: () => string } {
  const lines: Array<Record<string, unknown>> = [];
  const chunks: string[] = [];
  const log = createLogger({
    level: 'debug',
    destination: {
      write(chunk: string) {
        chunks.push(chunk);
        for (const l of chunk.split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      },
    },
  });
  return { log, lines, raw: () => chunks.join('') };
}
