import type { KeyObject } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { AppError, formatError, isAppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { Db } from '../store/db.js';
import { createAuditRepo, type AuditQuery, type AuditRow, type CheckpointRow } from '../store/audit-repo.js';
import { canonicalJson } from './canonical-json.js';
import { signCheckpoint } from './chain.js';
import type { AuditSigningKey } from './signing-key.js';
import { verifyAuditTrail, type VerifyResult } from './verify.js';

export type { VerifyResult } from './verify.js';

/** What callers append. `actor` is a user id, 'system' or 'agent:<agent_id>'. */
export interface AuditInput {
  actor: string;
  /** Dotted lowercase verb, e.g. 'unlock.approve', 'auth.login', 'access.seat_events'. */
  action: string;
  targetType: string;
  targetId: string;
  caseId?: string | null;
  detail?: Record<string, unknown>;
}

/** A stored audit record as the API shows it (detail parsed back). */
export type AuditRecord = Omit<AuditRow, 'detail'> & { detail: Record<string, unknown> };

/** Which records a listing returns (the repo query without its paging fields). */
export type AuditFilter = Pick<AuditQuery, 'actor' | 'action' | 'targetType' | 'targetId' | 'caseId' | 'from' | 'to'>;

export interface AuditLog {
  /**
   * Appends one chained record and returns it. Call it INSIDE the transaction that writes the
   * state it describes (`store.transaction(() => { …; audit.append(…) })`): if either fails,
   * neither is committed. Throws AUDIT_ERR_INVALID / AUDIT_ERR_WRITE.
   */
  append(rec: AuditInput): AuditRecord;
  /** Walks the whole chain, the event seals and the checkpoints (see verify.ts). */
  verify(opts?: { trustedKeys?: readonly KeyObject[] }): VerifyResult;
  /**
   * One page of records in id order ('asc', default) or newest first ('desc'). Keyset cursors: the
   * next asc page starts after `nextAfterId`, the next desc page before `nextBeforeId` (null at the
   * end), so records appended meanwhile never shift or repeat a page in either direction.
   */
  list(
    filter?: AuditFilter,
    page?: { afterId?: number; beforeId?: number; order?: 'asc' | 'desc'; limit?: number },
  ): { records: AuditRecord[]; nextAfterId: number | null; nextBeforeId: number | null };
  /** Signs the current head unless it is already covered; null when nothing to sign or no key. */
  checkpoint(): CheckpointRow | null;
  /** Signs the head when `checkpointEvery` records have accumulated since the last checkpoint. */
  maybeCheckpoint(): CheckpointRow | null;
  /**
   * For a database that had events before the trail existed: seals every event row once, as
   * found. Does nothing when any seal exists (later unsealed rows are a verify failure instead).
   */
  sealPreexistingEvents(): AuditRecord | null;
}

export interface AuditLogDeps {
  clock: Clock;
  log: Logger;
  /** Signs checkpoints; without it no checkpoint is written (verify still checks the chain). */
  signingKey?: AuditSigningKey | null;
  /** Keys verify() trusts besides the signing key's own public key. */
  trustedKeys?: readonly KeyObject[];
  /** Records between automatic checkpoints. Default 1000. */
  checkpointEvery?: number;
}

export const DEFAULT_CHECKPOINT_EVERY = 1_000;

const NAME_RE = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$/;
const MAX_DETAIL_BYTES = 16 * 1024;
const MAX_DETAIL_STRING = 1_024;

const invalid = (what: string) => new AppError('AUDIT_ERR_INVALID', formatError('AUDIT_ERR_INVALID', what));

/** Strings in a detail come from browsers and seats: strip controls/bidi, cap, keep structure. */
function cleanDetail(v: unknown, depth: number): unknown {
  if (depth > 8) throw invalid('detail nested too deeply');
  if (typeof v === 'string') return sanitizeText(v, MAX_DETAIL_STRING);
  if (Array.isArray(v)) return v.map((x: unknown) => cleanDetail(x, depth + 1));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[sanitizeText(k, 64)] = cleanDetail(x, depth + 1);
    return out;
  }
  return v;
}

function toRecord(r: AuditRow): AuditRecord {
  // Our own canonical JSON, checked by json_valid on insert.
  const detail = JSON.parse(r.detail) as Record<string, unknown>;
  return { ...r, detail };
}

