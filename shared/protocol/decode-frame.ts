import { formatError } from '../errors.js';
import type { ProtocolErrorCode } from './codes.js';
import { PROTOCOL_VERSION } from './version.js';

export type Decoded<T> =
  | { ok: true; msg: T }
  | { ok: false; code: ProtocolErrorCode; detail: string; ref_id?: string };

/** Checks a parsed envelope of a known type; returns null when valid, else a short reason. */
export type EnvelopeCheck = (value: unknown) => string | null;

function byteLength(raw: string | Uint8Array): number {
  return typeof raw === 'string' ? Buffer.byteLength(raw, 'utf8') : raw.byteLength;
}

function safeRef(v: unknown): string | undefined {
  return typeof v === 'string' && v.length <= 64 && /^[A-Za-z0-9_.:-]+$/.test(v) ? v : undefined;
}

export function fail(code: ProtocolErrorCode, detail: string, ref?: string): Decoded<never> {
  return ref === undefined ? { ok: false, code, detail } : { ok: false, code, detail, ref_id: ref };
}

/**
 * The envelope steps both ends share: size cap, JSON, object, version, known type, then the type's
 * own check. Which checker runs is the caller's: TypeBox on the collector (decode.ts), the
 * generated checks on the agent (agent-decode.ts).
 */
export function decodeFrame<T>(
  raw: string | Uint8Array,
  checks: ReadonlyMap<string, EnvelopeCheck>,
  maxBytes: number,
  ignoreUnknown: boolean,
): Decoded<T> | { ok: 'ignored'; type: string } {
  if (byteLength(raw) > maxBytes) return fail('PROTO_ERR_TOO_LARGE', formatError('PROTO_ERR_TOO_LARGE', maxBytes));
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
  } catch {
    return fail('PROTO_ERR_INVALID_JSON', formatError('PROTO_ERR_INVALID_JSON'));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('PROTO_ERR_NOT_OBJECT', formatError('PROTO_ERR_NOT_OBJECT'));
  }
  const env = value as Record<string, unknown>;
  const ref = safeRef(env.id);
  if (env.v !== PROTOCOL_VERSION) {
    return fail('PROTO_ERR_VERSION', formatError('PROTO_ERR_VERSION', JSON.stringify(env.v ?? null).slice(0, 16)), ref);
  }
  const type = typeof env.type === 'string' ? env.type : '';
  const check = checks.get(type);
  if (!check) {
    if (ignoreUnknown && type.length > 0 && type.length <= 64) return { ok: 'ignored', type };
    return fail('PROTO_ERR_UNKNOWN_TYPE', formatError('PROTO_ERR_UNKNOWN_TYPE', JSON.stringify(type.slice(0, 64))), ref);
  }
  const problem = check(value);
  if (problem !== null) return fail('PROTO_ERR_INVALID_MESSAGE', formatError('PROTO_ERR_INVALID_MESSAGE', type, problem.slice(0, 200)), ref);
  return { ok: true, msg: value as T };
}
