import type { Clock } from '../../shared/clock.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import type { Db } from '../store/db.js';
import { createAlertsRepo, type AlertEventLink, type AlertRow, type AlertSeverityValue, type AlertsRepo, type AlertWithSeat, type StoredEventRow } from '../store/alerts-repo.js';
import { toAlertView, toChannelAlert, toHistoryEntry, type AlertHistoryEntry, type AlertView, type DispatchReason } from './alert-view.js';
import { ALERT_SEVERITIES, severityRank, type Alert, type AlertSeverity, type AlertState } from './channels/types.js';
import { resolveAlertEngineConfig, type AlertEngineConfig } from './engine-config.js';
import { createDedupCache, type DedupTarget } from './dedup-cache.js';
import { buildHandoverReport, isStale, type HandoverGrant, type HandoverReport } from './handover.js';
import { assertTransition, cleanActor, cleanId, cleanNote, type AlertAction } from './lifecycle.js';
import { evaluateEvent, type AlertCandidate, type RuleOutcome } from './rules.js';

/** One stored agent event, as the ingest path hands it over after its commit. */
export interface CommittedEvent {
  /** events.id of the stored row. */
  id: number;
  agent_id: string;
  seq: number;
  type: string;
  /** The agent's own timestamp (kept for the record; never used for timing). */
  ts: string;
  /** The decoded body, or the stored JSON text. */
  body: unknown;
  /** events.received_at; defaults to the engine clock's now. */
  received_at?: string;
}

/** The delivery side the engine needs: G's Dispatcher fits. `enqueue` must not block. */
export interface AlertSink {
  enqueue(alert: Alert): void;
}

export interface AlertEngineDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  dispatcher?: AlertSink;
  config?: Partial<AlertEngineConfig>;
  /** Active unlock grants from the unlock workflow; without it the handover reads `unlock_requests` if present. */
  activeGrants?: (nowMs: number) => HandoverGrant[];
  /** True when an active software request of the seat approved the package (its install raises no alert). */
  approvedSoftware?: (agentId: string, pkg: { name: string; version: string | null }) => boolean;
  /** Why a seat's reported maintenance-code use does not match an issued code; null when it does. */
  maintenanceCodeFlag?: (agentId: string, event: { type: string; seq: number; body: unknown }) => string | null;
}

export interface TickResult {
  /** Events evaluated by catch-up (0 when onCommitted kept up). */
  evaluated: number;
  escalated: number;
  offlineRaised: number;
  offlineResolved: number;
}

export interface AlertListQuery {
  state?: AlertState;
  severity?: AlertSeverity;
  agent_id?: string;
  rule?: string;
  /** Epoch ms or ISO time: alerts whose last_seen is at or after it. */
  since?: number | string;
  /** 1–500, default 50. */
  limit?: number;
  offset?: number;
}

export interface AlertDetail {
  alert: AlertView;
  history: AlertHistoryEntry[];
  /** The latest events that fed the alert (at most 100), newest first. */
  events: AlertEventLink[];
}

export interface AlertEngine {
  readonly config: Readonly<AlertEngineConfig>;
  /**
   * Evaluates events inside the ingest transaction that stores them, in a SAVEPOINT, and moves the
   * stored cursor in the same transaction (exactly once by construction). Call it from the open
   * transaction; run the returned callback after the commit (it moves the in-memory cursor and
   * queues deliveries for the next {@link AlertEngine.onCommitted} or tick). Never throws: on a
   * failure the savepoint is rolled back, the cursor stays, and `onCommitted` or catch-up evaluates
   * the events again.
   */
  evaluateInTransaction(events: readonly CommittedEvent[]): (() => void) | undefined;
  /**
   * After each ingest commit: sends what {@link AlertEngine.evaluateInTransaction} raised and
   * evaluates, in its own transaction, whatever it did not (or everything, when it is not wired).
   * Never throws, never waits on delivery.
   */
  onCommitted(events: readonly CommittedEvent[]): void;
  /** Evaluates stored events the engine has not seen (after a crash or a failed batch); returns how many. */
  catchUp(maxEvents?: number): number;
  /** Catch-up, escalation and missed heartbeats. Call on an interval (e.g. every 15 s). Never throws. */
  tick(): TickResult;
  acknowledge(id: number, user: string): AlertView;
  assign(id: number, assignee: string, by: string): AlertView;
  /** Closes the alert; `note` (the incident record) is required. */
  resolve(id: number, by: string, note: string): AlertView;
  addNote(id: number, by: string, note: string): AlertView;
  list(q?: AlertListQuery): { alerts: AlertView[]; total: number; limit: number; offset: number };
  get(id: number): AlertDetail | undefined;
  /** Opens a maintenance window: agent.stopping and missed heartbeats of the seat do not alert. */
  startMaintenance(agentId: string, o: { by: string; durationMs: number; reason: string }): { id: number; starts_at: string; ends_at: string };
  /** Ends the seat's active windows now; returns how many were active. */
  endMaintenance(agentId: string, by: string): number;
  /** The pre-filled shift handover (WF-7), counting from `since`, else the last confirmed handover, else one shift. */
  handoverReport(nowMs?: number, opts?: { since?: number }): HandoverReport;
  /** Records that `incoming` took over from `outgoing`; later reports count from here. */
  confirmHandover(o: { outgoing: string; incoming: string }): { id: number; at: string; report: HandoverReport };
}

