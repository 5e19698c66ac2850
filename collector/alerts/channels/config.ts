import { Type, type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError, formatError } from '../../../shared/errors.js';

/**
 * Option schemas of the channels, usable as-is inside the collector config schema. Validation
 * lists every problem by path only: values (secrets, passwords) never appear in the message.
 */

const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' });
const Severity = Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high'), Type.Literal('critical')]);
const Host = Type.String({ minLength: 1, maxLength: 253, pattern: '^[^\\s/@]+$' });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const Ms = (min: number, max: number) => Type.Integer({ minimum: min, maximum: max });
const HeaderValue = Type.String({ maxLength: 4096, pattern: '^[^\\r\\n\\u0000]*$' });

export const WebhookOptionsSchema = Type.Object(
  {
    name: Name,
    /** http: or https: URL; redirects are never followed. */
    url: Type.String({ minLength: 8, maxLength: 2048, pattern: '^https?://' }),
    /** HMAC key; at least 16 characters (use 32+ random bytes, hex or base64). */
    secret: Type.String({ minLength: 16, maxLength: 1024 }),
    /** Whole-request deadline (default 10000 ms). */
    timeoutMs: Type.Optional(Ms(100, 120_000)),
    /** Extra request headers, e.g. a bearer token the receiver wants. Never logged. */
    headers: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }), HeaderValue)),
    /** PEM CA bundle for a private PKI. */
    ca: Type.Optional(Type.String({ maxLength: 65_536 })),
    /** SECURITY: false disables TLS certificate checks (default true). */
    rejectUnauthorized: Type.Optional(Type.Boolean()),
    minSeverity: Type.Optional(Severity),
  },
  { additionalProperties: false },
);
export type WebhookOptions = Static<typeof WebhookOptionsSchema>;

export const SyslogOptionsSchema = Type.Object(
  {
    name: Name,
    host: Host,
    /** Default 514. */
    port: Type.Optional(Port),
    /** Default 'udp'. */
    transport: Type.Optional(Type.Union([Type.Literal('udp'), Type.Literal('tcp')])),
    /** Default 'rfc5424'. */
    format: Type.Optional(Type.Union([Type.Literal('rfc5424'), Type.Literal('cef')])),
    /** Syslog facility 0–23 (default 20 = local4). */
    facility: Type.Optional(Type.Integer({ minimum: 0, maximum: 23 })),
    /** HOSTNAME field (default: this machine's host name). */
    hostname: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' })),
    /** APP-NAME field (default 'seatguard'). */
    appName: Type.Optional(Type.String({ minLength: 1, maxLength: 48, pattern: '^[\\x21-\\x7e]+$' })),
    /** PROCID field (default: the collector's pid). */
    procId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' })),
    /** Private Enterprise Number in SD-IDs (default 32473, the RFC 5612 documentation number). */
    enterpriseId: Type.Optional(Type.Integer({ minimum: 1, maximum: 4_294_967_295 })),
    /** Largest message in bytes, framing excluded (default 2048 for UDP, 8192 for TCP; min 480). */
    maxMessageBytes: Type.Optional(Type.Integer({ minimum: 480, maximum: 65_000 })),
    /** TCP connect deadline (default 5000 ms). */
    connectTimeoutMs: Type.Optional(Ms(100, 120_000)),
    /** TCP write deadline; the connection is dropped when the receiver stops reading (default 10000 ms). */
    writeTimeoutMs: Type.Optional(Ms(100, 120_000)),
    /** CEF Device Version (default 'unknown'). */
    productVersion: Type.Optional(Type.String({ minLength: 1, maxLength: 31 })),
    minSeverity: Type.Optional(Severity),
  },
  { additionalProperties: false },
);
export type SyslogOptions = Static<typeof SyslogOptionsSchema>;

const Address = Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s<>,;"]+@[^\\s<>,;"]+$' });

export const EmailOptionsSchema = Type.Object(
  {
    name: Name,
    host: Host,
    /** Default 587. */
    port: Type.Optional(Port),
    /** Implicit TLS (default true on port 465, else false). */
    secure: Type.Optional(Type.Boolean()),
    /** SECURITY: refuse to send unless STARTTLS succeeds (default true). */
    requireTLS: Type.Optional(Type.Boolean()),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    from: Address,
    to: Type.Array(Address, { minItems: 1, maxItems: 50 }),
    /** Default '[seatguard]'. */
    subjectPrefix: Type.Optional(Type.String({ maxLength: 64, pattern: '^[^\\r\\n]*$' })),
    /** Default 10000 ms. */
    connectionTimeoutMs: Type.Optional(Ms(100, 120_000)),
    /** Default 30000 ms. */
    socketTimeoutMs: Type.Optional(Ms(100, 600_000)),
    ca: Type.Optional(Type.String({ maxLength: 65_536 })),
    /** SECURITY: false disables TLS certificate checks (default true). */
    rejectUnauthorized: Type.Optional(Type.Boolean()),
    minSeverity: Type.Optional(Severity),
  },
  { additionalProperties: false },
);
export type EmailOptions = Static<typeof EmailOptionsSchema>;

/** One entry of the collector's `alerts.channels` config list. */
export const ChannelConfigSchema = Type.Union([
  Type.Object({ kind: Type.Literal('webhook'), ...WebhookOptionsSchema.properties }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('syslog'), ...SyslogOptionsSchema.properties }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('email'), ...EmailOptionsSchema.properties }, { additionalProperties: false }),
]);
export type ChannelConfig = Static<typeof ChannelConfigSchema>;

const compiled = new WeakMap<TSchema, ReturnType<typeof Compile>>();

/** Checks `value` against `schema`; throws ALERT_ERR_CHANNEL_CONFIG listing every failing path. */
export function validateOptions<S extends TSchema>(schema: S, value: unknown, label: string): Static<S> {
  let check = compiled.get(schema);
  if (!check) {
    check = Compile(schema);
    compiled.set(schema, check);
  }
  if (check.Check(value)) return value as Static<S>;
  const problems = new Set<string>();
  for (const e of check.Errors(value)) {
    if (e.keyword === 'boolean' || e.keyword === 'const') continue; // echoes of the real error
    const extra = e.keyword === 'additionalProperties' ? ` (${JSON.stringify(e.params).slice(0, 120)})` : '';
    problems.add(`${label}${e.instancePath || ''} ${e.message}${extra}`);
  }
  throw new AppError('ALERT_ERR_CHANNEL_CONFIG', formatError('ALERT_ERR_CHANNEL_CONFIG', [...problems].join('; ')));
}
