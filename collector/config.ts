import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError } from '../shared/errors.js';
import { ChannelConfigSchema, EmailOptionsSchema, SyslogOptionsSchema, WebhookOptionsSchema } from './alerts/channels/config.js';

const Ms = (min: number, max: number) => Type.Integer({ minimum: min, maximum: max });

/**
 * `alerts` section (docs/alerts.md, docs/alert-channels.md). Channel entries hold secrets
 * (webhook secret, SMTP password): validation errors name paths only, and nothing logs them.
 */
export const AlertsConfigSchema = Type.Object(
  {
    /** Delivery channels (webhook, syslog, e-mail). Default none: alerts are only stored and shown. */
    channels: Type.Optional(Type.Array(ChannelConfigSchema, { maxItems: 32 })),
    /** Alert engine tunables; missing keys take the engine's defaults (checked again by the engine). */
    engine: Type.Optional(
      Type.Object(
        {
          dedupWindowMs: Type.Optional(Ms(1, 7 * 86_400_000)),
          escalationAfterMs: Type.Optional(Ms(1, 7 * 86_400_000)),
          escalationChain: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$' }), { minItems: 1, maxItems: 10 })),
          heartbeatMissAfterMs: Type.Optional(Ms(1, 7 * 86_400_000)),
          shiftLengthMs: Type.Optional(Ms(1, 7 * 86_400_000)),
          reportTimeZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          consoleUrl: Type.Optional(Type.Union([Type.String({ minLength: 8, maxLength: 2048, pattern: '^https?://' }), Type.Null()])),
          catchUpBatch: Type.Optional(Ms(1, 100_000)),
        },
        { additionalProperties: false },
      ),
    ),
    /** Delivery queue and retry tunables (defaults in collector/alerts/channels/dispatcher.ts). */
    dispatcher: Type.Optional(
      Type.Object(
        {
          maxQueue: Type.Optional(Ms(1, 1_000_000)),
          sendTimeoutMs: Type.Optional(Ms(100, 600_000)),
          retry: Type.Optional(
            Type.Object(
              { baseMs: Type.Optional(Ms(1, 3_600_000)), maxMs: Type.Optional(Ms(1, 86_400_000)), maxAttempts: Type.Optional(Ms(0, 1_000)) },
              { additionalProperties: false },
            ),
          ),
          /** How long stop() keeps delivering queued alerts. Default 5000 ms. */
          stopDeadlineMs: Type.Optional(Ms(0, 120_000)),
        },
        { additionalProperties: false },
      ),
    ),
    /** Interval of the engine's tick (catch-up, escalation, missed heartbeats). Default 15 000 ms. */
    tickIntervalMs: Type.Optional(Ms(10, 3_600_000)),
  },
  { additionalProperties: false },
);
export type AlertsConfig = Static<typeof AlertsConfigSchema>;

export const TlsConfigSchema = Type.Object(
  {
    certFile: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    keyFile: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    caFile: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    names: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 64 })),
  },
  { additionalProperties: false },
);
export type TlsConfig = Static<typeof TlsConfigSchema>;

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
    /** Agent sockets (authenticated or not yet) beyond which upgrades get 503 before any work. Default 20 000. */
    maxConnections: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    /** Frames per agent per second (token bucket, burst = one second's worth); beyond: slow_down + close 4429. Default 5 000. */
    maxMessagesPerSecond: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    /** Bytes queued for sending to one agent (acks it does not read) beyond which it is told to slow down. Default 8 MiB. */
    maxBufferedBytes: Type.Integer({ minimum: 1_024, maximum: 1_073_741_824 }),
    /** Alert channels and engine tunables. Default: no channels, engine defaults. */
    alerts: Type.Optional(AlertsConfigSchema),
    /**
     * Plain http/ws instead of HTTPS/WSS. Default false. SECURITY: agent traffic, enrollment tokens
     * and console sessions then cross the network unencrypted and unauthenticated; development only.
     */
    insecureDev: Type.Boolean(),
    /**
     * TLS material (docs/security-model.md § Transport). Default: a CA and server certificate
     * generated under DATA/tls/. certFile + keyFile use a configured certificate instead; caFile is
     * the CA agents pin (default the top of certFile's chain); names are extra DNS names or IP
     * addresses for the generated certificate.
     */
    tls: Type.Optional(TlsConfigSchema),
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
  maxConnections: 20_000,
  maxMessagesPerSecond: 5_000,
  maxBufferedBytes: 8 * 1024 * 1024,
  insecureDev: false,
});

