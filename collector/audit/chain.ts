import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import type { EventRow } from '../store/events-repo.js';
import { canonicalJson } from './canonical-json.js';

/** prev_hash of the first audit record: a fixed value, so the chain has one possible start. */
export const GENESIS_HASH = '0'.repeat(64);

/** The stored fields of an audit record that its hash covers (everything but the hashes). */
export interface ChainedFields {
  id: number;
  ts: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  case_id: string | null;
  /** The stored detail text (canonical JSON); hashed as text so any changed byte shows. */
  detail: string;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** hash = sha256(prev_hash || canonical JSON of the record fields), lowercase hex. */
export function recordHash(prevHash: string, f: ChainedFields): string {
  // Fields are picked by name: an extra property on `f` can never slip into (or out of) the hash.
  const fields = {
    id: f.id,
    ts: f.ts,
    actor: f.actor,
    action: f.action,
    target_type: f.target_type,
    target_id: f.target_id,
    case_id: f.case_id,
    detail: f.detail,
  };
  return sha256Hex(prevHash + canonicalJson(fields));
}

/** An `events` row as the digest sees it: every stored column. */
export type DigestEventRow = EventRow;

/** Incremental sha256 over event rows in id order (one canonical JSON line per row). */
export interface EventDigest {
  add(row: DigestEventRow): void;
  readonly count: number;
  /** Hex digest; call once, after the last add. */
  digest(): string;
}

const J = JSON.stringify;

/**
 * canonicalJson of the row's seven columns, written out with the keys already in their sorted
 * order: the digest runs for every stored event on the ingest path, and the generic writer's key
 * sort and recursion were most of its cost. Must equal canonicalJson for every row (unit-tested);
 * a column outside string/integer/null (never stored) falls back to the generic writer.
 */
export function eventLine(r: DigestEventRow): string {
  const plain = (v: unknown) => v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
  if (!(plain(r.id) && plain(r.agent_id) && plain(r.seq) && plain(r.type) && plain(r.ts) && plain(r.received_at) && plain(r.body))) {
    return canonicalJson({ id: r.id, agent_id: r.agent_id, seq: r.seq, type: r.type, ts: r.ts, received_at: r.received_at, body: r.body });
  }
  return `{"agent_id":${J(r.agent_id)},"body":${J(r.body)},"id":${J(r.id)},"received_at":${J(r.received_at)},"seq":${J(r.seq)},"ts":${J(r.ts)},"type":${J(r.type)}}`;
}

export function createEventDigest(): EventDigest {
  const h = createHash('sha256');
  let count = 0;
  return {
    add(r) {
      h.update(eventLine(r) + '\n', 'utf8');
      count++;
    },
    get count() {
      return count;
    },
    digest: () => h.digest('hex'),
  };
}

/** What a checkpoint signs: the chain head at `last_audit_id` and when it was taken. */
export interface CheckpointClaim {
  last_audit_id: number;
  last_hash: string;
  ts: string;
}

const CHECKPOINT_DOMAIN = 'seatguard-audit-checkpoint-v1\n';

function claimBytes(c: CheckpointClaim): Buffer {
  return Buffer.from(CHECKPOINT_DOMAIN + canonicalJson({ last_audit_id: c.last_audit_id, last_hash: c.last_hash, ts: c.ts }), 'utf8');
}

/** Ed25519 signature (base64) over a checkpoint claim. */
export function signCheckpoint(privateKey: KeyObject, c: CheckpointClaim): string {
  return sign(null, claimBytes(c), privateKey).toString('base64');
}

/** True when `signatureB64` is a valid Ed25519 signature of the claim by `publicKey`. */
export function verifyCheckpoint(publicKey: KeyObject, c: CheckpointClaim, signatureB64: string): boolean {
  try {
    return verify(null, claimBytes(c), publicKey, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}
