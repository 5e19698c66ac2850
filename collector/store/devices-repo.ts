import type { UsbDevice } from '../../shared/domain/usb.js';
import { deviceKey } from '../../shared/domain/usb.js';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import type { DepartmentScope } from '../auth/privileges.js';
import type { EventRow } from './events-repo.js';

export interface DeviceRow {
  device_key: string;
  vendor_id: string;
  product_id: string;
  serial: string | null;
  manufacturer: string | null;
  product: string | null;
  hash: string | null;
  first_seen: string;
  last_seen: string;
}

export interface SightingRow {
  device_key: string;
  agent_id: string;
  first_seen: string;
  last_seen: string;
  count: number;
}

/** Sort orders of the device list; a leading '-' means descending. */
export const DEVICE_SORTS = ['-last_seen', 'last_seen', '-first_seen', 'first_seen', '-seats', 'device_key'] as const;
export type DeviceSort = (typeof DEVICE_SORTS)[number];

export interface DeviceListQuery {
  /** Substring of device key (vid, pid, serial, hash), manufacturer or product. */
  q?: string;
  /** Only devices seen on this seat. */
  agentId?: string;
  sort: DeviceSort;
  limit: number;
  offset: number;
  /** Only devices seen on seats of these departments ('*' = all). */
  scope: DepartmentScope;
}

/** A device with its spread: on how many seats, how many plug-ins in total. */
export interface DeviceListRow extends DeviceRow {
  seat_count: number;
  insert_count: number;
}

/** A sighting with the seat's name and department (null when the seat row is gone). */
export interface SeatSightingRow extends SightingRow {
  seat_name: string | null;
  department: string | null;
}

export interface DeviceEventRow extends EventRow {
  seat_name: string | null;
}

/** One USB event of a batch for {@link DevicesRepo.recordSightings}. */
export interface SightingInput {
  device: UsbDevice;
  agentId: string;
  /** The agent's event time. */
  at: string;
  /** A new plug-in (usb.inserted); other usb.* events only widen the first/last window. */
  inserted: boolean;
}

export interface DevicesRepo {
  /**
   * {@link DevicesRepo.recordSighting} for a batch in event order, written as one device upsert
   * per device and one sighting upsert per (device, seat): the same end state as one call per
   * event. Call inside the caller's transaction.
   */
  recordSightings(batch: readonly SightingInput[]): void;
  /**
   * Records that `agentId` saw `device` at `at` (the agent's event time). `inserted` counts a new
   * plug-in; other usb.* events only widen the first/last window. Returns the device key.
   */
  recordSighting(device: UsbDevice, agentId: string, at: string, inserted: boolean): string;
  get(key: string): DeviceRow | undefined;
  sightings(key: string): SightingRow[];
  /** The console's device list: filter, sort, page; `total` counts every match. */
  list(q: DeviceListQuery): { rows: DeviceListRow[]; total: number };
  /** One device with its spread, or undefined. */
  getWithCounts(key: string): DeviceListRow | undefined;
  /** Where the device was seen, newest first, limited to seats in `scope`. */
  seatSightings(key: string, scope: DepartmentScope): SeatSightingRow[];
  /** Events that carried the device (device_events), newest first, id < `beforeId`, seats in `scope`. */
  events(key: string, q: { beforeId: number; limit: number; scope: DepartmentScope }): DeviceEventRow[];
}

function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

const SORT_SQL: Record<DeviceSort, string> = {
  '-last_seen': 'd.last_seen DESC, d.device_key',
  last_seen: 'd.last_seen ASC, d.device_key',
  '-first_seen': 'd.first_seen DESC, d.device_key',
  first_seen: 'd.first_seen ASC, d.device_key',
  '-seats': 'seat_count DESC, d.last_seen DESC, d.device_key',
  device_key: 'd.device_key',
};

