import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceKey } from '../../../../shared/domain/usb.js';
import { openStore, type Store } from '../../../../collector/store/store.js';

describe('migration 400: SQL device key and event rollups', () => {
  let dir: string | undefined;
  let store: Store | undefined;
  afterEach(() => {
    store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    store = undefined;
    dir = undefined;
  });

  function open(): Store {
    dir = mkdtempSync(join(tmpdir(), 'seatguard-k2-'));
    store = openStore(join(dir, 'c.db'));
    store.agents.insert({ agent_id: 'agt_1', seat_name: 'S1', hostname: 'h', platform: 'linux', department: null, public_key: 'x', enrolled_at: '2026-01-01T00:00:00.000Z' });
    return store;
  }

  it('indexes every device-carrying event under the same key as deviceKey() in TypeScript', () => {
    const s = open();
    const text = fc.option(fc.string({ unit: 'grapheme', maxLength: 40 }), { nil: null });
    const hash = fc.option(fc.constantFrom('q3S8Yw0dJ4cvS8cJ6ZkQk3pXl1b9kzq0kYb3Yw0dJ4c=', ''), { nil: null });
    let seq = 0;
    fc.assert(
      fc.property(fc.constantFrom('0781', 'abcd'), fc.constantFrom('5567', '0000'), text, hash, (vid, pid, serial, h) => {
        const device = { vendor_id: vid, product_id: pid, serial, hash: h === '' ? null : h, manufacturer: null, product: null };
        const id = s.events.insertIfNew({ agent_id: 'agt_1', seq: ++seq, type: 'usb.inserted', ts: '2026-01-01T00:00:00.000Z', received_at: '2026-01-01T00:00:00.000Z', body: JSON.stringify({ device }) });
        const row = s.db.prepare('SELECT device_key FROM device_events WHERE event_id = ?').get(id) as { device_key: string } | undefined;
        expect(row?.device_key).toBe(deviceKey(device));
      }),
      { numRuns: 300 },
    );
  });

  it('counts events per type, department and 15-minute slot of received_at and ignores duplicates', () => {
    const s = open();
    const ins = (seq: number, type: string, at: string) => s.events.insertIfNew({ agent_id: 'agt_1', seq, type, ts: at, received_at: at, body: '{}' });
    ins(1, 'usb.blocked', '2026-03-10T15:59:59.999Z');
    ins(2, 'usb.blocked', '2026-03-10T16:00:00.000Z');
    ins(3, 'usb.blocked', '2026-03-10T16:14:59.000Z');
    ins(3, 'usb.blocked', '2026-03-10T16:14:59.000Z');
    ins(4, 'lock.state', '2026-03-10T16:01:00.000Z');
    s.agents.insert({ agent_id: 'agt_2', seat_name: 'S2', hostname: 'h', platform: 'linux', department: 'Sales', public_key: 'x', enrolled_at: '2026-01-01T00:00:00.000Z' });
    s.events.insertIfNew({ agent_id: 'agt_2', seq: 1, type: 'usb.blocked', ts: '2026-03-10T16:05:00.000Z', received_at: '2026-03-10T16:05:00.000Z', body: '{}' });
    const rows = s.db.prepare('SELECT type, department, bucket, n FROM event_counts ORDER BY type, bucket, department').all();
    const slot = (iso: string) => Math.floor(Date.parse(iso) / 900_000);
    expect(rows).toEqual([
      { type: 'lock.state', department: '', bucket: slot('2026-03-10T16:00:00Z'), n: 1 },
      { type: 'usb.blocked', department: '', bucket: slot('2026-03-10T15:45:00Z'), n: 1 },
      { type: 'usb.blocked', department: '', bucket: slot('2026-03-10T16:00:00Z'), n: 2 },
      { type: 'usb.blocked', department: 'Sales', bucket: slot('2026-03-10T16:00:00Z'), n: 1 },
    ]);
  });
});
