import { afterEach, describe, expect, it } from 'vitest';
import { createSyslogChannel } from '../../../../collector/alerts/channels/syslog-channel.js';
import { createDispatcher } from '../../../../collector/alerts/channels/dispatcher.js';
import type { Channel } from '../../../../collector/alerts/channels/types.js';
import type { SyslogOptions } from '../../../../collector/alerts/channels/config.js';
import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import { oneLine } from '../../../../collector/alerts/channels/text.js';
import { eventually } from '../../../helpers/eventually.js';
import { startTcpSyslogReceiver, startUdpSyslogReceiver } from '../../../helpers/receivers/syslog-receivers.js';
import { parseCef, parseRfc5424 } from '../../../helpers/receivers/syslog-parse.js';
import { HOSTILE, hostileAlert, sampleAlert } from '../../../helpers/receivers/alert-fixtures.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const clock = new ManualClock(Date.UTC(2026, 0, 1, 8, 5, 1, 250));

function syslog(opts: Omit<SyslogOptions, 'name' | 'host'>): Channel {
  const c = createSyslogChannel({ name: 'siem', host: '127.0.0.1', hostname: 'collector-1', procId: '4242', productVersion: '0.1.0', ...opts }, { clock });
  cleanups.push(() => c.close?.() ?? Promise.resolve());
  return c;
}

describe('syslog channel over UDP', () => {
  it('sends one RFC 5424 datagram per alert that a parser reads back', async () => {
    const r = await startUdpSyslogReceiver();
    cleanups.push(() => r.close());
    await syslog({ port: r.port }).send(sampleAlert());
    await eventually(() => expect(r.messages).toHaveLength(1));
    const m = parseRfc5424(r.messages[0]!);
    expect(m).toMatchObject({ pri: 163, version: 1, timestamp: '2026-01-01T08:05:01.250Z', hostname: 'collector-1', appName: 'seatguard', procId: '4242', msgId: 'usb.blocked', bom: true });
    expect(m.sd?.[0]?.params).toMatchObject({ id: sampleAlert().id, severity: 'high', state: 'open', count: '3' });
  });

  it('escapes hostile structured-data values and keeps CR/LF from forging records', async () => {
    const r = await startUdpSyslogReceiver();
    cleanups.push(() => r.close());
    const alert = hostileAlert();
    await syslog({ port: r.port }).send(alert);
    await eventually(() => expect(r.messages).toHaveLength(1));
    const raw = r.messages[0]!.toString('utf8');
    expect(raw).not.toMatch(/[\r\n]/);
    const m = parseRfc5424(r.messages[0]!);
    expect(m.pri).toBe(162);
    const seat = m.sd?.find((e) => e.id === 'seat@32473')?.params;
    expect(seat?.seat_name).toBe(HOSTILE.syslogSd);
    expect(seat?.hostname).toBe(HOSTILE.cefExt);
    expect(m.sd?.find((e) => e.id === 'usb@32473')?.params.product).toBe(HOSTILE.html);
    expect(m.msg).toBe(oneLine(`${alert.title}: ${alert.detail}`));
  });

  it('truncates a 10 KB alert to the configured datagram size and it still parses', async () => {
    const r = await startUdpSyslogReceiver();
    cleanups.push(() => r.close());
    await syslog({ port: r.port, maxMessageBytes: 1024 }).send(sampleAlert({ detail: HOSTILE.big }));
    await eventually(() => expect(r.messages).toHaveLength(1));
    expect(r.messages[0]!.length).toBeLessThanOrEqual(1024);
    expect(parseRfc5424(r.messages[0]!).msg?.endsWith('…')).toBe(true);
  });

  it('sends CEF in an RFC 5424 envelope, hostile text round-tripping through a CEF parser', async () => {
    const r = await startUdpSyslogReceiver();
    cleanups.push(() => r.close());
    const alert = hostileAlert({ detail: `${HOSTILE.cefExt} ${HOSTILE.crlf}` });
    await syslog({ port: r.port, format: 'cef' }).send(alert);
    await eventually(() => expect(r.messages).toHaveLength(1));
    const m = parseRfc5424(r.messages[0]!);
    expect(m.sd).toBeNull();
    expect(m.bom).toBe(false);
    const cef = parseCef(m.msg!);
    expect(cef).toMatchObject({ version: '0', vendor: 'Seatguard', product: 'seatguard', productVersion: '0.1.0', signatureId: 'usb.blocked', severity: '10' });
    expect(cef.name).toBe(oneLine(alert.title));
    expect(cef.ext.msg).toBe(alert.detail);
    expect(cef.ext.shost).toBe(HOSTILE.cefExt);
    expect(cef.ext.cs6).toBe(HOSTILE.html);
  });
});

describe('syslog channel over TCP', () => {
  it('frames messages with octet counting so many alerts parse cleanly on one connection', async () => {
    const r = await startTcpSyslogReceiver();
    cleanups.push(() => r.close());
    const c = syslog({ port: r.port, transport: 'tcp' });
    for (let i = 0; i < 50; i++) await c.send(hostileAlert({ id: `a-${i}`, detail: i % 5 === 0 ? HOSTILE.big : HOSTILE.crlf }));
    await eventually(() => expect(r.messages).toHaveLength(50));
    expect(r.framingErrors).toEqual([]);
    expect(r.connections()).toBe(1);
    expect(r.messages.map((m) => parseRfc5424(m).sd?.[0]?.params.id)).toEqual(Array.from({ length: 50 }, (_, i) => `a-${i}`));
    // 10 KB details were cut to the TCP default of 8192 bytes.
    expect(Math.max(...r.messages.map((m) => m.length))).toBeLessThanOrEqual(8192);
  });

  it('reconnects after the receiver drops the connection', async () => {
    const r = await startTcpSyslogReceiver();
    cleanups.push(() => r.close());
    const c = syslog({ port: r.port, transport: 'tcp' });
    await c.send(sampleAlert({ id: 'first' }));
    await eventually(() => expect(r.messages).toHaveLength(1));
    r.dropConnections();
    // The first send after a drop may land on the dead socket; the dispatcher retries it.
    const d = createDispatcher({ channels: [c], log: silentLogger(), retry: { baseMs: 5, maxMs: 20, maxAttempts: 0 } });
    cleanups.push(() => d.stop({ deadlineMs: 200 }));
    d.enqueue(sampleAlert({ id: 'second' }));
    await eventually(() => expect(r.messages.map((m) => parseRfc5424(m).sd?.[0]?.params.id)).toContain('second'));
    expect(r.connections()).toBe(2);
  });

  it('reports a refused connection as retryable, and delivers via the dispatcher once the receiver is up', async () => {
    const r = await startTcpSyslogReceiver();
    cleanups.push(() => r.close());
    await r.down();
    const c = syslog({ port: r.port, transport: 'tcp', connectTimeoutMs: 500 });
    await expect(c.send(sampleAlert())).rejects.toMatchObject({ code: 'ALERT_ERR_SEND_RETRYABLE' });
    const d = createDispatcher({ channels: [c], log: silentLogger(), retry: { baseMs: 10, maxMs: 40, maxAttempts: 0 } });
    cleanups.push(() => d.stop({ deadlineMs: 200 }));
    d.enqueue(sampleAlert({ id: 'late' }));
    await eventually(() => expect(d.stats().siem?.retried).toBeGreaterThanOrEqual(2));
    await r.up();
    await eventually(() => expect(r.messages.map((m) => parseRfc5424(m).sd?.[0]?.params.id)).toEqual(['late']));
    expect(r.framingErrors).toEqual([]);
  });
});