const SPREAD_COLS = `d.*,
  (SELECT count(*) FROM device_sightings s WHERE s.device_key = d.device_key) AS seat_count,
  (SELECT coalesce(sum(s.count), 0) FROM device_sightings s WHERE s.device_key = d.device_key) AS insert_count`;

const inScopeSql = (scope: DepartmentScope, agentCol: string) =>
  scope === '*' ? '' : ` AND ${agentCol} IN (SELECT agent_id FROM agents WHERE department IN (SELECT value FROM json_each(@scope)))`;

/** SQLite's min()/max() on TEXT compare UTF-8 bytes; JS compares UTF-16 units. Same for ASCII. */
function textLess(a: string, b: string): boolean {
  // eslint-disable-next-line no-control-regex -- "is it plain ASCII"
  const ascii = /^[\u0000-\u007f]*$/;
  if (ascii.test(a) && ascii.test(b)) return a < b;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')) < 0;
}

/**
 * A device row aggregated over a batch, as the per-event upserts would have left it: vendor_id,
 * product_id and serial from the first event (what its insert stored); manufacturer and product
 * from the last (each upsert overwrites them); hash the last non-null one (an upsert keeps the
 * stored hash when the new one is null); first/last the earliest and latest event times.
 */
interface DeviceAgg extends Omit<DeviceRow, 'first_seen' | 'last_seen'> {
  first: string;
  last: string;
}

/** The device row one event at `at` stands for. */
function deviceSpan(key: string, device: UsbDevice, at: string): DeviceAgg {
  return {
    device_key: key,
    vendor_id: device.vendor_id,
    product_id: device.product_id,
    serial: device.serial,
    manufacturer: device.manufacturer,
    product: device.product,
    hash: device.hash,
    first: at,
    last: at,
  };
}

