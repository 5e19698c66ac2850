import type { DepartmentScope } from '../auth/privileges.js';
import { deviceKey, type UsbDevice } from '../../shared/domain/usb.js';
import type { DeviceSort, DevicesRepo } from '../store/devices-repo.js';
import type { Cursor, Page, ReportRepo } from '../store/report-repo.js';

/** What can be exported, as named in the URL (`/export/<kind>.csv`). */
export const EXPORT_KINDS = ['seats', 'events', 'devices', 'unlock-requests', 'alerts'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

/** Rows per page read (one short statement each). */
export const EXPORT_PAGE_ROWS = 1_000;

export interface ExportFilter {
  q?: string;
  department?: string;
  type?: string;
  agent_id?: string;
  since?: string;
  until?: string;
  state?: string;
  severity?: string;
  sort?: DeviceSort;
  /** Maximum rows (events only; default 100 000). */
  limit?: number;
}

export interface ExportPlan {
  header: readonly string[];
  pages: () => Iterable<ReadonlyArray<readonly unknown[]>>;
}

export const DEFAULT_EVENT_EXPORT_ROWS = 100_000;

function* keyset<T>(read: (after: Cursor) => Page<T>, toRow: (r: T) => readonly unknown[], max = Infinity): Generator<ReadonlyArray<readonly unknown[]>> {
  let after: Cursor = null;
  let sent = 0;
  for (;;) {
    const { rows, next } = read(after);
    const take = rows.slice(0, Math.max(0, max - sent));
    sent += take.length;
    yield take.map(toRow);
    if (next === null || sent >= max) return;
    after = next;
  }
}

function deviceKeyOfBody(body: string): string | null {
  // The body is our own stored JSON (schema-checked at ingest).
  const parsed = JSON.parse(body) as { device?: UsbDevice };
  return parsed.device && typeof parsed.device.vendor_id === 'string' ? deviceKey(parsed.device) : null;
}

const SEAT_HEADER = ['agent_id', 'seat_name', 'hostname', 'department', 'platform', 'agent_version', 'online', 'lock_state', 'last_seen', 'enrolled_at', 'revoked_at', 'last_seq'] as const;
const ALERT_HEADER = [
  'id', 'rule', 'severity', 'state', 'agent_id', 'seat_name', 'department', 'title_zh', 'title_en', 'count', 'first_seen', 'last_seen', 'created_at',
  'assignee', 'acknowledged_by', 'acknowledged_at', 'resolved_by', 'resolved_at', 'resolution_note', 'escalation_level',
] as const;
const UNLOCK_HEADER = [
  'id', 'agent_id', 'seat_name', 'department', 'state', 'source', 'device_key', 'vendor_id', 'product_id', 'serial', 'port', 'reason', 'duration_ms',
  'requested_by', 'requested_at', 'approvals', 'closed_by', 'closed_reason', 'grant_id', 'grant_executor', 'grant_starts_at', 'grant_expires_at',
  'end_reason', 'ended_at', 'grant_applied_at', 'relocked_at',
] as const;

/**
 * The header and page reader of one export, or null when its table does not exist on this
 * collector (alerts, unlock requests). Column lists are allowlists: nothing else leaves.
 */
export function planExport(kind: ExportKind, f: ExportFilter, scope: DepartmentScope, deps: { reports: ReportRepo; devices: DevicesRepo }): ExportPlan | null {
  const { reports, devices } = deps;
  const opt = <K extends keyof ExportFilter>(k: K) => (f[k] === undefined ? {} : { [k]: f[k] });
  switch (kind) {
    case 'seats':
      return {
        header: SEAT_HEADER,
        pages: () =>
          keyset(
            (after) => reports.seatsPage({ ...opt('q'), ...opt('department'), scope }, after, EXPORT_PAGE_ROWS),
            (r) => SEAT_HEADER.map((c) => (c === 'online' ? r.online === 1 : r[c])),
          ),
      };
    case 'events': {
      const header = ['id', 'agent_id', 'seat_name', 'seq', 'type', 'ts', 'received_at', 'device_key', 'body'] as const;
      const filter = {
        scope,
        ...(f.type === undefined ? {} : { type: f.type }),
        ...(f.agent_id === undefined ? {} : { agentId: f.agent_id }),
        ...(f.since === undefined ? {} : { since: f.since }),
        ...(f.until === undefined ? {} : { until: f.until }),
      };
      return {
        header,
        pages: () =>
          keyset(
            (after) => reports.eventsPage(filter, after, EXPORT_PAGE_ROWS),
            (r) => [r.id, r.agent_id, r.seat_name, r.seq, r.type, r.ts, r.received_at, deviceKeyOfBody(r.body), r.body],
            f.limit ?? DEFAULT_EVENT_EXPORT_ROWS,
          ),
      };
    }
    case 'devices': {
      const header = ['device_key', 'vendor_id', 'product_id', 'serial', 'manufacturer', 'product', 'hash', 'first_seen', 'last_seen', 'seat_count', 'insert_count'] as const;
      return {
        header,
        *pages() {
          // Devices are far fewer than events: offset paging keeps the list's sort orders.
          for (let offset = 0; ; offset += EXPORT_PAGE_ROWS) {
            const { rows } = devices.list({
              ...(f.q === undefined ? {} : { q: f.q }),
              ...(f.agent_id === undefined ? {} : { agentId: f.agent_id }),
              sort: f.sort ?? '-last_seen',
              limit: EXPORT_PAGE_ROWS,
              offset,
              scope,
            });
            yield rows.map((r) => header.map((c) => r[c]));
            if (rows.length < EXPORT_PAGE_ROWS) return;
          }
        },
      };
    }
    case 'alerts': {
      const filter = { scope, ...rowFilter(f) };
      if (reports.alertsPage(filter, null, 1) === null) return null;
      return {
        header: ALERT_HEADER,
        pages: () => keyset((after) => reports.alertsPage(filter, after, EXPORT_PAGE_ROWS) ?? { rows: [], next: null }, (r) => ALERT_HEADER.map((c) => r[c])),
      };
    }
    case 'unlock-requests': {
      const filter = { scope, ...rowFilter(f) };
      if (reports.unlockPage(filter, null, 1) === null) return null;
      return {
        header: UNLOCK_HEADER,
        pages: () => keyset((after) => reports.unlockPage(filter, after, EXPORT_PAGE_ROWS) ?? { rows: [], next: null }, (r) => UNLOCK_HEADER.map((c) => r[c])),
      };
    }
  }
}

function rowFilter(f: ExportFilter) {
  return {
    ...(f.state === undefined ? {} : { state: f.state }),
    ...(f.severity === undefined ? {} : { severity: f.severity }),
    ...(f.agent_id === undefined ? {} : { agentId: f.agent_id }),
    ...(f.since === undefined ? {} : { since: f.since }),
    ...(f.until === undefined ? {} : { until: f.until }),
  };
}
