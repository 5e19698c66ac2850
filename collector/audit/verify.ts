import type { KeyObject } from 'node:crypto';
import type { AuditRepo, AuditRow, CheckpointRow } from '../store/audit-repo.js';
import { EVENTS_SEALED_ACTION } from '../store/audit-repo.js';
import { createEventDigest, GENESIS_HASH, recordHash, verifyCheckpoint } from './chain.js';
import { publicKeyB64 } from './signing-key.js';

/** Which table the first broken row is in (`firstBrokenId` is an id of that table). */
export type BrokenTable = 'audit_log' | 'audit_checkpoints' | 'events';

export type VerifyResult =
  | {
      ok: true;
      /** Audit records walked. */
      records: number;
      /** Checkpoints whose signature and chain position were verified. */
      checkpoints: number;
      /** Event rows covered by seals and re-hashed. */
      events: number;
      headId: number;
      headHash: string;
      /** Records after the last checkpoint: chained, but not yet covered by a signature. */
      unsignedTail: number;
    }
  | { ok: false; firstBrokenId: number; table: BrokenTable; reason: string; checkpointId?: number };

const PAGE = 2_000;

interface SealDetail {
  first_id: number;
  last_id: number;
  count: number;
  digest: string;
}

function parseSeal(detail: string): SealDetail | null {
  let v: unknown;
  try {
    v = JSON.parse(detail);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const ints = [o.first_id, o.last_id, o.count].every((x) => Number.isSafeInteger(x));
  if (!ints || typeof o.digest !== 'string') return null;
  return { first_id: o.first_id as number, last_id: o.last_id as number, count: o.count as number, digest: o.digest };
}

/**
 * Walks the whole trail: record ids consecutive from 1, each prev_hash equal to the previous
 * hash, each hash recomputed from the stored fields, every event row covered by exactly one seal
 * whose digest matches the stored rows, and every checkpoint signed by a trusted key and equal to
 * the chain at its position. Stops at the first problem. Run it inside a read transaction.
 */
export function verifyAuditTrail(repo: AuditRepo, trustedKeys: readonly KeyObject[]): VerifyResult {
  const trusted = new Map(trustedKeys.map((k) => [publicKeyB64(k), k]));
  const checkpoints = repo.checkpoints();
  const byAuditId = new Map<number, CheckpointRow[]>();
  let prevCp: CheckpointRow | undefined;
  for (const [i, cp] of checkpoints.entries()) {
    if (cp.id !== i + 1) return { ok: false, table: 'audit_checkpoints', firstBrokenId: i + 1, reason: `checkpoint ${i + 1} is missing` };
    const key = trusted.get(cp.public_key);
    if (!key) {
      const reason = trusted.size === 0 ? 'no trusted public key to check checkpoint signatures' : 'signed by a key that is not trusted';
      return { ok: false, table: 'audit_checkpoints', firstBrokenId: cp.id, checkpointId: cp.id, reason: `checkpoint ${cp.id}: ${reason}` };
    }
    if (!verifyCheckpoint(key, cp, cp.signature)) {
      return { ok: false, table: 'audit_checkpoints', firstBrokenId: cp.id, checkpointId: cp.id, reason: `checkpoint ${cp.id}: signature does not verify` };
    }
    if (prevCp && cp.last_audit_id < prevCp.last_audit_id) {
      return { ok: false, table: 'audit_checkpoints', firstBrokenId: cp.id, checkpointId: cp.id, reason: `checkpoint ${cp.id} goes back in the chain` };
    }
    const list = byAuditId.get(cp.last_audit_id);
    if (list) list.push(cp);
    else byAuditId.set(cp.last_audit_id, [cp]);
    prevCp = cp;
  }

  let prevHash = GENESIS_HASH;
  let expectedId = 1;
  let provenUpTo = 0;
  let nextEventId = 1;
  let eventsChecked = 0;
  let verifiedCps = 0;

  const checkSeal = (row: AuditRow): VerifyResult | null => {
    const seal = parseSeal(row.detail);
    if (!seal) return { ok: false, table: 'audit_log', firstBrokenId: row.id, reason: `record ${row.id}: malformed events seal` };
    if (seal.first_id !== nextEventId || seal.last_id < seal.first_id) {
      return {
        ok: false,
        table: 'events',
        firstBrokenId: Math.min(nextEventId, seal.first_id),
        reason: `record ${row.id} seals events ${seal.first_id}..${seal.last_id} but the next unsealed event is ${nextEventId}`,
      };
    }
    const d = createEventDigest();
    for (let from = seal.first_id; from <= seal.last_id; ) {
      const rows = repo.eventsPage(from, seal.last_id, PAGE);
      if (rows.length === 0) break;
      for (const r of rows) d.add(r);
      from = rows[rows.length - 1]!.id + 1;
    }
    if (d.count !== seal.count || d.digest() !== seal.digest) {
      return {
        ok: false,
        table: 'events',
        firstBrokenId: seal.first_id,
        reason: `events ${seal.first_id}..${seal.last_id} do not match the digest sealed in audit record ${row.id}`,
      };
    }
    eventsChecked += d.count;
    nextEventId = seal.last_id + 1;
    return null;
  };

  for (;;) {
    const rows = repo.page(expectedId - 1, PAGE);
    if (rows.length === 0) break;
    for (const row of rows) {
      if (row.id !== expectedId) {
        return { ok: false, table: 'audit_log', firstBrokenId: expectedId, reason: `record ${expectedId} is missing` };
      }
      if (row.prev_hash !== prevHash) {
        return { ok: false, table: 'audit_log', firstBrokenId: row.id, reason: `record ${row.id} does not chain to record ${row.id - 1}` };
      }
      if (recordHash(prevHash, row) !== row.hash) {
        return { ok: false, table: 'audit_log', firstBrokenId: row.id, reason: `record ${row.id} does not match its hash (content changed)` };
      }
      if (row.action === EVENTS_SEALED_ACTION && row.target_type === 'events') {
        const bad = checkSeal(row);
        if (bad) return bad;
      }
      for (const cp of byAuditId.get(row.id) ?? []) {
        if (cp.last_hash !== row.hash) {
          return {
            ok: false,
            table: 'audit_log',
            firstBrokenId: provenUpTo + 1,
            checkpointId: cp.id,
            reason: `signed checkpoint ${cp.id} does not match the chain at record ${row.id}: records after ${provenUpTo} were rewritten`,
          };
        }
        verifiedCps++;
        provenUpTo = row.id;
      }
      prevHash = row.hash;
      expectedId++;
    }
  }

  const headId = expectedId - 1;
  const beyond = checkpoints.find((cp) => cp.last_audit_id > headId);
  if (beyond) {
    return {
      ok: false,
      table: 'audit_log',
      firstBrokenId: headId + 1,
      checkpointId: beyond.id,
      reason: `records ${headId + 1}..${beyond.last_audit_id} covered by checkpoint ${beyond.id} are missing`,
    };
  }
  const maxEvent = repo.eventsMaxId();
  if (maxEvent >= nextEventId) {
    return { ok: false, table: 'events', firstBrokenId: nextEventId, reason: `events ${nextEventId}..${maxEvent} are not sealed in the audit trail` };
  }
  return {
    ok: true,
    records: headId,
    checkpoints: verifiedCps,
    events: eventsChecked,
    headId,
    headHash: prevHash,
    unsignedTail: headId - provenUpTo,
  };
}