/** Devices aggregate: every USB device seen anywhere, and where ("where has this stick been"). */
export function createDevicesRepo(db: Db): DevicesRepo {
  // min/max keep the window right when an agent replays old events from its outbox. One sighting
  // is the span [at, at]; a batch merges its sightings per device (and per seat) into one span.
  const upsertDeviceSpan = db.prepare(`INSERT INTO devices
      (device_key, vendor_id, product_id, serial, manufacturer, product, hash, first_seen, last_seen)
    VALUES (@device_key, @vendor_id, @product_id, @serial, @manufacturer, @product, @hash, @first, @last)
    ON CONFLICT (device_key) DO UPDATE SET
      manufacturer = excluded.manufacturer, product = excluded.product,
      hash = coalesce(excluded.hash, devices.hash),
      first_seen = min(devices.first_seen, excluded.first_seen),
      last_seen = max(devices.last_seen, excluded.last_seen)`);
  const upsertSightingSpan = db.prepare(`INSERT INTO device_sightings (device_key, agent_id, first_seen, last_seen, count)
    VALUES (@device_key, @agent_id, @first, @last, @inc)
    ON CONFLICT (device_key, agent_id) DO UPDATE SET
      first_seen = min(device_sightings.first_seen, excluded.first_seen),
      last_seen = max(device_sightings.last_seen, excluded.last_seen),
      count = device_sightings.count + excluded.count`);
  const getStmt = db.prepare('SELECT * FROM devices WHERE device_key = ?');
  const sightingsStmt = db.prepare('SELECT * FROM device_sightings WHERE device_key = ? ORDER BY last_seen DESC');
  const getCounts = db.prepare(`SELECT ${SPREAD_COLS} FROM devices d WHERE d.device_key = ?`);
  const stmts = new Map<string, Statement<unknown[]>>();
  // Filter combinations are few; each gets its own prepared statement on first use.
  const stmt = (sql: string) => {
    let st = stmts.get(sql);
    if (!st) {
      st = db.prepare(sql);
      stmts.set(sql, st);
    }
    return st;
  };
  const scopeParam = (scope: DepartmentScope) => (scope === '*' ? {} : { scope: JSON.stringify(scope) });

  return {
    recordSighting: (device, agentId, at, inserted) => {
      const key = deviceKey(device);
      upsertDeviceSpan.run(deviceSpan(key, device, at));
      upsertSightingSpan.run({ device_key: key, agent_id: agentId, first: at, last: at, inc: inserted ? 1 : 0 });
      return key;
    },
    recordSightings(batch) {
      const devices = new Map<string, DeviceAgg>();
      const sightings = new Map<string, { device_key: string; agent_id: string; first: string; last: string; inc: number }>();
      for (const { device, agentId, at, inserted } of batch) {
        const key = deviceKey(device);
        const d = devices.get(key);
        if (!d) {
          devices.set(key, deviceSpan(key, device, at));
        } else {
          d.manufacturer = device.manufacturer;
          d.product = device.product;
          if (device.hash !== null) d.hash = device.hash;
          if (textLess(at, d.first)) d.first = at;
          if (textLess(d.last, at)) d.last = at;
        }
        const sk = JSON.stringify([key, agentId]);
        const s = sightings.get(sk);
        if (!s) sightings.set(sk, { device_key: key, agent_id: agentId, first: at, last: at, inc: inserted ? 1 : 0 });
        else {
          if (textLess(at, s.first)) s.first = at;
          if (textLess(s.last, at)) s.last = at;
          if (inserted) s.inc++;
        }
      }
      // Devices first: a sighting references its device.
      for (const d of devices.values()) upsertDeviceSpan.run(d);
      for (const s of sightings.values()) upsertSightingSpan.run(s);
    },
    get: (key) => getStmt.get(key) as DeviceRow | undefined,
    sightings: (key) => sightingsStmt.all(key) as SightingRow[],
    list({ q, agentId, sort, limit, offset, scope }) {
      let where = 'WHERE 1 = 1';
      const params: Record<string, unknown> = { ...scopeParam(scope) };
      if (q !== undefined && q !== '') {
        where += ` AND (d.device_key LIKE @p ESCAPE '\\' OR d.manufacturer LIKE @p ESCAPE '\\' OR d.product LIKE @p ESCAPE '\\')`;
        params.p = likePattern(q);
      }
      if (agentId !== undefined) {
        where += ' AND d.device_key IN (SELECT device_key FROM device_sightings WHERE agent_id = @agent)';
        params.agent = agentId;
      }
      if (scope !== '*') where += ` AND d.device_key IN (SELECT device_key FROM device_sightings s WHERE 1 = 1${inScopeSql(scope, 's.agent_id')})`;
      const rows = stmt(`SELECT ${SPREAD_COLS} FROM devices d ${where} ORDER BY ${SORT_SQL[sort]} LIMIT @limit OFFSET @offset`).all({ ...params, limit, offset }) as DeviceListRow[];
      const total = (stmt(`SELECT count(*) AS n FROM devices d ${where}`).get(params) as { n: number }).n;
      return { rows, total };
    },
    getWithCounts: (key) => getCounts.get(key) as DeviceListRow | undefined,
    seatSightings: (key, scope) =>
      stmt(`SELECT s.*, a.seat_name, a.department FROM device_sightings s LEFT JOIN agents a ON a.agent_id = s.agent_id
        WHERE s.device_key = @key${inScopeSql(scope, 's.agent_id')} ORDER BY s.last_seen DESC, s.agent_id`).all({ key, ...scopeParam(scope) }) as SeatSightingRow[],
    events: (key, { beforeId, limit, scope }) =>
      stmt(`SELECT e.id, e.agent_id, e.seq, e.type, e.ts, e.received_at, e.body, a.seat_name
        FROM device_events de JOIN events e ON e.id = de.event_id LEFT JOIN agents a ON a.agent_id = e.agent_id
        WHERE de.device_key = @key AND de.event_id < @before${inScopeSql(scope, 'e.agent_id')}
        ORDER BY de.event_id DESC LIMIT @limit`).all({ key, before: beforeId, limit, ...scopeParam(scope) }) as DeviceEventRow[],
  };
}
