import { afterEach, describe, expect, it } from 'vitest';
import { csvCell, csvRow } from '../../../../collector/reports/csv.js';
import { blocked, device, inserted, startConsoleApi, type ConsoleApi } from './console-harness.js';

/** Parses RFC 4180 text (quoted fields, doubled quotes, CRLF) into rows of cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  if (cell !== '' || row.length > 0) throw new Error('CSV does not end with CRLF');
  return rows;
}

describe('CSV cells', () => {
  it('quotes per RFC 4180 and neutralizes formula starts (OWASP)', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\r\nlines')).toBe('"two\r\nlines"');
    for (const evil of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx']) expect(csvCell(evil).replace(/^"/, '')).toMatch(/^'/);
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe('"\'=HYPERLINK(""http://x"",""y"")"');
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(null)).toBe('');
    expect(csvCell(true)).toBe('true');
    expect(csvRow(['a', 1, null])).toBe('a,1,\r\n');
  });
});

describe('console API: CSV exports', () => {
  let c: ConsoleApi | undefined;
  afterEach(async () => {
    await c?.cleanup();
    c = undefined;
  });

  it('exports devices with BOM, RFC 4180 quoting, formula prefixes and Chinese text intact', async () => {
    c = await startConsoleApi();
    const s = await c.seat();
    await s.send(
      blocked(device({ serial: 'EVIL-1', manufacturer: '=cmd|\' /C calc\'!A0', product: '金士顿 "DataTraveler", 64G' })),
      inserted(device({ serial: 'PLAIN-2', manufacturer: '@SUM(1)', product: '-2+3' })),
    );
    const res = await c.api('/export/devices.csv?sort=device_key');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="seatguard-devices-\d{8}T\d{6}Z\.csv"$/);
    expect([...res.bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = parseCsv(res.text.slice(1));
    expect(rows[0]).toEqual(['device_key', 'vendor_id', 'product_id', 'serial', 'manufacturer', 'product', 'hash', 'first_seen', 'last_seen', 'seat_count', 'insert_count']);
    expect(rows).toHaveLength(3);
    const evil = rows.find((r) => r[3] === 'EVIL-1');
    expect(evil?.[4]).toBe("'=cmd|' /C calc'!A0");
    expect(evil?.[5]).toBe('金士顿 "DataTraveler", 64G');
    const plain = rows.find((r) => r[3] === 'PLAIN-2');
    expect(plain?.slice(4, 6)).toEqual(["'@SUM(1)", "'-2+3"]);
    expect(res.text).toContain('"金士顿 ""DataTraveler"", 64G"');
  });

  it('applies the list filters to events.csv and audits who exported what', async () => {
    c = await startConsoleApi();
    const a = await c.seat({ seatName: 'CC-A' });
    const b = await c.seat({ seatName: 'CC-B' });
    await a.send(inserted(), blocked(), inserted());
    await b.send(blocked());
    const officer = await c.user('officer1', ['officer']);

    const all = parseCsv((await c.api('/export/events.csv', { token: officer.token })).text.slice(1));
    expect(all).toHaveLength(1 + 4);
    const onlyBlocked = parseCsv((await c.api('/export/events.csv?type=usb.blocked', { token: officer.token })).text.slice(1));
    expect(onlyBlocked.slice(1).map((r) => [r[2], r[4], r[7]])).toEqual([
      ['CC-A', 'usb.blocked', '0781:5567:s:4C530001230517109291'],
      ['CC-B', 'usb.blocked', '0781:5567:s:4C530001230517109291'],
    ]);
    const seatA = parseCsv((await c.api(`/export/events.csv?agent_id=${a.agent.agentId}&limit=2`, { token: officer.token })).text.slice(1));
    expect(seatA.slice(1).map((r) => r[3])).toEqual(['1', '2']);
    const future = parseCsv((await c.api('/export/events.csv?since=2999-01-01T00:00:00Z', { token: officer.token })).text.slice(1));
    expect(future).toHaveLength(1);

    const records = c.run.collector.audit.list({ action: 'export.csv' }).records;
    expect(records).toHaveLength(4);
    expect(records[1]).toMatchObject({ actor: officer.id, target_type: 'export', target_id: 'events', detail: { filter: { type: 'usb.blocked' } } });
  });

  it('exports seats, alerts and unlock requests, and refuses bad filters and roles without export', async () => {
    c = await startConsoleApi();
    const s = await c.seat({ department: '销售部', seatName: 'CC-SH-001' });
    await s.send(blocked());
    const seats = parseCsv((await c.api('/export/seats.csv?department=' + encodeURIComponent('销售部'))).text.slice(1));
    expect(seats).toHaveLength(2);
    expect(seats[1]?.slice(1, 4)).toEqual(['CC-SH-001', 'seat-host-01', '销售部']);
    expect(seats[0]).not.toContain('public_key');
    const none = parseCsv((await c.api('/export/seats.csv?department=Other')).text.slice(1));
    expect(none).toHaveLength(1);

    const alerts = await c.api('/export/alerts.csv?severity=high');
    expect(alerts.status).toBe(200);
    const alertRows = parseCsv(alerts.text.slice(1));
    expect(alertRows[0]?.slice(0, 4)).toEqual(['id', 'rule', 'severity', 'state']);
    expect(alertRows.length).toBeGreaterThanOrEqual(2);
    const unlock = await c.api('/export/unlock-requests.csv?state=pending');
    expect(unlock.status).toBe(200);
    expect(parseCsv(unlock.text.slice(1))).toHaveLength(1);

    expect((await c.api('/export/events.csv?since=yesterday')).status).toBe(400);
    expect((await c.api('/export/seats.csv?type=usb.blocked')).status).toBe(400);
    const duty = await c.user('duty2', ['duty']);
    const denied = await c.api('/export/events.csv', { token: duty.token });
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('AUTH_ERR_FORBIDDEN');
  });
});
