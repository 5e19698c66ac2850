import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

export type { Logger };

/** Log field keys used in more than one place: one name per concept everywhere. */
export const LOG_KEYS = {
  agentId: 'agent_id',
  deviceKey: 'device_key',
  port: 'port',
  msgType: 'msg_type',
  seq: 'seq',
  unlockId: 'unlock_id',
  component: 'component',
} as const;

/** Secrets are removed at the logger, whatever a caller passes. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.token',
  '*.password',
  '*.secret',
  '*.private_key',
  '*.signature',
  'token',
  'password',
  'secret',
  'private_key',
];

export interface LoggerOptions {
  level?: LevelWithSilent;
  name?: string;
  destination?: DestinationStream;
}

/** The one root logger of a process; modules derive `log.child({ component })`. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      ...(opts.name ? { name: opts.name } : {}),
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    opts.destination,
  );
}

/** A logger that writes nothing: the default in tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
