import type { Db } from './db.js';

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

export interface EventsRepo {
  /** Inserts unless (agent_id, seq) is already stored; the new row's events.id, or null for a duplicate. */
  insertIfNew(e: NewEvent): number | null;
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

  return {
    insertIfNew: (e) => {
      const r = insert.run(e);
      // Post-commit consumers (alert engine) need the id to keep their cursor over the event log.
      return r.changes === 1 ? Number(r.lastInsertRowid) : null;
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
