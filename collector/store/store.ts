import type { AgentEvent } from '../../shared/protocol/messages.js';
import { AppError } from '../../shared/errors.js';
import { openDatabase, type Db } from './db.js';
import { createAgentsRepo, type AgentsRepo, type LockStateValue } from './agents-repo.js';
import { createEventsRepo, type EventsRepo, type NewDecodedEvent } from './events-repo.js';
import { createDevicesRepo, type DevicesRepo, type SightingInput } from './devices-repo.js';
import { createEnrollmentRepo, type EnrollmentRepo } from './enrollment-repo.js';
import { createApiTokensRepo, type ApiTokensRepo } from './api-tokens-repo.js';
import { createOfflineCodesRepo, createUnlockRepo, type OfflineCodesRepo, type UnlockRepo } from './unlock-repo.js';
import { createPolicyRepo, type PolicyRepo } from './policy-repo.js';
import { createUsersRepo, type UsersRepo } from './users-repo.js';
import { createAuditRepo, type AuditRepo } from './audit-repo.js';
import type { DigestEventRow } from '../audit/chain.js';

/** One unit of work for the group commit. */
export type IngestItem =
  | { kind: 'event'; agentId: string; msg: AgentEvent; receivedAt: string }
  | { kind: 'heartbeat'; agentId: string; at: string; lockState: LockStateValue; outboxDepth: number };

/** Per item of a batch: whether an event row was new or already stored (heartbeats: 'applied'). */
export type IngestResult = 'stored' | 'duplicate' | 'applied';

/** An {@link IngestResult} with the events.id of a new row (null for duplicates and heartbeats). */
export interface IngestOutcome {
  result: IngestResult;
  eventId: number | null;
}

/** The collector's store: one repo per aggregate plus the batch write used by the ingest queue. */
export interface Store {
  readonly db: Db;
  readonly agents: AgentsRepo;
  readonly events: EventsRepo;
  readonly devices: DevicesRepo;
  readonly enrollment: EnrollmentRepo;
  readonly apiTokens: ApiTokensRepo;
  readonly unlock: UnlockRepo;
  readonly offlineCodes: OfflineCodesRepo;
  readonly policies: PolicyRepo;
  readonly users: UsersRepo;
  /** Low-level audit tables; append through collector/audit/audit-log.ts, not this. */
  readonly audit: AuditRepo;
  /** Writes a batch in ONE transaction; throws STORE_ERR_WRITE and writes nothing on failure. */
  ingest(items: readonly IngestItem[]): IngestResult[];
  /**
   * {@link Store.ingest}, also returning the id of each new event row (for post-commit consumers).
   * `within` runs inside the batch's transaction after its rows are written, before the commit:
   * what it writes shares the batch's one fsync, and if it throws the batch fails.
   */
  ingestWithIds(items: readonly IngestItem[], within?: (outcomes: readonly IngestOutcome[]) => void): IngestOutcome[];
  /** Runs `fn` in a transaction (IMMEDIATE so concurrent writers queue instead of failing late). */
  transaction<T>(fn: () => T): T;
  /** Cheap liveness probe for /api/health. */
  ping(): boolean;
  close(): void;
}

const USB_TYPES = new Set(['usb.inserted', 'usb.blocked', 'usb.allowed', 'usb.removed']);

