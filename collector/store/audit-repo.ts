import Database from 'better-sqlite3';
import { canonicalJson } from '../audit/canonical-json.js';
import { createEventDigest, GENESIS_HASH, recordHash, type ChainedFields, type DigestEventRow } from '../audit/chain.js';
import type { Db } from './db.js';

/** One stored audit record: the fields its hash covers (`detail` is canonical JSON text) and its chain hashes. */
export interface AuditRow extends ChainedFields {
  prev_hash: string;
  hash: string;
}

/** A record to append: everything but the id and the hashes, which the repo computes. */
export type NewAuditRow = Omit<AuditRow, 'id' | 'prev_hash' | 'hash'>;

export interface CheckpointRow {
  id: number;
  last_audit_id: number;
  last_hash: string;
  ts: string;
  public_key: string;
  signature: string;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  caseId?: string;
  /** ISO timestamps, inclusive from, exclusive to. */
  from?: string;
  to?: string;
  afterId: number;
  /** Only records with id < beforeId (the cursor of a newest-first listing). */
  beforeId?: number;
  /** 'asc' (default): oldest first; 'desc': newest first. Both page by id, so appends never shift a page. */
  order?: 'asc' | 'desc';
  limit: number;
}

/** Action of the audit record that seals a range of `events` rows. */
export const EVENTS_SEALED_ACTION = 'events.sealed';

export interface AuditRepo {
  /**
   * Appends one chained record. Runs inside the caller's transaction when there is one, otherwise
   * in its own IMMEDIATE transaction, so the head it chains from cannot move underneath it.
   */
  append(rec: NewAuditRow): AuditRow;
  head(): { id: number; hash: string } | undefined;
  /** Records with id > afterId in id order, at most `limit`. */
  page(afterId: number, limit: number): AuditRow[];
  list(q: AuditQuery): AuditRow[];
  count(): number;
  insertCheckpoint(row: Omit<CheckpointRow, 'id'>): number;
  lastCheckpoint(): CheckpointRow | undefined;
  checkpoints(): CheckpointRow[];
  /** Highest events.id (0 when empty). */
  eventsMaxId(): number;
  /** Highest event id sealed by an `events.sealed` record (0 when none). */
  lastSealedEventId(): number;
  /** Event rows with fromId <= id <= toId, id order, at most `limit`. */
  eventsPage(fromId: number, toId: number, limit: number): DigestEventRow[];
  /**
   * Appends an `events.sealed` record whose detail holds the id range, row count and sha256 of
   * the stored rows (fromId..toId). Call in the transaction that inserted them.
   */
  sealEvents(fromId: number, toId: number, ts: string, actor?: string): AuditRow;
  /**
   * {@link AuditRepo.sealEvents} over rows the caller has just inserted and still holds (ids
   * contiguous, ascending, exactly as stored): the same record, without reading them back.
   */
  sealEventRows(rows: readonly DigestEventRow[], ts: string, actor?: string): AuditRow;
}

const EVENT_PAGE = 2_000;

