import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { escapeSdValue, formatRfc5424, syslogPri, SYSLOG_SEVERITY, type Rfc5424Options } from '../../../../../collector/alerts/channels/rfc5424.js';
import { parseRfc5424 } from '../../../../helpers/receivers/syslog-parse.js';
import { HOSTILE, hostileAlert, sampleAlert } from '../../../../helpers/receivers/alert-fixtures.js';

const NOW = Date.UTC(2026, 0, 1, 8, 5, 1, 250);
const opts: Rfc5424Options = { facility: 20, hostname: 'collector-1', appName: 'seatguard', procId: '4242', enterpriseId: 32473, maxBytes: 2048 };

describe('syslogPri', () => {
  it('is facility × 8 + severity (local4 + crit = 162)', () => {
    expect(syslogPri(20, SYSLOG_SEVERITY.critical)).toBe(162);
    expect(syslogPri(20, SYSLOG_SEVERITY.high)).toBe(163);
    expect(syslogPri(20, SYSLOG_SEVERITY.medium)).toBe(164);
    expect(syslogPri(20, SYSLOG_SEVERITY.low)).toBe(165);
    expect(syslogPri(0, 0)).toBe(0);
  });
});

describe('escapeSdValue', () => {
  it('escapes exactly ", \\ and ] with a backslash', () => {
    expect(escapeSdValue('a"b\\c]d[e=f')).toBe('a\\"b\\\\c\\]d[e=f');
  });
});

describe('formatRfc5424', () => {
  it('writes the header fields, structured data and a BOM before MSG', () => {
    const buf = formatRfc5424(sampleAlert(), opts, NOW);
    const text = buf.toString('utf8');
    expect(text.startsWith('<163>1 2026-01-01T08:05:01.250Z collector-1 seatguard 4242 usb.blocked [alert@32473 id="a1b2c3d4-0000-4000-8000-000000000001" rule="usb.blocked" severity="high"')).toBe(true);
    const m = parseRfc5424(buf);
    expect(m.bom).toBe(true);
    expect(buf.includes(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(true);
    expect(m.msg).toBe('USB mass storage blocked: A mass storage device was blocked on seat SEAT-A-012.');
    expect(m.sd?.map((e) => e.id)).toEqual(['alert@32473', 'seat@32473', 'usb@32473']);
    expect(m.sd?.[1]?.params).toEqual({ agent_id: 'agent-0001', seat_name: 'SEAT-A-012', hostname: 'cc-a-012' });
    expect(m.sd?.[2]?.params).toEqual({ vendor_id: '0781', product_id: '5567', serial: '4C530001', product: 'Cruzer Blade' });
  });

  it('round-trips quotes, backslashes and brackets in structured data values', () => {
    const m = parseRfc5424(formatRfc5424(hostileAlert(), opts, NOW));
    expect(m.sd?.find((e) => e.id === 'seat@32473')?.params.seat_name).toBe(HOSTILE.syslogSd);
  });

  it('keeps hostile CR/LF from starting a new line or a forged message', () => {
    const text = formatRfc5424(hostileAlert(), opts, NOW).toString('utf8');
    expect(text).not.toMatch(/[\r\n]/);
    const m = parseRfc5424(text);
    expect(m.sd?.find((e) => e.id === 'usb@32473')?.params.serial).toBe('line1 FAKE: injected <14>1 2026-01-01T00:00:00Z evil - - - - forged');
  });

  it('uses NILVALUE parts safely when the seat and device are absent', () => {
    const { device: _d, ...noDevice } = sampleAlert({ seat: null });
    const m = parseRfc5424(formatRfc5424(noDevice, opts, NOW));
    expect(m.sd?.map((e) => e.id)).toEqual(['alert@32473']);
  });

  it('truncates a 10 KB detail to the byte limit on a character boundary and still parses', () => {
    const buf = formatRfc5424(sampleAlert({ detail: HOSTILE.big }), opts, NOW);
    expect(buf.length).toBeLessThanOrEqual(2048);
    expect(Buffer.from(buf.toString('utf8'), 'utf8').equals(buf)).toBe(true);
    const m = parseRfc5424(buf);
    expect(m.msg?.endsWith('…')).toBe(true);
    expect(m.sd?.length).toBe(3);
  });

  it('reduces structured data rather than exceed a small limit', () => {
    const alert = hostileAlert({ seat: { agent_id: 'a', seat_name: HOSTILE.big, hostname: HOSTILE.big } });
    const buf = formatRfc5424(alert, { ...opts, maxBytes: 480 }, NOW);
    expect(buf.length).toBeLessThanOrEqual(480);
    expect(parseRfc5424(buf).sd?.[0]?.params.id).toBe(alert.id);
  });

  it('always fits the limit and parses, for any hostile title, detail and seat name', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 3000 }), fc.string({ unit: 'binary' }), fc.integer({ min: 480, max: 4096 }), (title, seatName, max) => {
        const alert = sampleAlert({ title, detail: title, seat: { agent_id: 'x', seat_name: seatName, hostname: null } });
        const buf = formatRfc5424(alert, { ...opts, maxBytes: max }, NOW);
        expect(buf.length).toBeLessThanOrEqual(max);
        const m = parseRfc5424(buf);
        expect(m.pri).toBe(163);
      }),
      { numRuns: 200 },
    );
  });
});
