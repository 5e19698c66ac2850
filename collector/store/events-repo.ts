import { deviceKey } from '../../shared/domain/usb.js';
import type { Db } from './db.js';
import { BUCKET_SQL, DEVICE_KEY_SQL, HAS_DEVICE_SQL } from './migrations.js';

export interface EventRow {
  id: number;
  agent_id: string;
  seq: number;
  type: string;
  ts: string;
  received_at: string;
  /** The message body as stored JSON text. */
  body: string;
}

export interface NewEvent {
  agent_id: string;
  seq: number;
  type: string;
  ts: string;
  received_at: string;
  body: string;
}

/** A new event whose body the caller holds decoded: its device key is read from it, not re-parsed. */
export interface NewDecodedEvent extends NewEvent {
  /** The value `body` is the JSON text of. */
  decoded: unknown;
}

export interface EventsRepo {
  /**
   * Inserts unless (agent_id, seq) is already stored, with its rollups (event_counts,
   * device_events); the new row's events.id, or null for a duplicate.
   */
  insertIfNew(e: NewEvent): number | null;
  /**
   * {@link EventsRepo.insertIfNew} for a batch, in order (a repeat inside the batch is a
   * duplicate too), with the rollups aggregated over the batch: one event_counts upsert per type,
   * department and slot. Call inside the caller's transaction.
   */
  insertMany(rows: readonly NewDecodedEvent[]): Array<number | null>;
  listForAgent(q: { agentId: string; after: number; limit: number; type?: string }): EventRow[];
  /** `departments`: only events of seats in these departments (undefined = all seats). */
  listGlobal(q: { afterId: number; limit: number; type?: string; agentId?: string; departments?: readonly string[] }): EventRow[];
  count(): number;
}

/** Events aggregate: the append-only record of what agents reported, one row per (agent, seq). */
export function createEventsRepo(db: Db): EventsRepo {
  const insert = db.prepare(`INSERT INTO events (agent_id, seq, type, ts, received_at, body)
    VALUES (@agent_id, @seq, @type, @ts, @received_at, @body) ON CONFLICT (agent_id, seq) DO NOTHING`);
  const cols = 'id, agent_id, seq, type, ts, received_at, body';
  // One statement per filter combination so each can use its index.
  const bySeat = db.prepare(`SELECT ${cols} FROM events WHERE agent_id = ? AND seq > ? ORDER BY seq LIMIT ?`);
  const bySeatType = db.prepare(`SELECT ${cols} FROM events WHERE agent_id = ? AND seq > ? AND type = ? ORDER BY seq LIMIT ?`);
  const all = db.prepare(`SELECT ${cols} FROM events WHERE id > ? ORDER BY id LIMIT ?`);
  const allType = db.prepare(`SELECT ${cols} FROM events WHERE type = ? AND id > ? ORDER BY id LIMIT ?`);
  const allAgent = db.prepare(`SELECT ${cols} FROM events WHERE agent_id = ? AND id > ? ORDER BY id LIMIT ?`);
  const allBoth = db.prepare(`SELECT ${cols} FROM events WHERE agent_id = ? AND type = ? AND id > ? ORDER BY id LIMIT ?`);
  const countStmt = db.prepare('SELECT count(*) AS n FROM events');
  const scoped = "agent_id IN (SELECT agent_id FROM agents WHERE department IN (SELECT value FROM json_each(?)))";
  const allScoped = db.prepare(`SELECT ${cols} FROM events WHERE ${scoped} AND id > ? ORDER BY id LIMIT ?`);
  const allTypeScoped = db.prepare(`SELECT ${cols} FROM events WHERE type = ? AND ${scoped} AND id > ? ORDER BY id LIMIT ?`);

  const rollups = createRollupWriter(db);
  // Post-commit consumers (alert engine) need the id to keep their cursor over the event log.
  const insertRow = (e: NewEvent): number | null => {
    const r = insert.run(e);
    return r.changes === 1 ? Number(r.lastInsertRowid) : null;
  };

  return {
    // Its own transaction (a savepoint inside the caller's): the row and its rollups land together,
    // as they did when a trigger wrote the rollups.
    insertIfNew: db.transaction((e: NewEvent): number | null => {
      const id = insertRow(e);
      if (id !== null) {
        const batch = rollups.batch();
        batch.add(e, id, SQL_KEY);
        batch.flush();
      }
      return id;
    }),
    insertMany: (rows) => {
      const batch = rollups.batch();
      const ids = rows.map((e) => {
        const id = insertRow(e);
        if (id !== null) batch.add(e, id, deviceKeyOf(e.decoded));
        return id;
      });
      batch.flush();
      return ids;
    },
    listForAgent: ({ agentId, after, limit, type }) =>
      (type === undefined ? bySeat.all(agentId, after, limit) : bySeatType.all(agentId, after, type, limit)) as EventRow[],
    listGlobal: ({ afterId, limit, type, agentId, departments }) => {
      if (departments !== undefined && agentId === undefined) {
        const deps = JSON.stringify(departments);
        return (type !== undefined ? allTypeScoped.all(type, deps, afterId, limit) : allScoped.all(deps, afterId, limit)) as EventRow[];
      }
      if (type !== undefined && agentId !== undefined) return allBoth.all(agentId, type, afterId, limit) as EventRow[];
      if (type !== undefined) return allType.all(type, afterId, limit) as EventRow[];
      if (agentId !== undefined) return allAgent.all(agentId, afterId, limit) as EventRow[];
      return all.all(afterId, limit) as EventRow[];
    },
    count: () => (countStmt.get() as { n: number }).n,
  };
}

