import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { formatError } from '../../../shared/errors.js';
import { auditAccess } from '../../audit/access-audit.js';
import type { AuditLog } from '../../audit/audit-log.js';
import { DEVICE_SORTS, type DeviceListRow, type DevicesRepo } from '../../store/devices-repo.js';
import type { ReportRepo } from '../../store/report-repo.js';
import { requireAction } from '../authorize.js';
import { sendError } from '../errors.js';

const AgentIdParam = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' });

/** A device key ('vid:pid:s:<serial>', 'vid:pid:h:<hash>', 'vid:pid:anon'); the serial is arbitrary text. */
export const DeviceKeyParam = Type.String({ minLength: 11, maxLength: 300, pattern: '^[0-9a-f]{4}:[0-9a-f]{4}:' });

export const DeviceListQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 128, description: 'Substring of key, vid, pid, serial, manufacturer, product' })),
    agent_id: Type.Optional(AgentIdParam),
    sort: Type.Optional(Type.Union(DEVICE_SORTS.map((s) => Type.Literal(s)), { description: "Leading '-' = descending; default -last_seen" })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);
export type DeviceListQuery = Static<typeof DeviceListQuery>;

export const DeviceParams = Type.Object({ device_key: DeviceKeyParam }, { additionalProperties: false });
export type DeviceParams = Static<typeof DeviceParams>;

export const DeviceDetailQuery = Type.Object(
  {
    events_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    before_id: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Event id cursor: only older events' })),
  },
  { additionalProperties: false },
);
export type DeviceDetailQuery = Static<typeof DeviceDetailQuery>;

const NullableString = Type.Union([Type.String(), Type.Null()]);
export const DeviceView = Type.Object({
  device_key: Type.String(),
  vendor_id: Type.String(),
  product_id: Type.String(),
  serial: NullableString,
  manufacturer: NullableString,
  product: NullableString,
  hash: NullableString,
  first_seen: Type.String(),
  last_seen: Type.String(),
  seat_count: Type.Integer(),
  insert_count: Type.Integer(),
});

const DeviceListResponse = Type.Object({ devices: Type.Array(DeviceView), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() });

/** What the API shows of a device (an allowlist of columns). */
export function deviceView(r: DeviceListRow) {
  return {
    device_key: r.device_key,
    vendor_id: r.vendor_id,
    product_id: r.product_id,
    serial: r.serial,
    manufacturer: r.manufacturer,
    product: r.product,
    hash: r.hash,
    first_seen: r.first_seen,
    last_seen: r.last_seen,
    seat_count: r.seat_count,
    insert_count: r.insert_count,
  };
}

/** Unlock cases of a device as the device page shows them (no free-text body beyond the reason). */
function unlockView(r: Record<string, unknown>) {
  const pick = ['id', 'agent_id', 'state', 'reason', 'requested_by', 'requested_at', 'duration_ms', 'grant_executor', 'grant_starts_at', 'grant_expires_at', 'end_reason', 'ended_at'];
  return Object.fromEntries(pick.map((k) => [k, r[k] ?? null]));
}

/** /api/v1/devices: every USB device ever seen, and one device's history (device.read; detail reads are audited). */
export function deviceRoutes(deps: { devices: DevicesRepo; reports: ReportRepo; audit: AuditLog }) {
  const { devices } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: DeviceListQuery }>(
      '/devices',
      {
        schema: { summary: 'Every USB device ever seen', querystring: DeviceListQuery, response: { 200: DeviceListResponse } },
        preHandler: requireAction('device.read'),
      },
      async (req) => {
        const limit = req.query.limit ?? 50;
        const offset = req.query.offset ?? 0;
        const { rows, total } = devices.list({
          ...(req.query.q === undefined ? {} : { q: req.query.q }),
          ...(req.query.agent_id === undefined ? {} : { agentId: req.query.agent_id }),
          sort: req.query.sort ?? '-last_seen',
          limit,
          offset,
          scope: req.principal?.departments ?? [],
        });
        return { devices: rows.map(deviceView), total, limit, offset };
      },
    );

    app.get<{ Params: DeviceParams; Querystring: DeviceDetailQuery }>(
      '/devices/:device_key',
      {
        schema: { summary: 'Where has this device been: sightings, events, unlock cases', params: DeviceParams, querystring: DeviceDetailQuery },
        // Device history says which workplace used which stick when: every read is audited.
        preHandler: [requireAction('device.read'), auditAccess(deps.audit, 'access.device_history', (req) => ({ type: 'device', id: (req.params as DeviceParams).device_key }))],
      },
      async (req, reply) => {
        const key = req.params.device_key;
        const scope = req.principal?.departments ?? [];
        const row = devices.getWithCounts(key);
        const sightings = row ? devices.seatSightings(key, scope) : [];
        // A scoped user sees only devices that were on one of their seats; others get the same 404 as unknown keys.
        if (!row || (scope !== '*' && sightings.length === 0)) {
          return sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'device'));
        }
        const limit = req.query.events_limit ?? 100;
        const events = devices.events(key, { beforeId: req.query.before_id ?? Number.MAX_SAFE_INTEGER, limit, scope });
        const last = events.at(-1);
        const unlocks = deps.reports.unlocksForDevice(key, scope);
        return {
          device: deviceView(row),
          sightings: sightings.map((s) => ({
            agent_id: s.agent_id,
            seat_name: s.seat_name,
            department: s.department,
            first_seen: s.first_seen,
            last_seen: s.last_seen,
            count: s.count,
          })),
          // Bodies are our own stored JSON, schema-checked at ingest.
          events: events.map((e) => ({ id: e.id, agent_id: e.agent_id, seat_name: e.seat_name, seq: e.seq, type: e.type, ts: e.ts, received_at: e.received_at, body: JSON.parse(e.body) as unknown })),
          next_before_id: events.length === limit && last ? last.id : null,
          unlock_requests: { available: unlocks !== null, items: (unlocks ?? []).map(unlockView) },
        };
      },
    );
  };
}