/** The tamper-evident audit trail over the collector database (tables from migration 003). */
export function createAuditLog(db: Db, deps: AuditLogDeps): AuditLog {
  const repo = createAuditRepo(db);
  const log = deps.log.child({ component: 'audit' });
  const every = deps.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  if (!Number.isInteger(every) || every < 1) throw invalid('checkpointEvery must be a positive integer');
  const key = deps.signingKey ?? null;
  const trusted = [...(key ? [key.publicKey] : []), ...(deps.trustedKeys ?? [])];
  const iso = () => new Date(deps.clock.now()).toISOString();

  function writeCheckpoint(head: { id: number; hash: string }): CheckpointRow | null {
    if (!key) return null;
    const claim = { last_audit_id: head.id, last_hash: head.hash, ts: iso() };
    const row = { ...claim, public_key: key.publicKeyB64, signature: signCheckpoint(key.privateKey, claim) };
    const id = repo.insertCheckpoint(row);
    log.info({ audit_id: head.id, checkpoint_id: id }, 'audit checkpoint signed');
    return { id, ...row };
  }

  function checkpoint(force: boolean): CheckpointRow | null {
    const run = (): CheckpointRow | null => {
      const head = repo.head();
      if (!head) return null;
      const covered = repo.lastCheckpoint()?.last_audit_id ?? 0;
      if (head.id <= covered || (!force && head.id - covered < every)) return null;
      return writeCheckpoint(head);
    };
    return db.inTransaction ? run() : db.transaction(run).immediate();
  }

  return {
    append(rec) {
      if (!NAME_RE.test(rec.action) || rec.action.length > 64) throw invalid(`action ${JSON.stringify(rec.action.slice(0, 64))}`);
      if (!NAME_RE.test(rec.targetType) || rec.targetType.length > 64) throw invalid(`target type ${JSON.stringify(rec.targetType.slice(0, 64))}`);
      const actor = sanitizeText(rec.actor, 128);
      if (actor.length === 0) throw invalid('empty actor');
      const detail = canonicalJson(cleanDetail(rec.detail ?? {}, 0));
      if (Buffer.byteLength(detail, 'utf8') > MAX_DETAIL_BYTES) throw invalid(`detail larger than ${MAX_DETAIL_BYTES} bytes`);
      const caseId = rec.caseId == null ? null : sanitizeText(rec.caseId, 128);
      try {
        const row = repo.append({
          ts: iso(),
          actor,
          action: rec.action,
          target_type: rec.targetType,
          target_id: sanitizeText(rec.targetId, 256),
          case_id: caseId,
          detail,
        });
        checkpoint(false);
        return toRecord(row);
      } catch (cause) {
        if (isAppError(cause)) throw cause;
        throw new AppError('AUDIT_ERR_WRITE', formatError('AUDIT_ERR_WRITE', rec.action), { cause });
      }
    },

    verify(opts = {}) {
      const keys = [...trusted, ...(opts.trustedKeys ?? [])];
      // One read transaction: a consistent snapshot even while the collector keeps appending.
      const run = () => verifyAuditTrail(repo, keys);
      return db.inTransaction ? run() : db.transaction(run).deferred();
    },

    list(filter = {}, page = {}) {
      const limit = Math.min(Math.max(page.limit ?? 100, 1), 1_000);
      const order = page.order ?? 'asc';
      const rows = repo.list({ ...filter, afterId: page.afterId ?? 0, ...(page.beforeId === undefined ? {} : { beforeId: page.beforeId }), order, limit });
      const last = rows.at(-1);
      const more = rows.length === limit && last !== undefined;
      return {
        records: rows.map(toRecord),
        nextAfterId: more && order === 'asc' ? last.id : null,
        nextBeforeId: more && order === 'desc' ? last.id : null,
      };
    },

    checkpoint: () => checkpoint(true),
    maybeCheckpoint: () => checkpoint(false),

    sealPreexistingEvents() {
      const run = (): AuditRecord | null => {
        if (repo.lastSealedEventId() > 0) return null;
        const max = repo.eventsMaxId();
        if (max === 0) return null;
        const row = repo.sealEvents(1, max, iso());
        log.warn({ last_event_id: max }, 'sealed events stored before the audit trail existed');
        return toRecord(row);
      };
      return db.inTransaction ? run() : db.transaction(run).immediate();
    },
  };
}