const SYSTEM = 'system';
const LIST_MAX = 500;
/** Events linked to one alert (its first ones); `get` returns them all. */
export const LINKED_EVENTS_MAX = 100;
const MAINTENANCE_MAX_MS = 7 * 24 * 3_600_000;
const STATES: readonly AlertState[] = ['open', 'acknowledged', 'resolved'];

const iso = (ms: number) => new Date(ms).toISOString();

function invalid(what: string): AppError {
  return new AppError('ALERT_ERR_INVALID_INPUT', formatError('ALERT_ERR_INVALID_INPUT', what));
}

function parseBody(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

interface Normalized {
  id: number;
  agent_id: string;
  seq: number;
  type: string;
  ts: string;
  body: unknown;
  received_at: string;
}

/**
 * The alert engine: turns committed agent events into deduplicated alerts (work orders), runs their
 * lifecycle and escalation, raises and clears missed-heartbeat alerts and builds the shift handover.
 * Alerts are written before delivery is queued; a dead channel never slows ingest.
 */
export function createAlertEngine(deps: AlertEngineDeps): AlertEngine {
  const config = resolveAlertEngineConfig(deps.config);
  const { db, clock, dispatcher } = deps;
  const log = deps.log.child({ component: 'alert-engine' });
  const repo: AlertsRepo = createAlertsRepo(db);
  // Lookups saved across batches; cleared by every other write to alerts (see dedup-cache.ts).
  const dedupCache = createDedupCache(db);
  const write = <T>(fn: () => T): T => db.transaction(fn).immediate();
  let behindLogged = false;
  // The highest event id evaluated. The stored cursor may lag it (see commitSpan), never lead it.
  let cursor = repo.cursor();
  let cursorDirty = false;

  // ------------------------------------------------------------------------------------------
  // Delivery
  // ------------------------------------------------------------------------------------------

  /** After a commit: logs what happened and queues the alerts for delivery (never waits). */
  function flush(pending: Map<number, DispatchReason>): void {
    for (const [id, reason] of pending) {
      try {
        const row = repo.get(id);
        if (!row) continue;
        const fields = { alert_id: id, agent_id: row.agent_id, rule: row.rule, severity: row.severity };
        if (reason === 'opened') log.info(fields, 'alert raised');
        else if (reason === 'severity_raised') log.info(fields, 'alert severity raised');
        else if (reason === 'escalated') log.warn({ ...fields, level: row.escalation_level, role: row.escalated_to }, 'alert escalated');
        else if (row.resolved_by === SYSTEM) log.info(fields, 'alert resolved automatically');
        dispatcher?.enqueue(toChannelAlert(toAlertView(row), reason, config.consoleUrl));
      } catch (err) {
        log.error({ err, alert_id: id }, 'alert could not be queued for delivery');
      }
    }
  }

  // Deliveries of alerts written inside ingest transactions that committed, waiting for
  // onCommitted (so the live console sees the batch once) or the next tick.
  let committedPending = new Map<number, DispatchReason>();
  function flushCommitted(): void {
    if (committedPending.size === 0) return;
    const p = committedPending;
    committedPending = new Map();
    flush(p);
  }

  const note = (pending: Map<number, DispatchReason>, id: number, reason: DispatchReason) => {
    // The first reason in a batch wins: a brand-new alert is sent as 'opened' with its final count.
    if (!pending.has(id)) pending.set(id, reason);
  };

  // ------------------------------------------------------------------------------------------
  // Evaluation
  // ------------------------------------------------------------------------------------------

  function openAlert(agentId: string, c: AlertCandidate, at: string, nowIso: string, event: Normalized | null): number {
    const id = repo.insert({
      rule: c.rule,
      severity: c.severity,
      agent_id: agentId,
      dedup_key: c.dedupKey,
      title_zh: c.title.zh,
      title_en: c.title.en,
      detail_zh: c.detail.zh,
      detail_en: c.detail.en,
      device: c.device === null ? null : JSON.stringify(c.device),
      first_seen: at,
      last_seen: at,
      created_at: nowIso,
      last_event_id: event?.id ?? null,
    });
    repo.addHistory({
      alert_id: id,
      at: nowIso,
      actor: SYSTEM,
      action: 'opened',
      note: null,
      details: JSON.stringify(event ? { event_id: event.id, event_type: event.type } : { source: 'collector' }),
    });
    return id;
  }

  /**
   * Applies the outcomes of one span (in id order) with the same result as applying them one by
   * one, but batch-shaped: each (seat, dedup key) is looked up once, an alert that only counts
   * repeats gets one UPDATE for the span, and the event links go in as multi-row INSERTs. New
   * alerts and history rows are written at once (they are rare and need their ids in order).
   */
  function applyAll(work: ReadonlyArray<{ e: Normalized; o: RuleOutcome }>, nowIso: string, pending: Map<number, DispatchReason>): Map<string, DedupTarget> {
    interface Mem {
      id: number;
      severity: AlertSeverityValue;
      last_seen: string;
      cleared_at: string | null;
      /** Occurrences including this span's (what alerts.count will hold after it). */
      count: number;
      n: number;
      lastEventId: number | null;
      dirty: boolean;
    }
    const byId = new Map<number, Mem>();
    // Per seat+key: the unresolved alert with the latest last_seen (what the dedup query returns
    // once anything is within the window), and the newest unresolved one by id (what a clear
    // touches). Only this span changes these alerts, so the first lookup stays true for the span.
    const dedupOf = new Map<string, Mem>();
    const newestOf = new Map<string, Mem | null>();
    const links: AlertEventLink[] = [];
    const mem = (row: DedupTarget): Mem => {
      let m = byId.get(row.id);
      if (!m) {
        m = { id: row.id, severity: row.severity, last_seen: row.last_seen, cleared_at: row.cleared_at, count: row.count, n: 0, lastEventId: null, dirty: false };
        byId.set(row.id, m);
      }
      return m;
    };
    dedupCache.checkOthers();
    let cutoffOf = '';
    let cutoff = '';
    // An alert links the events of its onset only: past LINKED_EVENTS_MAX a storm's repeats cost
    // one counter, not one row each; alerts.count, last_seen and last_event_id carry on, and every
    // event stays in the seat's timeline (docs/alerts.md).
    const link = (m: Mem, e: Normalized) => {
      if (m.count <= LINKED_EVENTS_MAX) links.push({ event_id: e.id, alert_id: m.id, event_type: e.type, event_ts: e.ts, received_at: e.received_at });
    };

    for (const { e, o } of work) {
      const key = `${e.agent_id}\u0000${o.kind === 'clear' ? o.dedupKey : o.alert.dedupKey}`;
      if (o.kind === 'clear') {
        let a = newestOf.get(key);
        if (a === undefined) {
          const row = repo.findUnresolved(e.agent_id, o.dedupKey);
          a = row ? mem(row) : null;
          newestOf.set(key, a);
        }
        if (!a) continue;
        link(a, e);
        // Recorded once per clearing, not per repeated "all fine" report.
        if (a.cleared_at === null) {
          a.cleared_at = nowIso;
          a.dirty = true;
          repo.addHistory({
            alert_id: a.id,
            at: nowIso,
            actor: SYSTEM,
            action: 'cleared',
            note: `${o.reason.zh} / ${o.reason.en}`,
            details: JSON.stringify({ event_id: e.id }),
          });
        }
        continue;
      }
      const c = o.alert;
      // Events of a batch mostly share a receive time: derive the cutoff once per distinct one.
      if (e.received_at !== cutoffOf) {
        cutoffOf = e.received_at;
        cutoff = iso(Date.parse(e.received_at) - config.dedupWindowMs);
      }
      let a = dedupOf.get(key);
      if (a === undefined) {
        // A committed earlier target is what the query would return: nothing else wrote since.
        const row = dedupCache.get(key) ?? repo.findForDedup(e.agent_id, c.dedupKey, cutoff);
        if (row) {
          a = mem(row);
          dedupOf.set(key, a);
        }
      }
      // The remembered alert has the latest last_seen of the key, so if it is out of the window
      // every other one is too.
      if (!a || a.last_seen < cutoff) {
        const id = openAlert(e.agent_id, c, e.received_at, nowIso, e);
        const m: Mem = { id, severity: c.severity, last_seen: e.received_at, cleared_at: null, count: 1, n: 0, lastEventId: null, dirty: false };
        byId.set(id, m);
        dedupOf.set(key, m);
        newestOf.set(key, m);
        link(m, e);
        note(pending, id, 'opened');
        continue;
      }
      a.n++;
      a.count++;
      if (e.received_at > a.last_seen) a.last_seen = e.received_at;
      a.lastEventId = e.id;
      a.cleared_at = null;
      a.dirty = true;
      link(a, e);
      if (severityRank(c.severity) > severityRank(a.severity)) {
        repo.addHistory({
          alert_id: a.id,
          at: nowIso,
          actor: SYSTEM,
          action: 'severity_raised',
          note: null,
          details: JSON.stringify({ from: a.severity, to: c.severity, event_id: e.id }),
        });
        a.severity = c.severity;
        note(pending, a.id, 'severity_raised');
      }
    }
    for (const m of byId.values()) {
      if (!m.dirty) continue;
      repo.applyBatch({ id: m.id, n: m.n, last_seen: m.n > 0 ? m.last_seen : null, last_event_id: m.lastEventId, cleared_at: m.cleared_at, severity: m.severity });
    }
    repo.linkEvents(links);
    // A clear may have touched a remembered target (its cleared_at): keep the cache exact.
    for (const [key, m] of newestOf) if (m && !dedupOf.has(key) && dedupCache.get(key)?.id === m.id) dedupOf.set(key, m);
    return dedupOf;
  }

  // Events of a batch mostly share a receive time: parse and format each distinct one once.
  let lastTimeIn = '';
  let lastTimeOut: string | null = null;
  function canonicalTime(r: string, nowIso: string): string {
    if (r !== lastTimeIn) {
      const ms = Date.parse(r);
      lastTimeIn = r;
      lastTimeOut = Number.isFinite(ms) ? new Date(ms).toISOString() : null;
    }
    return lastTimeOut ?? nowIso;
  }

  function normalize(e: CommittedEvent, nowIso: string): Normalized {
    const r = e.received_at;
    return {
      id: e.id,
      agent_id: e.agent_id,
      seq: e.seq,
      type: e.type,
      ts: typeof e.ts === 'string' ? e.ts : '',
      body: parseBody(e.body),
      received_at: typeof r === 'string' ? canonicalTime(r, nowIso) : nowIso,
    };
  }

  /** Rule outcomes of events in id order; only those with an effect. Reads, never writes. */
  function outcomesOf(events: readonly Normalized[], nowIso: string): Array<{ e: Normalized; o: RuleOutcome }> {
    const out: Array<{ e: Normalized; o: RuleOutcome }> = [];
    for (const e of events) {
      const o = evaluateEvent(
        { type: e.type, body: e.body },
        // Only agent.stopping reads the maintenance flag; skip the lookup for everything else.
        {
          inMaintenance: e.type === 'agent.stopping' && repo.inMaintenance(e.agent_id, nowIso),
          ...(e.type === 'software.installed' && deps.approvedSoftware ? { approvedSoftware: (p: { name: string; version: string | null }) => deps.approvedSoftware?.(e.agent_id, p) ?? false } : {}),
          ...((e.type === 'agent.stopping' || e.type === 'agent.uninstalled') && deps.maintenanceCodeFlag
            ? { maintenanceCodeFlag: () => deps.maintenanceCodeFlag?.(e.agent_id, { type: e.type, seq: e.seq, body: e.body }) ?? null }
            : {}),
        },
      );
      if (o !== null) out.push({ e, o });
    }
    return out;
  }

  /**
   * Applies the outcomes of events up to `lastId` and moves the cursor there. A span without any
   * outcome writes nothing (no extra fsync on the ingest path): the cursor then advances in memory
   * and is persisted on the next write or tick. After a crash those events are evaluated again,
   * which is harmless because they had no effect.
   */
  function commitSpan(events: readonly Normalized[], lastId: number, nowIso: string, pending: Map<number, DispatchReason>): void {
    const work = outcomesOf(events, nowIso);
    if (work.length > 0) {
      const targets = write(() => {
        const t = applyAll(work, nowIso, pending);
        repo.setCursor(lastId);
        return t;
      });
      dedupCache.set(targets);
      cursorDirty = false;
    } else {
      cursorDirty = true;
    }
    cursor = lastId;
  }

  /** Evaluates `batch` (sorted by id), first filling any gap since the cursor from the store. */
  function evaluateBatch(batch: readonly CommittedEvent[], pending: Map<number, DispatchReason>): number | 'behind' {
    const fresh = batch.filter((e) => e.id > cursor);
    const first = fresh[0];
    const last = fresh[fresh.length - 1];
    if (!first || !last) return 0;
    const nowIso = iso(clock.now());
    let gap: StoredEventRow[] = [];
    if (first.id > cursor + 1) {
      // Events committed earlier were never evaluated (a failed batch): do them first, in order.
      gap = repo.eventsBetween(cursor, first.id, config.catchUpBatch + 1);
      if (gap.length > config.catchUpBatch) return 'behind';
    }
    const events = [...gap.map((g) => normalize(g, nowIso)), ...fresh.map((e) => normalize(e, nowIso))];
    commitSpan(events, last.id, nowIso, pending);
    return events.length;
  }

  function evaluateInTransaction(events: readonly CommittedEvent[]): (() => void) | undefined {
    if (events.length === 0) return undefined;
    const pending = new Map<number, DispatchReason>();
    try {
      const sorted = events.filter((e) => Number.isSafeInteger(e.id) && e.id > 0).sort((a, b) => a.id - b.id);
      const fresh = sorted.filter((e) => e.id > cursor);
      const first = fresh[0];
      const last = fresh[fresh.length - 1];
      if (!first || !last) return undefined;
      const nowIso = iso(clock.now());
      let gap: StoredEventRow[] = [];
      if (first.id > cursor + 1) {
        gap = repo.eventsBetween(cursor, first.id, config.catchUpBatch + 1);
        // Too far behind to do inline without stretching the ingest transaction: tick catches up.
        if (gap.length > config.catchUpBatch) return undefined;
      }
      const span = [...gap.map((g) => normalize(g, nowIso)), ...fresh.map((e) => normalize(e, nowIso))];
      const work = outcomesOf(span, nowIso);
      // A nested better-sqlite3 transaction is a SAVEPOINT: a throw undoes only the alert writes.
      const targets = db.transaction(() => {
        const t = work.length > 0 ? applyAll(work, nowIso, pending) : null;
        repo.setCursor(last.id);
        return t;
      })();
      const lastId = last.id;
      return () => {
        if (targets) dedupCache.set(targets);
        if (lastId > cursor) cursor = lastId;
        cursorDirty = false;
        for (const [id, reason] of pending) note(committedPending, id, reason);
      };
    } catch (err) {
      log.error({ err, events: events.length }, 'alert evaluation inside the ingest transaction failed; the events are stored and will be evaluated again');
      return undefined;
    }
  }

  function onCommitted(events: readonly CommittedEvent[]): void {
    flushCommitted();
    if (events.length === 0) return;
    const pending = new Map<number, DispatchReason>();
    try {
      const sorted = events.filter((e) => Number.isSafeInteger(e.id) && e.id > 0).sort((a, b) => a.id - b.id);
      const r = evaluateBatch(sorted, pending);
      if (r === 'behind') {
        if (!behindLogged) log.warn({ events: events.length }, 'alert engine is behind the event log; catching up on tick');
        behindLogged = true;
        return;
      }
      behindLogged = false;
    } catch (err) {
      // The events are committed; the cursor did not move, so the next batch or tick evaluates them.
      log.error({ err, events: events.length }, 'alert evaluation failed; will retry from the event log');
      return;
    }
    flush(pending);
  }

  function catchUp(maxEvents = config.catchUpBatch * 5): number {
    let done = 0;
    while (done < maxEvents) {
      const pending = new Map<number, DispatchReason>();
      const rows = repo.eventsBetween(cursor, null, Math.min(config.catchUpBatch, maxEvents - done));
      const last = rows[rows.length - 1];
      if (!last) break;
      const nowIso = iso(clock.now());
      commitSpan(
        rows.map((r) => normalize(r, nowIso)),
        last.id,
        nowIso,
        pending,
      );
      flush(pending);
      done += rows.length;
    }
    if (done > 0) log.info({ evaluated: done }, 'alert engine caught up with the event log');
    return done;
  }

  function persistCursor(): void {
    if (!cursorDirty) return;
    const at = cursor;
    write(() => repo.setCursor(at));
    cursorDirty = false;
  }

  // ------------------------------------------------------------------------------------------
  // Escalation and heartbeats
  // ------------------------------------------------------------------------------------------

  function escalate(nowMs: number): number {
    const pending = new Map<number, DispatchReason>();
    const maxLevel = config.escalationChain.length - 1;
    const count = write(() => {
      const nowIso = iso(nowMs);
      let n = 0;
      for (const a of repo.dueForEscalation(iso(nowMs - config.escalationAfterMs), maxLevel)) {
        const level = a.escalation_level + 1;
        const role = config.escalationChain[level] ?? config.escalationChain[maxLevel]!;
        if (!repo.escalate(a.id, a.escalation_level, role, nowIso)) continue;
        repo.addHistory({ alert_id: a.id, at: nowIso, actor: SYSTEM, action: 'escalated', note: null, details: JSON.stringify({ level, role }) });
        pending.set(a.id, 'escalated');
        n++;
      }
      return n;
    });
    dedupCache.clear();
    flush(pending);
    return count;
  }

  function systemResolve(a: AlertRow, text: string, nowIso: string, pending: Map<number, DispatchReason>): boolean {
    if (!repo.resolve(a.id, SYSTEM, nowIso, text)) return false;
    repo.addHistory({ alert_id: a.id, at: nowIso, actor: SYSTEM, action: 'resolved', note: text, details: null });
    note(pending, a.id, 'resolved');
    return true;
  }

  function checkHeartbeats(nowMs: number): { raised: number; resolved: number } {
    const pending = new Map<number, DispatchReason>();
    const miss = config.heartbeatMissAfterMs;
    const result = write(() => {
      const nowIso = iso(nowMs);
      const r = { raised: 0, resolved: 0 };
      const open = new Map(repo.unresolvedByRule('agent.offline').map((a) => [a.agent_id, a]));
      const maintenance = repo.seatsInMaintenance(nowIso);
      for (const s of repo.seats()) {
        const alert = open.get(s.agent_id);
        if (s.revoked_at !== null) {
          if (alert && systemResolve(alert, 'seat revoked (座席已注销)', nowIso, pending)) r.resolved++;
          continue;
        }
        const lastSeen = s.last_seen ?? s.enrolled_at;
        if (!isStale(lastSeen, nowMs, miss)) {
          if (alert && systemResolve(alert, 'heartbeat resumed (心跳已恢复)', nowIso, pending)) r.resolved++;
          continue;
        }
        if (alert || maintenance.has(s.agent_id)) continue;
        const last = s.last_seen === null ? null : sanitizeText(s.last_seen, 40);
        const minutes = Math.round(miss / 60_000);
        const id = openAlert(
          s.agent_id,
          {
            rule: 'agent.offline',
            severity: 'medium',
            dedupKey: 'agent.offline',
            title: { zh: '座席离线(心跳中断)', en: 'Seat offline (missed heartbeats)' },
            detail: {
              zh: last === null ? `座席自注册以来从未连接(超过 ${minutes} 分钟)` : `最后在线 ${last}，超过 ${minutes} 分钟无心跳`,
              en: last === null ? `The seat never connected since enrollment (over ${minutes} min)` : `Last seen ${last}; no heartbeat for over ${minutes} min`,
            },
            device: null,
          },
          nowIso,
          nowIso,
          null,
        );
        note(pending, id, 'opened');
        r.raised++;
      }
      return r;
    });
    dedupCache.clear();
    flush(pending);
    return result;
  }

  function tick(): TickResult {
    const res: TickResult = { evaluated: 0, escalated: 0, offlineRaised: 0, offlineResolved: 0 };
    flushCommitted();
    try {
      if (repo.maxEventId() > cursor) res.evaluated = catchUp();
      persistCursor();
    } catch (err) {
      log.error({ err }, 'alert catch-up failed');
    }
    const nowMs = clock.now();
    try {
      res.escalated = escalate(nowMs);
    } catch (err) {
      log.error({ err }, 'alert escalation failed');
    }
    try {
      const h = checkHeartbeats(nowMs);
      res.offlineRaised = h.raised;
      res.offlineResolved = h.resolved;
    } catch (err) {
      log.error({ err }, 'heartbeat check failed');
    }
    return res;
  }

  // ------------------------------------------------------------------------------------------
  // Lifecycle
  // ------------------------------------------------------------------------------------------

  function mustGet(id: number): AlertWithSeat {
    const row = repo.get(id);
    if (!row) throw new AppError('ALERT_ERR_NOT_FOUND', formatError('ALERT_ERR_NOT_FOUND', id), { details: { alert_id: id } });
    return row;
  }

  function view(id: number): AlertView {
    return toAlertView(mustGet(id));
  }

  /** Runs one lifecycle step: checks the transition, applies it (conditionally) and records history. */
  function step(id: number, action: AlertAction, apply: (nowIso: string) => boolean, history: (nowIso: string) => { actor: string; action: string; note: string | null; details?: unknown }): AlertView {
    // A resolved alert is no dedup target any more; the rest is cheap to look up again.
    dedupCache.clear();
    return write(() => {
      const row = mustGet(id);
      assertTransition(id, row.state, action);
      const nowIso = iso(clock.now());
      // The conditional UPDATE is the real guard; the check above only gives the better error.
      if (!apply(nowIso)) assertTransition(id, mustGet(id).state, action);
      const h = history(nowIso);
      repo.addHistory({ alert_id: id, at: nowIso, actor: h.actor, action: h.action, note: h.note, details: h.details === undefined ? null : JSON.stringify(h.details) });
      return view(id);
    });
  }

  function acknowledge(idIn: number, userIn: string): AlertView {
    const id = cleanId(idIn);
    const user = cleanActor(userIn, 'user');
    const v = step(id, 'acknowledge', (at) => repo.acknowledge(id, user, at), () => ({ actor: user, action: 'acknowledged', note: null }));
    log.info({ alert_id: id, by: user }, 'alert acknowledged');
    return v;
  }

  function assign(idIn: number, assigneeIn: string, byIn: string): AlertView {
    const id = cleanId(idIn);
    const assignee = cleanActor(assigneeIn, 'assignee');
    const by = cleanActor(byIn, 'by');
    const v = step(id, 'assign', (at) => repo.assign(id, assignee, by, at), () => ({ actor: by, action: 'assigned', note: null, details: { assignee } }));
    log.info({ alert_id: id, by, assignee }, 'alert assigned');
    return v;
  }

  function resolve(idIn: number, byIn: string, noteIn: string): AlertView {
    const id = cleanId(idIn);
    const by = cleanActor(byIn, 'by');
    const text = cleanNote(noteIn);
    // Checked here first only so a closed alert reports the transition, not the missing note.
    assertTransition(id, mustGet(id).state, 'resolve');
    if (text === '') throw new AppError('ALERT_ERR_NOTE_REQUIRED', formatError('ALERT_ERR_NOTE_REQUIRED', id), { details: { alert_id: id } });
    const v = step(id, 'resolve', (at) => repo.resolve(id, by, at, text), () => ({ actor: by, action: 'resolved', note: text }));
    log.info({ alert_id: id, by }, 'alert resolved');
    flush(new Map([[id, 'resolved' as const]]));
    return v;
  }

  function addNote(idIn: number, byIn: string, noteIn: string): AlertView {
    const id = cleanId(idIn);
    const by = cleanActor(byIn, 'by');
    const text = cleanNote(noteIn);
    if (text === '') throw invalid('note must not be empty');
    return step(id, 'note', () => true, () => ({ actor: by, action: 'note', note: text }));
  }

  // ------------------------------------------------------------------------------------------
  // Queries
  // ------------------------------------------------------------------------------------------

  function sinceIso(v: number | string | undefined): string | undefined {
    if (v === undefined) return undefined;
    const ms = typeof v === 'number' ? v : Date.parse(v);
    if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw invalid('since must be epoch milliseconds or an ISO time');
    return iso(ms);
  }

  function list(q: AlertListQuery = {}): { alerts: AlertView[]; total: number; limit: number; offset: number } {
    const limit = q.limit ?? 50;
    const offset = q.offset ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > LIST_MAX) throw invalid(`limit must be 1-${LIST_MAX}`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw invalid('offset must be a non-negative integer');
    if (q.state !== undefined && !STATES.includes(q.state)) throw invalid('unknown state');
    if (q.severity !== undefined && !ALERT_SEVERITIES.includes(q.severity)) throw invalid('unknown severity');
    for (const k of ['agent_id', 'rule'] as const) {
      const v = q[k];
      if (v !== undefined && (typeof v !== 'string' || v.length === 0 || v.length > 256)) throw invalid(`${k} must be a short string`);
    }
    const since = sinceIso(q.since);
    const { rows, total } = repo.list({
      limit,
      offset,
      ...(q.state === undefined ? {} : { state: q.state }),
      ...(q.severity === undefined ? {} : { severity: q.severity }),
      ...(q.agent_id === undefined ? {} : { agent_id: q.agent_id }),
      ...(q.rule === undefined ? {} : { rule: q.rule }),
      ...(since === undefined ? {} : { since }),
    });
    return { alerts: rows.map(toAlertView), total, limit, offset };
  }

  function get(idIn: number): AlertDetail | undefined {
    const id = cleanId(idIn);
    const row = repo.get(id);
    if (!row) return undefined;
    return { alert: toAlertView(row), history: repo.history(id).map(toHistoryEntry), events: repo.linkedEvents(id, LINKED_EVENTS_MAX) };
  }

  // ------------------------------------------------------------------------------------------
  // Maintenance and handover
  // ------------------------------------------------------------------------------------------

  function startMaintenance(agentIdIn: string, o: { by: string; durationMs: number; reason: string }) {
    const agentId = cleanActor(agentIdIn, 'agent_id');
    const by = cleanActor(o.by, 'by');
    const reason = cleanNote(o.reason);
    if (reason === '') throw invalid('a maintenance window needs a reason');
    if (!Number.isSafeInteger(o.durationMs) || o.durationMs < 1 || o.durationMs > MAINTENANCE_MAX_MS) throw invalid('durationMs must be 1 ms to 7 days');
    const nowMs = clock.now();
    const w = { agent_id: agentId, starts_at: iso(nowMs), ends_at: iso(nowMs + o.durationMs), created_by: by, reason };
    const id = write(() => repo.addMaintenance(w));
    log.info({ agent_id: agentId, by, ends_at: w.ends_at }, 'maintenance window opened');
    return { id, starts_at: w.starts_at, ends_at: w.ends_at };
  }

  function endMaintenance(agentIdIn: string, byIn: string): number {
    const agentId = cleanActor(agentIdIn, 'agent_id');
    const by = cleanActor(byIn, 'by');
    const n = write(() => repo.endMaintenance(agentId, iso(clock.now()), by));
    log.info({ agent_id: agentId, by, windows: n }, 'maintenance window closed');
    return n;
  }

  function handoverReport(nowMs = clock.now(), opts: { since?: number } = {}): HandoverReport {
    let from: { ms: number; source: HandoverReport['period']['source'] };
    if (opts.since !== undefined) {
      if (!Number.isFinite(opts.since)) throw invalid('since must be epoch milliseconds');
      from = { ms: opts.since, source: 'given' };
    } else {
      const last = repo.lastHandover();
      const lastMs = last ? Date.parse(last.at) : NaN;
      from = Number.isFinite(lastMs) && lastMs <= nowMs ? { ms: lastMs, source: 'last_handover' } : { ms: nowMs - config.shiftLengthMs, source: 'shift_length' };
    }
    return buildHandoverReport({
      repo,
      nowMs,
      from,
      timeZone: config.reportTimeZone,
      heartbeatMissAfterMs: config.heartbeatMissAfterMs,
      activeGrants: deps.activeGrants,
    });
  }

  function confirmHandover(o: { outgoing: string; incoming: string }): { id: number; at: string; report: HandoverReport } {
    const outgoing = cleanActor(o.outgoing, 'outgoing');
    const incoming = cleanActor(o.incoming, 'incoming');
    // WF-8: the substitute carries the shift, but nobody hands over to themselves.
    if (outgoing === incoming) throw invalid('outgoing and incoming must be different people');
    return write(() => {
      const nowMs = clock.now();
      const report = handoverReport(nowMs);
      const at = iso(nowMs);
      const id = repo.addHandover({ at, outgoing, incoming, period_from: report.period.from, report: JSON.stringify(report) });
      log.info({ handover_id: id, outgoing, incoming }, 'shift handover confirmed');
      return { id, at, report };
    });
  }

  return {
    config,
    evaluateInTransaction,
    onCommitted,
    catchUp,
    tick,
    acknowledge,
    assign,
    resolve,
    addNote,
    list,
    get,
    startMaintenance,
    endMaintenance,
    handoverReport,
    confirmHandover,
  };
}