/** The audit trail tables (audit_log, audit_checkpoints) plus the reads that seal/verify events. */
export function createAuditRepo(db: Db): AuditRepo {
  const headStmt = db.prepare('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1');
  const insertStmt = db.prepare(`INSERT INTO audit_log (id, ts, actor, action, target_type, target_id, case_id, detail, prev_hash, hash)
    VALUES (@id, @ts, @actor, @action, @target_type, @target_id, @case_id, @detail, @prev_hash, @hash)`);
  const pageStmt = db.prepare('SELECT * FROM audit_log WHERE id > ? ORDER BY id LIMIT ?');
  const countStmt = db.prepare('SELECT count(*) AS n FROM audit_log');
  const cpInsert = db.prepare(`INSERT INTO audit_checkpoints (last_audit_id, last_hash, ts, public_key, signature)
    VALUES (@last_audit_id, @last_hash, @ts, @public_key, @signature)`);
  const cpLast = db.prepare('SELECT * FROM audit_checkpoints ORDER BY id DESC LIMIT 1');
  const cpAll = db.prepare('SELECT * FROM audit_checkpoints ORDER BY id');
  const evMax = db.prepare('SELECT coalesce(max(id), 0) AS n FROM events');
  const sealedMax = db.prepare(
    `SELECT coalesce(max(json_extract(detail, '$.last_id')), 0) AS n FROM audit_log WHERE action = '${EVENTS_SEALED_ACTION}'`,
  );
  const evPage = db.prepare('SELECT id, agent_id, seq, type, ts, received_at, body FROM events WHERE id >= ? AND id <= ? ORDER BY id LIMIT ?');

  function appendNow(rec: NewAuditRow): AuditRow {
    const head = headStmt.get() as { id: number; hash: string } | undefined;
    const id = (head?.id ?? 0) + 1;
    const prev_hash = head?.hash ?? GENESIS_HASH;
    const row: AuditRow = { id, ...rec, prev_hash, hash: recordHash(prev_hash, { id, ...rec }) };
    insertStmt.run(row);
    return row;
  }
  const appendTx = db.transaction(appendNow);

  function appendSeal(d: ReturnType<typeof createEventDigest>, fromId: number, toId: number, ts: string, actor: string): AuditRow {
    const detail = canonicalJson({ count: d.count, digest: d.digest(), first_id: fromId, last_id: toId });
    return append({ ts, actor, action: EVENTS_SEALED_ACTION, target_type: 'events', target_id: `${fromId}-${toId}`, case_id: null, detail });
  }

  function append(rec: NewAuditRow): AuditRow {
    return db.inTransaction ? appendNow(rec) : appendTx.immediate(rec);
  }

  return {
    append,
    head: () => headStmt.get() as { id: number; hash: string } | undefined,
    page: (afterId, limit) => pageStmt.all(afterId, limit) as AuditRow[],
    list(q) {
      // Built from fixed fragments; every value is a bound parameter.
      const where: string[] = ['id > @afterId'];
      if (q.actor !== undefined) where.push('actor = @actor');
      if (q.action !== undefined) where.push('action = @action');
      if (q.targetType !== undefined) where.push('target_type = @targetType');
      if (q.targetId !== undefined) where.push('target_id = @targetId');
      if (q.caseId !== undefined) where.push('case_id = @caseId');
      if (q.from !== undefined) where.push('ts >= @from');
      if (q.to !== undefined) where.push('ts < @to');
      if (q.beforeId !== undefined) where.push('id < @beforeId');
      const params: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(q)) if (v !== undefined && k !== 'order') params[k] = v;
      const order = q.order === 'desc' ? 'DESC' : 'ASC';
      return db.prepare(`SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY id ${order} LIMIT @limit`).all(params) as AuditRow[];
    },
    count: () => (countStmt.get() as { n: number }).n,
    insertCheckpoint: (row) => Number(cpInsert.run(row).lastInsertRowid),
    lastCheckpoint: () => cpLast.get() as CheckpointRow | undefined,
    checkpoints: () => cpAll.all() as CheckpointRow[],
    eventsMaxId: () => (evMax.get() as { n: number }).n,
    lastSealedEventId: () => (sealedMax.get() as { n: number }).n,
    eventsPage: (fromId, toId, limit) => evPage.all(fromId, toId, limit) as DigestEventRow[],
    sealEvents(fromId, toId, ts, actor = 'system') {
      const d = createEventDigest();
      for (let from = fromId; from <= toId; ) {
        const rows = evPage.all(from, toId, EVENT_PAGE) as DigestEventRow[];
        if (rows.length === 0) break;
        for (const r of rows) d.add(r);
        from = rows[rows.length - 1]!.id + 1;
      }
      return appendSeal(d, fromId, toId, ts, actor);
    },
    sealEventRows(rows, ts, actor = 'system') {
      const first = rows[0];
      const last = rows[rows.length - 1];
      if (!first || !last || last.id - first.id + 1 !== rows.length) {
        throw new Error(`sealEventRows needs contiguous rows, got ${rows.length} for ${first?.id}..${last?.id}`);
      }
      const d = createEventDigest();
      for (const r of rows) d.add(r);
      return appendSeal(d, first.id, last.id, ts, actor);
    },
  };
}

/**
 * Opens an existing collector database read-only (no migrations, no writes): what `audit verify`
 * uses, so checking the evidence never changes it. Throws when the file does not exist.
 */
export function openDatabaseReadOnly(path: string): Db {
  return new Database(path, { readonly: true, fileMustExist: true });
}
