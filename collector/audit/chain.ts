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

export function createEventDigest(): EventDigest {
  const h = createHash('sha256');
  let count = 0;
  return {
    add(r) {
      const line = canonicalJson({ id: r.id, agent_id: r.agent_id, seq: r.seq, type: r.type, ts: r.ts, received_at: r.received_at, body: r.body });
      h.update(line + '\n', 'utf8');
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