/** "Let SQLite derive the device key from the stored body" (the exact SQL of migration 400). */
export const SQL_KEY = Symbol('sql-device-key');

/** Strings whose SQLite and JS handling could differ (NUL, lone surrogates) go the SQL way. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what this looks for
const ODD_TEXT = /[\u0000\ud800-\udfff]/;

/**
 * The device_events key of a decoded body: what DEVICE_KEY_SQL/HAS_DEVICE_SQL give over its JSON
 * (null = no device), or SQL_KEY when the shape is unusual enough to leave it to SQLite.
 */
export function deviceKeyOf(decoded: unknown): string | null | typeof SQL_KEY {
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) return null;
  const d = (decoded as { device?: unknown }).device;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return null;
  const { vendor_id, product_id, serial, hash } = d as Record<string, unknown>;
  if (typeof vendor_id !== 'string' || typeof product_id !== 'string') return null;
  const text = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && !ODD_TEXT.test(v));
  if (!text(serial) || !text(hash) || ODD_TEXT.test(vendor_id) || ODD_TEXT.test(product_id)) return SQL_KEY;
  return deviceKey({ vendor_id, product_id, serial: (serial as string | null | undefined) ?? null, hash: (hash as string | null | undefined) ?? null });
}

/** A canonical UTC time (years 1970–9999): two of them in the same minute share a 15-minute slot. */
const CANONICAL_UTC = /^(?:19[7-9]\d|[2-9]\d{3})-\d\d-\d\dT\d\d:[0-5]\d:[0-5]\d(?:\.\d+)?Z$/;

/**
 * Collects the rollup rows of new events and writes them in one go: event_counts grouped in JS
 * (the slot itself is still computed by SQLite, with the same expression as the migration, so
 * the two can never disagree), device_events one row per event.
 */
function createRollupWriter(db: Db) {
  const deptStmt = db.prepare("SELECT coalesce(department, '') AS d FROM agents WHERE agent_id = ?").pluck();
  const countStmt = db.prepare(`INSERT INTO event_counts (type, bucket, department, n)
    VALUES (@type, ${BUCKET_SQL('@received_at')}, @department, @n)
    ON CONFLICT (type, bucket, department) DO UPDATE SET n = n + excluded.n`);
  const deviceStmt = db.prepare('INSERT OR IGNORE INTO device_events (device_key, event_id) VALUES (?, ?)');
  const deviceSqlStmt = db.prepare(`INSERT OR IGNORE INTO device_events (device_key, event_id)
    SELECT ${DEVICE_KEY_SQL('body')}, id FROM events WHERE id = ? AND ${HAS_DEVICE_SQL('body')}`);

  /** One accumulator per write, so a failed (rolled back) batch leaves nothing behind for the next. */
  const batch = () => {
    const counts = new Map<string, { type: string; received_at: string; department: string; n: number }>();
    const departments = new Map<string, string>();
    const devices: Array<[string | typeof SQL_KEY, number]> = [];
    return {
      add(e: NewEvent, id: number, key: string | null | typeof SQL_KEY): void {
        let department = departments.get(e.agent_id);
        if (department === undefined) {
          // The department at event time, as the trigger read it; it cannot change inside the transaction.
          department = (deptStmt.get(e.agent_id) as string | undefined) ?? '';
          departments.set(e.agent_id, department);
        }
        // Same minute => same slot; anything else is grouped by its exact text (still exact, just less merged).
        const slot = CANONICAL_UTC.test(e.received_at) ? e.received_at.slice(0, 16) : `=${e.received_at}`;
        const k = JSON.stringify([e.type, department, slot]);
        const c = counts.get(k);
        if (c) c.n++;
        else counts.set(k, { type: e.type, received_at: e.received_at, department, n: 1 });
        if (key !== null) devices.push([key, id]);
      },
      flush(): void {
        for (const c of counts.values()) countStmt.run(c);
        for (const [key, id] of devices) {
          if (key === SQL_KEY) deviceSqlStmt.run(id);
          else deviceStmt.run(key, id);
        }
      },
    };
  };
  return { batch };
}
