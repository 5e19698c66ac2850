import { afterEach, describe, expect, it } from 'vitest';
import { deviceKey } from '../../../../shared/domain/usb.js';
import { SAMPLE_DEVICE } from '../harness.js';
import { blocked, device, inserted, startConsoleApi, type ConsoleApi } from './console-harness.js';

describe('console API: devices ("where has this stick been?")', () => {
  let c: ConsoleApi | undefined;
  afterEach(async () => {
    await c?.cleanup();
    c = undefined;
  });

  it('lists every device with its spread and shows one device seen on two seats with sightings and events', async () => {
    c = await startConsoleApi();
    const a = await c.seat({ department: 'Sales', seatName: 'CC-SH-001' });
    const b = await c.seat({ department: 'Support', seatName: 'CC-SH-002' });
    const other = device({ vendor_id: '090c', product_id: '1000', serial: 'OTHER-1', manufacturer: 'Samsung', product: 'BAR Plus' });
    await a.send(inserted(), blocked(), inserted());
    await b.send(inserted(), blocked(), inserted(other));

    const list = await c.api('/devices');
    expect(list.status).toBe(200);
    expect(list.json.total).toBe(2);
    const key = deviceKey(SAMPLE_DEVICE as Parameters<typeof deviceKey>[0]);
    const row = list.json.devices.find((d: { device_key: string }) => d.device_key === key);
    expect(row).toMatchObject({ vendor_id: '0781', product_id: '5567', manufacturer: 'SanDisk', seat_count: 2, insert_count: 3 });

    const search = await c.api('/devices?q=samsung');
    expect(search.json.devices.map((d: { device_key: string }) => d.device_key)).toEqual(['090c:1000:s:OTHER-1']);
    const onSeat = await c.api(`/devices?agent_id=${a.agent.agentId}`);
    expect(onSeat.json.total).toBe(1);
    const bySeats = await c.api('/devices?sort=-seats&limit=1');
    expect(bySeats.json).toMatchObject({ total: 2, limit: 1, offset: 0 });
    expect(bySeats.json.devices[0].device_key).toBe(key);

    const detail = await c.api(`/devices/${encodeURIComponent(key)}`);
    expect(detail.status).toBe(200);
    expect(detail.json.device.device_key).toBe(key);
    expect(detail.json.sightings.map((s: { seat_name: string; count: number; department: string }) => [s.seat_name, s.department, s.count]).sort()).toEqual([
      ['CC-SH-001', 'Sales', 2],
      ['CC-SH-002', 'Support', 1],
    ]);
    // Newest first, only the events that carried this device.
    expect(detail.json.events.map((e: { type: string; seat_name: string }) => `${e.seat_name} ${e.type}`)).toEqual([
      'CC-SH-002 usb.blocked',
      'CC-SH-002 usb.inserted',
      'CC-SH-001 usb.inserted',
      'CC-SH-001 usb.blocked',
      'CC-SH-001 usb.inserted',
    ]);
    expect(detail.json.events[0].body.device.serial).toBe(SAMPLE_DEVICE.serial);
    expect(detail.json.unlock_requests).toEqual({ available: true, items: [] });

    const page = await c.api(`/devices/${encodeURIComponent(key)}?events_limit=2`);
    expect(page.json.events).toHaveLength(2);
    const older = await c.api(`/devices/${encodeURIComponent(key)}?events_limit=10&before_id=${page.json.next_before_id}`);
    expect(older.json.events).toHaveLength(3);
    expect(older.json.next_before_id).toBeNull();
  });

  it('finds a device whose serial holds URL and HTML metacharacters, and answers 404/400 for unknown and oversized keys', async () => {
    c = await startConsoleApi();
    const s = await c.seat();
    const serial = 'A/B?C#D%2F<img src=x onerror=alert(1)>';
    const hostile = device({ serial, product: '<img src=x onerror=alert(1)>' });
    await s.send(blocked(hostile));
    const key = `0781:5567:s:${serial}`;
    const res = await c.api(`/devices/${encodeURIComponent(key)}`);
    expect(res.status).toBe(200);
    expect(res.json.device).toMatchObject({ device_key: key, serial, product: '<img src=x onerror=alert(1)>' });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);

    const unknown = await c.api(`/devices/${encodeURIComponent('0781:5567:s:nope')}`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('API_ERR_NOT_FOUND');
    const tooLong = await c.api(`/devices/${encodeURIComponent('0781:5567:s:' + 'x'.repeat(400))}`);
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.error.code).toBe('API_ERR_VALIDATION');
    const badQuery = await c.api('/devices?sort=evil');
    expect(badQuery.status).toBe(400);
  });

  it('records every device-history read in the audit trail', async () => {
    c = await startConsoleApi();
    const s = await c.seat();
    await s.send(blocked());
    const key = deviceKey(SAMPLE_DEVICE as Parameters<typeof deviceKey>[0]);
    const auditor = await c.user('aud1', ['auditor']);
    expect((await c.api(`/devices/${encodeURIComponent(key)}`, { token: auditor.token })).status).toBe(200);
    const records = c.run.collector.audit.list({ action: 'access.device_history' }).records;
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ actor: auditor.id, target_type: 'device', target_id: key });
  });

  it('limits a department-scoped user to devices seen on their seats and refuses roles without device.read', async () => {
    c = await startConsoleApi();
    const sales = await c.seat({ department: 'Sales' });
    const support = await c.seat({ department: 'Support' });
    const salesOnly = device({ serial: 'SALES-ONLY' });
    const supportOnly = device({ serial: 'SUPPORT-ONLY' });
    await sales.send(blocked(salesOnly));
    await support.send(blocked(supportOnly));
    const head = await c.user('head-sales', ['approver'], ['Sales']);
    const list = await c.api('/devices', { token: head.token });
    expect(list.status).toBe(200);
    expect(list.json.devices.map((d: { serial: string }) => d.serial)).toEqual(['SALES-ONLY']);
    expect((await c.api(`/devices/${encodeURIComponent('0781:5567:s:SUPPORT-ONLY')}`, { token: head.token })).status).toBe(404);
    expect((await c.api(`/devices/${encodeURIComponent('0781:5567:s:SALES-ONLY')}`, { token: head.token })).status).toBe(200);

    const admin = await c.user('adm1', ['admin']);
    const denied = await c.api('/devices', { token: admin.token });
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('AUTH_ERR_FORBIDDEN');
  });
});
