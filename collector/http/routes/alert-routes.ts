import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { AppError, formatError, isAppError, type ErrorCode } from '../../../shared/errors.js';
import { WATCHED_EVENT_TYPES, type AlertEngine, type AlertListQuery, type AlertSink, type AlertView } from '../../alerts/index.js';
import type { AuditLog } from '../../audit/audit-log.js';
import { can, inScope, type DepartmentScope } from '../../auth/privileges.js';
import type { CommittedEvent as IngestedEvent } from '../../ingest/ingest-queue.js';
import type { LiveBus } from '../../live/live-bus.js';
import type { Store } from '../../store/store.js';
import { actorOf, requireAction } from '../authorize.js';
import { sendError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Shared by alert-routes.ts and handover-routes.ts
// ---------------------------------------------------------------------------------------------

/** HTTP statuses of the alert engine's error codes (http/errors.ts does not know them). */
const ALERT_STATUS: Partial<Record<ErrorCode, number>> = {
  ALERT_ERR_NOT_FOUND: 404,
  ALERT_ERR_TRANSITION: 409,
  ALERT_ERR_NOTE_REQUIRED: 400,
  ALERT_ERR_INVALID_INPUT: 400,
  API_ERR_NOT_FOUND: 404,
  API_ERR_VALIDATION: 400,
};

/** Sends an alert AppError with its status; anything else goes on to the app's error handler (500). */
export function sendAlertError(reply: FastifyReply, err: unknown): FastifyReply {
  if (isAppError(err)) {
    const status = ALERT_STATUS[err.code];
    if (status !== undefined) return sendError(reply, status, err.code, err.message);
  }
  throw err;
}

const notFound = (id: number) => new AppError('ALERT_ERR_NOT_FOUND', formatError('ALERT_ERR_NOT_FOUND', id), { details: { alert_id: id } });
const invalid = (what: string) => new AppError('ALERT_ERR_INVALID_INPUT', formatError('ALERT_ERR_INVALID_INPUT', what));

/** Department of a seat (null: unassigned or unknown seat). */
export function seatDepartment(store: Store, agentId: string): string | null {
  return store.agents.get(agentId)?.department ?? null;
}

/**
 * A user named by the console (id or user name; hostile text): must exist and be enabled, and,
 * when `action` is given, hold it. Returns the user id, which is what the alert records store.
 */
export function resolveUser(store: Store, nameOrId: string, field: string, action?: Parameters<typeof can>[1]): string {
  const u = store.users.get(nameOrId) ?? store.users.getByUsername(nameOrId);
  if (!u || u.disabled === 1) throw invalid(`${field} is not an active user`);
  if (action !== undefined) {
    let roles: unknown;
    try {
      roles = JSON.parse(u.roles);
    } catch {
      roles = [];
    }
    const list = Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [];
    if (!can(list, action)) throw invalid(`${field} may not take over alerts`);
  }
  return u.id;
}

/**
 * Runs `fn` in one store transaction together with its audit record (when an audit log is
 * wired): if either fails, neither is committed. Audit first, so the record never trails the change.
 */
export function withAudit<T>(deps: { store: Store; audit?: AuditLog | undefined }, rec: Parameters<AuditLog['append']>[0], fn: () => T): T {
  const { audit } = deps;
  if (!audit) return fn();
  return deps.store.transaction(() => {
    audit.append(rec);
    return fn();
  });
}

// ---------------------------------------------------------------------------------------------
// Live console updates (topic 'alert')
// ---------------------------------------------------------------------------------------------

/** What happened to an alert, as the live stream tells the console (`updated`: raised, counted, escalated…). */
export type AlertChange = 'updated' | 'acknowledged' | 'assigned' | 'resolved' | 'note';

/** Publishes alert changes to the console's live stream; a no-op without subscribers, never throws. */
export interface AlertPublisher {
  publish(view: AlertView, change: AlertChange): void;
}

/** The live side of the alert engine: its delivery sink, the ingest hook and the route publisher. */
export interface AlertLive {
  readonly publisher: AlertPublisher;
  /** Give this to createAlertEngine as `dispatcher`: forwards to `next` and publishes what the engine sent. */
  readonly sink: AlertSink;
  /** Connects the engine (to read full views); call once, right after creating it. */
  attach(engine: AlertEngine): void;
  /** The ingest post-commit listener: evaluates the batch, then publishes every alert it opened or counted into. */
  committed(events: readonly IngestedEvent[]): void;
}

/**
 * Live console updates on topic 'alert', scoped by the seat's department. Engine-side changes come
 * through the delivery sink (escalations, system resolutions, a resolve over HTTP); an ingest batch
 * is published once after evaluation, because a dedup count bump is never sent to the channels.
 */
export function createAlertLive(deps: { bus: LiveBus; store: Store; next?: AlertSink | undefined }): AlertLive {
  const { bus, store, next } = deps;
  let engine: AlertEngine | undefined;
  let inBatch = false;
  const publisher: AlertPublisher = {
    publish(view, change) {
      if (bus.subscriberCount() === 0) return;
      try {
        bus.publish('alert', { kind: 'alert', change, alert: view }, { department: seatDepartment(store, view.seat.agent_id) });
      } catch {
        // Live updates are a convenience (the console reloads from the API): never fail the caller.
      }
    },
  };
  return {
    publisher,
    sink: {
      enqueue(alert) {
        next?.enqueue(alert);
        // Inside a batch the pass in committed() covers it; otherwise publish now.
        if (inBatch || !engine || bus.subscriberCount() === 0) return;
        try {
          const view = engine.get(Number(alert.id))?.alert;
          if (view) publisher.publish(view, view.state === 'resolved' ? 'resolved' : 'updated');
        } catch {
          // As above.
        }
      },
    },
    attach(e) {
      engine = e;
    },
    committed(events) {
      if (!engine || events.length === 0) return;
      inBatch = true;
      try {
        engine.onCommitted(
          events.map((e) => ({ id: e.eventId, agent_id: e.agentId, seq: e.msg.seq, type: e.msg.type, ts: e.msg.ts, body: e.msg.body, received_at: e.receivedAt })),
        );
      } finally {
        inBatch = false;
      }
      if (bus.subscriberCount() === 0) return;
      const watched = events.filter((e) => WATCHED_EVENT_TYPES.includes(e.msg.type));
      if (watched.length === 0) return;
      try {
        // Alerts this batch opened or counted into have last_seen at or after its first receive time.
        const since = watched.reduce((m, e) => (e.receivedAt < m ? e.receivedAt : m), watched[0]!.receivedAt);
        for (const view of engine.list({ since, limit: 100 }).alerts) publisher.publish(view, 'updated');
      } catch {
        // As above.
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

const AgentIdParam = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' });
const State = Type.Union([Type.Literal('open'), Type.Literal('acknowledged'), Type.Literal('resolved')]);
const Severity = Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high'), Type.Literal('critical')]);
// Engine notes are capped at 4000 code points; the body limit (16 KiB) bounds the rest.
const Note = Type.String({ maxLength: 8_000 });

const ListQuery = Type.Object(
  {
    state: Type.Optional(State),
    severity: Type.Optional(Severity),
    agent_id: Type.Optional(AgentIdParam),
    rule: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z][a-z0-9_.]*$' })),
    /** Epoch milliseconds or an ISO time; alerts whose last_seen is at or after it. */
    since: Type.Optional(Type.String({ minLength: 1, maxLength: 40, pattern: '^[0-9A-Za-z:.+-]+$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);
type ListQuery = Static<typeof ListQuery>;

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }, { additionalProperties: false });
type IdParams = Static<typeof IdParams>;
const SeatParams = Type.Object({ agent_id: AgentIdParam }, { additionalProperties: false });
type SeatParams = Static<typeof SeatParams>;

const AssignBody = Type.Object({ assignee: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
type AssignBody = Static<typeof AssignBody>;
// `note` optional in the schema so a missing note is ALERT_ERR_NOTE_REQUIRED, not a generic 400.
const ResolveBody = Type.Object({ note: Type.Optional(Note) }, { additionalProperties: false });
type ResolveBody = Static<typeof ResolveBody>;
const NoteBody = Type.Object({ note: Note }, { additionalProperties: false });
type NoteBody = Static<typeof NoteBody>;
const MaintenanceBody = Type.Object(
  {
    duration_ms: Type.Integer({ minimum: 1, maximum: 7 * 86_400_000 }),
    reason: Type.String({ minLength: 1, maxLength: 1_000 }),
  },
  { additionalProperties: false },
);
type MaintenanceBody = Static<typeof MaintenanceBody>;

/** Alerts scanned at most to answer one list request of a department-scoped user. */
export const SCOPED_SCAN_MAX = 10_000;
const SCAN_PAGE = 500;

export interface AlertRoutesDeps {
  alerts: AlertEngine;
  store: Store;
  /** When wired, lifecycle steps and maintenance windows are also written to the audit trail. */
  audit?: AuditLog | undefined;
  live?: AlertPublisher | undefined;
}

/**
 * /api/v1/alerts (work orders: list, detail, acknowledge, assign, resolve, notes) and
 * /api/v1/seats/:agent_id/maintenance. Alerts of seats outside the caller's departments do not exist
 * for that caller (404), so their existence does not leak.
 */
export function alertRoutes(deps: AlertRoutesDeps) {
  const { alerts, store, live } = deps;

  function scopeOf(req: FastifyRequest): DepartmentScope {
    return actorOf(req).departments;
  }

  /** The alert if it exists and its seat is in the caller's scope; else ALERT_ERR_NOT_FOUND. */
  function visibleAlert(req: FastifyRequest, id: number) {
    const d = alerts.get(id);
    if (!d || !inScope(scopeOf(req), seatDepartment(store, d.alert.seat.agent_id))) throw notFound(id);
    return d;
  }

  function toEngineQuery(q: ListQuery): AlertListQuery {
    const since = q.since === undefined ? undefined : /^[0-9]{1,16}$/.test(q.since) ? Number(q.since) : q.since;
    return {
      ...(q.state === undefined ? {} : { state: q.state }),
      ...(q.severity === undefined ? {} : { severity: q.severity }),
      ...(q.agent_id === undefined ? {} : { agent_id: q.agent_id }),
      ...(q.rule === undefined ? {} : { rule: q.rule }),
      ...(since === undefined ? {} : { since }),
    };
  }

  /**
   * A department-scoped list: the engine has no department filter, so newest-first pages are
   * filtered here. Beyond SCOPED_SCAN_MAX scanned alerts the answer says `truncated`.
   */
  function listScoped(filters: AlertListQuery, scope: DepartmentScope, limit: number, offset: number) {
    const dept = new Map<string, boolean>();
    const visible = (agentId: string) => {
      let v = dept.get(agentId);
      if (v === undefined) dept.set(agentId, (v = inScope(scope, seatDepartment(store, agentId))));
      return v;
    };
    const out: AlertView[] = [];
    let total = 0;
    let scanned = 0;
    let truncated = false;
    for (;;) {
      const page = alerts.list({ ...filters, limit: SCAN_PAGE, offset: scanned });
      for (const a of page.alerts) {
        if (!visible(a.seat.agent_id)) continue;
        if (total >= offset && out.length < limit) out.push(a);
        total++;
      }
      scanned += page.alerts.length;
      if (page.alerts.length < SCAN_PAGE || scanned >= page.total) break;
      if (scanned >= SCOPED_SCAN_MAX) {
        truncated = true;
        break;
      }
    }
    return { alerts: out, total, limit, offset, ...(truncated ? { truncated } : {}) };
  }

  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: ListQuery }>('/alerts', { schema: { querystring: ListQuery }, preHandler: requireAction('alert.read') }, async (req, reply) => {
      try {
        const q = req.query;
        const limit = q.limit ?? 50;
        const offset = q.offset ?? 0;
        const filters = toEngineQuery(q);
        const scope = scopeOf(req);
        if (scope === '*') return alerts.list({ ...filters, limit, offset });
        if (q.agent_id !== undefined) {
          // One seat: a single scope check, then the engine's own paging.
          if (!inScope(scope, seatDepartment(store, q.agent_id))) return { alerts: [], total: 0, limit, offset };
          return alerts.list({ ...filters, limit, offset });
        }
        return listScoped(filters, scope, limit, offset);
      } catch (err) {
        return sendAlertError(reply, err);
      }
    });

    app.get<{ Params: IdParams }>('/alerts/:id', { schema: { params: IdParams }, preHandler: requireAction('alert.read') }, async (req, reply) => {
      try {
        return visibleAlert(req, req.params.id);
      } catch (err) {
        return sendAlertError(reply, err);
      }
    });

    app.post<{ Params: IdParams }>('/alerts/:id/acknowledge', { schema: { params: IdParams }, preHandler: requireAction('alert.ack') }, async (req, reply) => {
      try {
        const id = req.params.id;
        visibleAlert(req, id);
        const by = actorOf(req).id;
        const alert = withAudit(deps, { actor: by, action: 'alert.acknowledge', targetType: 'alert', targetId: String(id) }, () => alerts.acknowledge(id, by));
        live?.publish(alert, 'acknowledged');
        return { alert };
      } catch (err) {
        return sendAlertError(reply, err);
      }
    });

    app.post<{ Params: IdParams; Body: AssignBody }>(
      '/alerts/:id/assign',
      { schema: { params: IdParams, body: AssignBody }, preHandler: requireAction('alert.assign') },
      async (req, reply) => {
        try {
          const id = req.params.id;
          visibleAlert(req, id);
          const by = actorOf(req).id;
          // Work orders go to people who exist: a typo must not park an alert with nobody.
          const assignee = resolveUser(store, req.body.assignee, 'assignee');
          const alert = withAudit(deps, { actor: by, action: 'alert.assign', targetType: 'alert', targetId: String(id), detail: { assignee } }, () =>
            alerts.assign(id, assignee, by),
          );
          live?.publish(alert, 'assigned');
          return { alert };
        } catch (err) {
          return sendAlertError(reply, err);
        }
      },
    );

    app.post<{ Params: IdParams; Body: ResolveBody }>(
      '/alerts/:id/resolve',
      { schema: { params: IdParams, body: ResolveBody }, preHandler: requireAction('alert.resolve') },
      async (req, reply) => {
        try {
          const id = req.params.id;
          visibleAlert(req, id);
          const by = actorOf(req).id;
          const note = req.body?.note ?? '';
          // Published live by the engine's delivery sink (see createAlertLive), like any resolution.
          const alert = withAudit(deps, { actor: by, action: 'alert.resolve', targetType: 'alert', targetId: String(id) }, () => alerts.resolve(id, by, note));
          return { alert };
        } catch (err) {
          return sendAlertError(reply, err);
        }
      },
    );

    // A note is part of working the order (ack-level), including after resolution (PEN-05).
    app.post<{ Params: IdParams; Body: NoteBody }>(
      '/alerts/:id/notes',
      { schema: { params: IdParams, body: NoteBody }, preHandler: requireAction('alert.ack') },
      async (req, reply) => {
        try {
          const id = req.params.id;
          visibleAlert(req, id);
          const by = actorOf(req).id;
          const alert = withAudit(deps, { actor: by, action: 'alert.note', targetType: 'alert', targetId: String(id) }, () => alerts.addNote(id, by, req.body.note));
          live?.publish(alert, 'note');
          return reply.code(201).send({ alert });
        } catch (err) {
          return sendAlertError(reply, err);
        }
      },
    );

    /** The seat must exist and be in the caller's scope; unknown and foreign seats look the same. */
    function maintainableSeat(req: FastifyRequest<{ Params: SeatParams }>): string {
      const seat = store.agents.get(req.params.agent_id);
      if (!seat || !inScope(scopeOf(req), seat.department)) throw new AppError('API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'seat'));
      return seat.agent_id;
    }

    app.post<{ Params: SeatParams; Body: MaintenanceBody }>(
      '/seats/:agent_id/maintenance',
      { schema: { params: SeatParams, body: MaintenanceBody }, preHandler: requireAction('agent.maintenance') },
      async (req, reply) => {
        try {
          const agentId = maintainableSeat(req);
          const by = actorOf(req).id;
          const { duration_ms: durationMs, reason } = req.body;
          // Silencing a seat's tamper alerts is itself a security-relevant act: audited.
          const w = withAudit(
            deps,
            { actor: by, action: 'alert.maintenance_start', targetType: 'seat', targetId: agentId, detail: { duration_ms: durationMs, reason } },
            () => alerts.startMaintenance(agentId, { by, durationMs, reason }),
          );
          return reply.code(201).send({ maintenance: { id: w.id, agent_id: agentId, starts_at: w.starts_at, ends_at: w.ends_at, created_by: by } });
        } catch (err) {
          return sendAlertError(reply, err);
        }
      },
    );

    app.delete<{ Params: SeatParams }>(
      '/seats/:agent_id/maintenance',
      { schema: { params: SeatParams }, preHandler: requireAction('agent.maintenance') },
      async (req, reply) => {
        try {
          const agentId = maintainableSeat(req);
          const by = actorOf(req).id;
          const ended = withAudit(deps, { actor: by, action: 'alert.maintenance_end', targetType: 'seat', targetId: agentId }, () => alerts.endMaintenance(agentId, by));
          return { ended };
        } catch (err) {
          return sendAlertError(reply, err);
        }
      },
    );
  };
}
