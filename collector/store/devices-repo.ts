import type { UsbDevice } from '../../shared/domain/usb.js';
import { deviceKey } from '../../shared/domain/usb.js';
import type { Db } from './db.js';

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

export interface DevicesRepo {
  /**
   * Records that `agentId` saw `device` at `at` (the agent's event time). `inserted` counts a new
   * plug-in; other usb.* events only widen the first/last window. Returns the device key.
   */
  recordSighting(device: UsbDevice, agentId: string, at: string, inserted: boolean): string;
  get(key: string): DeviceRow | undefined;
  sightings(key: string): SightingRow[];
}

/** Devices aggregate: every USB device seen anywhere, and where ("where has this stick been"). */
export function createDevicesRepo(db: Db): DevicesRepo {
  // min/max keep the window right when an agent replays old events from its outbox.
  const upsertDevice = db.prepare(`INSERT INTO devices
      (device_key, vendor_id, product_id, serial, manufacturer, product, hash, first_seen, last_seen)
    VALUES (@device_key, @vendor_id, @product_id, @serial, @manufacturer, @product, @hash, @at, @at)
    ON CONFLICT (device_key) DO UPDATE SET
      manufacturer = excluded.manufacturer, product = excluded.product,
      hash = coalesce(excluded.hash, devices.hash),
      first_seen = min(devices.first_seen, excluded.first_seen),
      last_seen = max(devices.last_seen, excluded.last_seen)`);
  const upsertSighting = db.prepare(`INSERT INTO device_sightings (device_key, agent_id, first_seen, last_seen, count)
    VALUES (@device_key, @agent_id, @at, @at, @inc)
    ON CONFLICT (device_key, agent_id) DO UPDATE SET
      first_seen = min(device_sightings.first_seen, excluded.first_seen),
      last_seen = max(device_sightings.last_seen, excluded.last_seen),
      count = device_sightings.count + excluded.count`);
  const getStmt = db.prepare('SELECT * FROM devices WHERE device_key = ?');
  const sightingsStmt = db.prepare('SELECT * FROM device_sightings WHERE device_key = ? ORDER BY last_seen DESC');

  return {
    recordSighting: (device, agentId, at, inserted) => {
      const key = deviceKey(device);
      upsertDevice.run({
        device_key: key,
        vendor_id: device.vendor_id,
        product_id: device.product_id,
        serial: device.serial,
        manufacturer: device.manufacturer,
        product: device.product,
        hash: device.hash,
        at,
      });
      upsertSighting.run({ device_key: key, agent_id: agentId, at, inc: inserted ? 1 : 0 });
      return key;
    },
    get: (key) => getStmt.get(key) as DeviceRow | undefined,
    sightings: (key) => sightingsStmt.all(key) as SightingRow[],
  };
}