const check = Compile(CollectorConfigSchema);
const checkAlerts = Compile(AlertsConfigSchema);
// Per section and per channel kind: a union reports every branch's complaint and the checker
// stops early, so the alerts section is checked piece by piece to list every real problem.
const alertSections = Object.fromEntries(Object.entries(AlertsConfigSchema.properties).map(([k, schema]) => [k, Compile(schema)]));
const channelKinds: Record<string, ReturnType<typeof Compile>> = {
  webhook: Compile(Type.Object({ kind: Type.Literal('webhook'), ...WebhookOptionsSchema.properties }, { additionalProperties: false })),
  syslog: Compile(Type.Object({ kind: Type.Literal('syslog'), ...SyslogOptionsSchema.properties }, { additionalProperties: false })),
  email: Compile(Type.Object({ kind: Type.Literal('email'), ...EmailOptionsSchema.properties }, { additionalProperties: false })),
};

/** Every problem of an `alerts` section, by path (`prefix` + JSON pointer), never by value. */
function alertsProblems(v: unknown, prefix: string): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${prefix} must be an object`];
  const out: string[] = [];
  const say = (path: string, errors: Iterable<{ instancePath: string; message: string; keyword: string }>) => {
    for (const e of errors) if (e.keyword !== 'boolean') out.push(`${path}${e.instancePath} ${e.message}`);
  };
  for (const [k, value] of Object.entries(v)) {
    const section = alertSections[k];
    if (!section) {
      out.push(`${prefix} has an unknown key (${k.slice(0, 40)})`);
      continue;
    }
    if (k === 'channels' && Array.isArray(value)) {
      if (value.length > 32) out.push(`${prefix}/channels must not have more than 32 items`);
      value.forEach((c: unknown, i) => {
        const kind = typeof c === 'object' && c !== null ? (c as { kind?: unknown }).kind : undefined;
        const checker = typeof kind === 'string' ? channelKinds[kind] : undefined;
        if (!checker) out.push(`${prefix}/channels/${i}/kind must be webhook, syslog or email`);
        else if (!checker.Check(c)) say(`${prefix}/channels/${i}`, checker.Errors(c));
      });
    } else if (!section.Check(value)) {
      say(`${prefix}/${k}`, section.Errors(value));
    }
  }
  return out;
}

/**
 * Parses the text of an `--alerts-config` JSON file into the `alerts` section. Throws
 * CONFIG_ERR_INVALID naming paths only: the file holds secrets, so no value (and no JSON parser
 * message, which quotes the text) ever reaches an error or a log.
 */
export function parseAlertsConfig(text: string): AlertsConfig {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new AppError('CONFIG_ERR_INVALID', 'Invalid configuration: alerts config is not valid JSON', { details: { problems: ['/ not valid JSON'] } });
  }
  if (checkAlerts.Check(v)) return v;
  const problems = alertsProblems(v, 'alerts');
  if (problems.length === 0) problems.push('alerts is invalid');
  throw new AppError('CONFIG_ERR_INVALID', `Invalid configuration: ${problems.join('; ')}`, { details: { problems } });
}

// Nested sections (alerts.channels) must not change after validation either.
function deepFreeze<T>(v: T): Readonly<T> {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

/**
 * Applies defaults (undefined means default), validates once and returns a frozen config.
 * Throws CONFIG_ERR_INVALID listing every problem.
 */
export function loadCollectorConfig(input: Partial<Record<keyof CollectorConfig, unknown>>): Readonly<CollectorConfig> {
  const merged: Record<string, unknown> = { ...COLLECTOR_DEFAULTS };
  for (const [k, v] of Object.entries(input)) if (v !== undefined) merged[k] = v;
  // A private copy: freezing must not reach into the caller's objects.
  if (typeof merged.alerts === 'object' && merged.alerts !== null) merged.alerts = structuredClone(merged.alerts);
  if (typeof merged.tls === 'object' && merged.tls !== null) merged.tls = structuredClone(merged.tls);
  if (!check.Check(merged)) {
    const problems = check.Errors(merged)
      .filter((e) => e.instancePath !== '/alerts' && !e.instancePath.startsWith('/alerts/'))
      .map((e) => `${e.instancePath || '/'} ${e.message}`);
    if (merged.alerts !== undefined) problems.push(...alertsProblems(merged.alerts, '/alerts'));
    if (problems.length === 0) problems.push('/ is invalid');
    throw new AppError('CONFIG_ERR_INVALID', `Invalid configuration: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return deepFreeze(merged as CollectorConfig);
}
