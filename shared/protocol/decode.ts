import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { formatError } from '../errors.js';
import type { ProtocolErrorCode } from './codes.js';
import {
  AGENT_MESSAGES,
  COLLECTOR_MESSAGES,
  type AgentMessage,
  type CollectorMessage,
} from './messages.js';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION } from './version.js';

export type Decoded<T> =
  | { ok: true; msg: T }
  | { ok: false; code: ProtocolErrorCode; detail: string; ref_id?: string };

type Validator = ReturnType<typeof Compile>;

function compileAll(registry: Record<string, TSchema>): Map<string, Validator> {
  const out = new Map<string, Validator>();
  for (const [type, schema] of Object.entries(registry)) out.set(type, Compile(schema));
  return out;
}

// Compiled once at module load: decoding is on the ingest hot path.
const agentValidators = compileAll(AGENT_MESSAGES);
const collectorValidators = compileAll(COLLECTOR_MESSAGES);

function byteLength(raw: string | Uint8Array): number {
  return typeof raw === 'string' ? Buffer.byteLength(raw, 'utf8') : raw.byteLength;
}

function safeRef(v: unknown): string | undefined {
  return typeof v === 'string' && v.length <= 64 && /^[A-Za-z0-9_.:-]+$/.test(v) ? v : undefined;
}

function fail(code: ProtocolErrorCode, detail: string, ref?: string): Decoded<never> {
  return ref === undefined ? { ok: false, code, detail } : { ok: false, code, detail, ref_id: ref };
}

function decodeWith<T>(
  raw: string | Uint8Array,
  validators: Map<string, Validator>,
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
  const validator = validators.get(type);
  if (!validator) {
    if (ignoreUnknown && type.length > 0 && type.length <= 64) return { ok: 'ignored', type };
    return fail('PROTO_ERR_UNKNOWN_TYPE', formatError('PROTO_ERR_UNKNOWN_TYPE', JSON.stringify(type.slice(0, 64))), ref);
  }
  if (!validator.Check(value)) {
    const first = validator.Errors(value)[0];
    const where = first ? `${first.instancePath || '/'} ${first.message}` : 'invalid';
    return fail('PROTO_ERR_INVALID_MESSAGE', formatError('PROTO_ERR_INVALID_MESSAGE', type, where.slice(0, 200)), ref);
  }
  return { ok: true, msg: value as T };
}

/**
 * Validates one frame received by the collector. Unknown types are refused
 * (PROTO_ERR_UNKNOWN_TYPE): agent messages are security events and silence is worse than an error.
 */
export function decodeAgentMessage(raw: string | Uint8Array, maxBytes = MAX_FRAME_BYTES): Decoded<AgentMessage> {
  const r = decodeWith<AgentMessage>(raw, agentValidators, maxBytes, false);
  return r.ok === 'ignored' ? fail('PROTO_ERR_UNKNOWN_TYPE', r.type) : r;
}

/**
 * Validates one frame received by the agent. Unknown types from a newer collector are reported as
 * `ignored` so new command types can be added without breaking older agents.
 */
export function decodeCollectorMessage(
  raw: string | Uint8Array,
  maxBytes = MAX_FRAME_BYTES * 4,
): Decoded<CollectorMessage> | { ok: 'ignored'; type: string } {
  return decodeWith<CollectorMessage>(raw, collectorValidators, maxBytes, true);
}

/** Checks a message built in code against its schema before it is sent (tests and debug builds). */
export function validateOutgoing(msg: { type: string }): string | null {
  const v = agentValidators.get(msg.type) ?? collectorValidators.get(msg.type);
  if (!v) return `unknown type ${msg.type}`;
  if (v.Check(msg)) return null;
  const first = v.Errors(msg)[0];
  return first ? `${first.instancePath} ${first.message}` : 'invalid';
}
