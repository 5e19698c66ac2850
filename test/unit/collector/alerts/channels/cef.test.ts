import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CEF_SEVERITY, escapeCefHeader, escapeCefValue, formatCef, type CefOptions } from '../../../../../collector/alerts/channels/cef.js';
import { oneLine } from '../../../../../collector/alerts/channels/text.js';
import { parseCef } from '../../../../helpers/receivers/syslog-parse.js';
import { HOSTILE, hostileAlert, sampleAlert } from '../../../../helpers/receivers/alert-fixtures.js';

const opts: CefOptions = { vendor: 'Seatguard', product: 'seatguard', productVersion: '0.1.0', hostname: 'collector-1' };

describe('escapeCefHeader', () => {
  it('escapes pipe and backslash, and flattens line breaks (not allowed in the header)', () => {
    expect(escapeCefHeader('a|b\\c\r\nd=e')).toBe('a\\|b\\\\c d=e');
  });
});

describe('escapeCefValue', () => {
  it('escapes backslash, equals, CR and LF, and leaves pipes alone', () => {
    expect(escapeCefValue('a\\b=c\r\nd\re\nf|g')).toBe('a\\\\b\\=c\\r\\nd\\re\\nf|g');
  });

  it('escapes an existing escape sequence instead of passing it through', () => {
    expect(escapeCefValue('\\=')).toBe('\\\\\\=');
  });
});

describe('formatCef', () => {
  it('writes the seven header fields and the extension', () => {
    const line = formatCef(sampleAlert(), opts) as string;
    expect(line.startsWith('CEF:0|Seatguard|seatguard|0.1.0|usb.blocked|USB mass storage blocked|8|rt=')).toBe(true);
    const cef = parseCef(line);
    expect(cef.severity).toBe(String(CEF_SEVERITY.high));
    expect(cef.ext).toMatchObject({
      cnt: '3',
      externalId: 'a1b2c3d4-0000-4000-8000-000000000001',
      cat: 'usb.blocked',
      dvchost: 'collector-1',
      shost: 'cc-a-012',
      cs1Label: 'agentId',
      cs1: 'agent-0001',
      cs4: '0781:5567',
      cs6: 'Cruzer Blade',
      request: 'https://collector.example/alerts/a1b2c3d4',
      msg: 'A mass storage device was blocked on seat SEAT-A-012.',
    });
    expect(cef.ext.rt).toBe(String(Date.UTC(2026, 0, 1, 8, 5)));
  });

  it('round-trips hostile pipes, backslashes, equals signs and HTML through a CEF parser', () => {
    const alert = hostileAlert();
    const line = formatCef(alert, opts) as string;
    expect(line).not.toMatch(/[\r\n]/);
    const cef = parseCef(line);
    expect(cef.name).toBe(oneLine(alert.title));
    expect(cef.ext.shost).toBe(HOSTILE.cefExt);
    expect(cef.ext.cs6).toBe(HOSTILE.html);
    // Line breaks in extension values survive as escaped \r\n, as the CEF rules allow.
    expect(cef.ext.cs5).toBe(HOSTILE.crlf);
    expect(cef.ext.msg).toBe(alert.detail);
    // The forged "msg=" / "cs1=" inside a value did not become keys of their own.
    expect(cef.ext.cs1).toBe('agent-0001');
  });

  it('cuts a 10 KB detail to the byte budget without breaking an escape', () => {
    const line = formatCef(sampleAlert({ detail: '\\='.repeat(6000) }), opts, 1500) as string;
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(1500);
    const msg = parseCef(line).ext.msg as string;
    expect(msg.endsWith('…')).toBe(true);
    expect(msg.replace(/…$/, '')).toMatch(/^(\\=)*\\?$/);
  });

  it('falls back to the identifying fields when hostile values would not fit', () => {
    const alert = hostileAlert({ seat: { agent_id: 'a', seat_name: HOSTILE.big, hostname: HOSTILE.big }, title: HOSTILE.big });
    const line = formatCef(alert, opts, 700) as string;
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(700);
    expect(parseCef(line).ext.externalId).toBe(alert.id);
  });

  it('round-trips any string in name, extension values and msg', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), (title, text) => {
        const alert = sampleAlert({ title, detail: text, seat: { agent_id: 'a', seat_name: text, hostname: text } });
        const cef = parseCef(formatCef(alert, opts) as string);
        expect(cef.name).toBe(oneLine(title));
        // Extension values keep CR/LF (escaped on the wire) and lose only other control characters.
        const expected = text
          .split(/(\r\n|\r|\n)/)
          .map((part, i) => (i % 2 === 1 ? part : oneLine(part)))
          .join('');
        expect(cef.ext.cs2).toBe(expected);
        expect(cef.ext.shost).toBe(cef.ext.cs2);
      }),
      { numRuns: 300 },
    );
  });
});
