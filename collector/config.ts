import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError } from '../shared/errors.js';

/**
 * Collector settings. Every option has a documented default; tests shrink the intervals.
 * SECURITY: the default `host` is loopback; listening on other interfaces is an explicit choice.
 */
export const CollectorConfigSchema = Type.Object(
  {
    /** Directory for collector.db and the api-token file (created 0700). Required. */
    dataDir: Type.String({ minLength: 1, maxLength: 4096 }),
    /** Listen address. Default 127.0.0.1. */
    host: Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9.:\\[\\]_-]+$' }),
    /** Listen port; 0 picks a free port. Default 0. */
    port: Type.Integer({ minimum: 0, maximum: 65_535 }),
    /** Interval agents are told to send heartbeats at (welcome). Default 30 000 ms. */
    heartbeatIntervalMs: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
    /** WebSocket ping interval; a socket that missed one pong is terminated. Default 30 000 ms. */
    pingIntervalMs: Type.Integer({ minimum: 10, maximum: 3_600_000 }),
    /** Longest an event waits for its group commit. Default 5 ms. */
    commitIntervalMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
    /** Items per commit transaction; reaching it commits at once. Default 500. */
    maxBatch: Type.Integer({ minimum: 1, maximum: 10_000 }),
    /** Items waiting for commit before agents are told to slow down. Default 20 000. */
    maxPending: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    /** Lifetime of an upgrade challenge nonce. Default 30 000 ms. */
    challengeTtlMs: Type.Integer({ minimum: 1_000, maximum: 600_000 }),
    /** Time an authenticated socket has to send `hello`. Default 10 000 ms. */
    helloTimeoutMs: Type.Integer({ minimum: 10, maximum: 600_000 }),
    /** Protocol errors tolerated on one connection before it is closed (4400). Default 50. */
    maxProtocolErrors: Type.Integer({ minimum: 1, maximum: 100_000 }),
  },
  { additionalProperties: false },
);

export type CollectorConfig = Static<typeof CollectorConfigSchema>;

export const COLLECTOR_DEFAULTS: Omit<CollectorConfig, 'dataDir'> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  heartbeatIntervalMs: 30_000,
  pingIntervalMs: 30_000,
  commitIntervalMs: 5,
  maxBatch: 500,
  maxPending: 20_000,
  challengeTtlMs: 30_000,
  helloTimeoutMs: 10_000,
  maxProtocolErrors: 50,
});

const check = Compile(CollectorConfigSchema);

/**
 * Applies defaults (undefined means default), validates once and returns a frozen config.
 * Throws CONFIG_ERR_INVALID listing every problem.
 */
export function loadCollectorConfig(input: Partial<Record<keyof CollectorConfig, unknown>>): Readonly<CollectorConfig> {
  const merged: Record<string, unknown> = { ...COLLECTOR_DEFAULTS };
  for (const [k, v] of Object.entries(input)) if (v !== undefined) merged[k] = v;
  if (!check.Check(merged)) {
    const problems = check.Errors(merged).map((e) => `${e.instancePath || '/'} ${e.message}`);
    throw new AppError('CONFIG_ERR_INVALID', `Invalid configuration: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return Object.freeze(merged as CollectorConfig);
}