/** Opens the SQLite file at `path` (pragmas + migrations) and builds the repos. */
export function openStore(path: string): Store {
  const db = openDatabase(path);
  const agents = createAgentsRepo(db);
  const events = createEventsRepo(db);
  const devices = createDevicesRepo(db);
  const enrollment = createEnrollmentRepo(db);
  const apiTokens = createApiTokensRepo(db);
  const unlock = createUnlockRepo(db);
  const offlineCodes = createOfflineCodesRepo(db);
  const policies = createPolicyRepo(db);
  const users = createUsersRepo(db);
  const audit = createAuditRepo(db);
  const pingStmt = db.prepare('SELECT 1 AS ok');

  const ingestTx = db.transaction((items: readonly IngestItem[], within?: (outcomes: readonly IngestOutcome[]) => void): IngestOutcome[] => {
    const results: IngestOutcome[] = new Array<IngestOutcome>(items.length);
    const maxSeq = new Map<string, { seq: number; at: string }>();
    // The IMMEDIATE transaction holds the write lock, so the new rows are exactly firstNew..max.
    const firstNew = audit.eventsMaxId() + 1;
    let sealTs = '';
    const rows: NewDecodedEvent[] = [];
    const rowItems: Array<Extract<IngestItem, { kind: 'event' }>> = [];
    const rowIndex: number[] = [];
    items.forEach((item, i) => {
      if (item.kind === 'heartbeat') {
        // Heartbeats touch only the agents row (never its department), so their order against
        // the events of the batch does not matter.
        agents.heartbeat(item.agentId, item.at, item.lockState, item.outboxDepth);
        results[i] = { result: 'applied', eventId: null };
        return;
      }
      const { msg, receivedAt } = item;
      rows.push({ agent_id: item.agentId, seq: msg.seq, type: msg.type, ts: msg.ts, received_at: receivedAt, body: JSON.stringify(msg.body), decoded: msg.body });
      rowItems.push(item);
      rowIndex.push(i);
    });
    // Rows in item order (so ids and in-batch duplicates are as before), rollups once per batch.
    const ids = events.insertMany(rows);
    const sightings: SightingInput[] = [];
    const sealRows: DigestEventRow[] = [];
    ids.forEach((eventId, j) => {
      const { msg, agentId, receivedAt } = rowItems[j]!;
      results[rowIndex[j]!] = { result: eventId !== null ? 'stored' : 'duplicate', eventId };
      if (receivedAt > sealTs) sealTs = receivedAt;
      if (eventId !== null) {
        const r = rows[j]!;
        sealRows.push({ id: eventId, agent_id: r.agent_id, seq: r.seq, type: r.type, ts: r.ts, received_at: r.received_at, body: r.body });
      }
      if (eventId !== null && USB_TYPES.has(msg.type) && 'device' in msg.body) {
        sightings.push({ device: msg.body.device, agentId, at: msg.ts, inserted: msg.type === 'usb.inserted' });
      }
      const prev = maxSeq.get(agentId);
      if (!prev || prev.seq < msg.seq) maxSeq.set(agentId, { seq: msg.seq, at: receivedAt });
    });
    devices.recordSightings(sightings);
    for (const [agentId, { seq, at }] of maxSeq) agents.advanceSeq(agentId, seq, at);
    // Tamper evidence for events: the stored rows of this batch are hashed into the audit chain
    // in the same transaction (docs/security-model.md), so a changed byte fails `audit verify`.
    // The rows are hashed as they were bound, not read back: SQLite stores TEXT and INTEGER
    // unchanged (the body is JSON.stringify output, so no lone surrogate reaches it), which the
    // ingest tests check by running `audit verify` over what they stored.
    const lastNew = audit.eventsMaxId();
    if (lastNew >= firstNew) {
      if (sealRows.length === lastNew - firstNew + 1 && sealRows[0]!.id === firstNew) audit.sealEventRows(sealRows, sealTs);
      else audit.sealEvents(firstNew, lastNew, sealTs);
    }
    within?.(results);
    return results;
  });

  function ingestWithIds(items: readonly IngestItem[], within?: (outcomes: readonly IngestOutcome[]) => void): IngestOutcome[] {
    try {
      return ingestTx.immediate(items, within);
    } catch (cause) {
      throw new AppError('STORE_ERR_WRITE', `Could not write to the store: ingest batch of ${items.length}`, { cause });
    }
  }

  return {
    db,
    agents,
    events,
    devices,
    enrollment,
    apiTokens,
    unlock,
    offlineCodes,
    policies,
    users,
    audit,
    ingest: (items) => ingestWithIds(items).map((o) => o.result),
    ingestWithIds,
    transaction: (fn) => db.transaction(fn).immediate(),
    ping: () => {
      try {
        return (pingStmt.get() as { ok: number }).ok === 1;
      } catch {
        return false;
      }
    },
    close: () => {
      if (db.open) db.close();
    },
  };
}
