import { afterEach, describe, expect, it } from 'vitest';
import { createEmailChannel } from '../../../../collector/alerts/channels/email-channel.js';
import { createDispatcher } from '../../../../collector/alerts/channels/dispatcher.js';
import type { Channel } from '../../../../collector/alerts/channels/types.js';
import type { EmailOptions } from '../../../../collector/alerts/channels/config.js';
import { oneLine } from '../../../../collector/alerts/channels/text.js';
import { eventually } from '../../../helpers/eventually.js';
import { captureLogger } from '../../../helpers/receivers/log-capture.js';
import { startSmtpReceiver, type SmtpReceiverOptions } from '../../../helpers/receivers/smtp-receiver.js';
import { HOSTILE, hostileAlert, sampleAlert } from '../../../helpers/receivers/alert-fixtures.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function smtp(opts: SmtpReceiverOptions = {}) {
  const r = await startSmtpReceiver(opts);
  cleanups.push(() => r.close());
  return r;
}

function mailer(port: number, over: Partial<EmailOptions> = {}): Channel {
  const c = createEmailChannel({
    name: 'soc-mail',
    host: '127.0.0.1',
    port,
    // The loopback test relay has no TLS; production keeps the requireTLS default (true).
    requireTLS: false,
    from: 'seatguard@collector.example',
    to: ['soc@example.com', 'oncall@example.com'],
    connectionTimeoutMs: 2_000,
    socketTimeoutMs: 2_000,
    ...over,
  });
  cleanups.push(() => c.close?.() ?? Promise.resolve());
  return c;
}

describe('email channel against a real SMTP server', () => {
  it('delivers a plain-text and HTML alert mail to every recipient', async () => {
    const r = await smtp();
    await mailer(r.port).send(sampleAlert(), { delivery_id: 'd-9', attempt: 1 });
    expect(r.mails).toHaveLength(1);
    const m = r.mails[0]!;
    expect(m.from).toBe('seatguard@collector.example');
    expect(m.to).toEqual(['soc@example.com', 'oncall@example.com']);
    expect(m.parsed.subject).toBe('[seatguard] HIGH open: USB mass storage blocked (SEAT-A-012)');
    expect(m.parsed.text).toContain('Seat: SEAT-A-012 (cc-a-012, agent agent-0001)');
    expect(m.parsed.text).toContain('Console: https://collector.example/alerts/a1b2c3d4');
    expect(m.parsed.html).toContain('<a href="https://collector.example/alerts/a1b2c3d4">');
    expect(m.parsed.headers.get('x-seatguard-alert-id')).toBe(sampleAlert().id);
    expect(m.parsed.headers.get('x-seatguard-delivery')).toBe('d-9');
  });

  it('keeps hostile text out of the headers and escaped in the HTML part', async () => {
    const r = await smtp();
    const alert = hostileAlert();
    await mailer(r.port).send(alert);
    const m = r.mails[0]!;
    // One subject, no injected header from the CR/LF in the title.
    expect(m.parsed.subject).toBe(`[seatguard] CRITICAL open: ${oneLine(alert.title)} (${HOSTILE.syslogSd})`);
    expect(m.parsed.headers.has('fake')).toBe(false);
    const headerBlock = m.raw.toString('utf8').split('\r\n\r\n')[0]!;
    expect(headerBlock).not.toMatch(/^FAKE:/im);
    // The HTML part shows the markup as text; no hostile element exists in it.
    const html = String(m.parsed.html);
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    // The plain-text part carries the text as is (it is not rendered).
    expect(m.parsed.text).toContain(HOSTILE.html);
  });

  it('retries a 451 reply through the dispatcher and the mail arrives once', async () => {
    const r = await smtp();
    r.rejectNext(2, 451);
    const d = createDispatcher({ channels: [mailer(r.port)], log: captureLogger().log, retry: { baseMs: 10, maxMs: 40, maxAttempts: 0 } });
    cleanups.push(() => d.stop({ deadlineMs: 500 }));
    d.enqueue(sampleAlert());
    await eventually(() => expect(d.stats()['soc-mail']).toMatchObject({ sent: 1, retried: 2, failed: 0 }));
    expect(r.mails).toHaveLength(1);
    expect(r.rejected()).toBe(2);
  });

  it('treats a 5xx reply as permanent', async () => {
    const r = await smtp();
    r.rejectNext(1, 554);
    await expect(mailer(r.port).send(sampleAlert())).rejects.toMatchObject({ code: 'ALERT_ERR_SEND_PERMANENT' });
    expect(r.mails).toHaveLength(0);
  });

  it('treats bad credentials as permanent and never logs the password', async () => {
    const r = await smtp({ auth: { user: 'alerts', password: 'right-password' } });
    const cap = captureLogger();
    const c = mailer(r.port, { user: 'alerts', password: 'Wr0ng-Passw0rd' });
    const d = createDispatcher({ channels: [c], log: cap.log, retry: { baseMs: 10, maxMs: 40, maxAttempts: 0 } });
    cleanups.push(() => d.stop({ deadlineMs: 500 }));
    d.enqueue(sampleAlert());
    await eventually(() => expect(d.stats()['soc-mail']?.failed).toBe(1));
    expect(d.stats()['soc-mail']?.retried).toBe(0);
    expect(cap.raw()).not.toContain('Wr0ng-Passw0rd');
    await mailer(r.port, { user: 'alerts', password: 'right-password' }).send(sampleAlert());
    expect(r.mails).toHaveLength(1);
  });

  it('by default refuses to send in clear to a relay without STARTTLS, as a permanent failure', async () => {
    const r = await smtp({ offerStartTls: false });
    const c = createEmailChannel({ name: 'strict', host: '127.0.0.1', port: r.port, from: 'a@b.example', to: ['c@d.example'], connectionTimeoutMs: 2_000 });
    cleanups.push(() => c.close?.() ?? Promise.resolve());
    await expect(c.send(sampleAlert())).rejects.toMatchObject({ code: 'ALERT_ERR_SEND_PERMANENT' });
    expect(r.mails).toHaveLength(0);
  });

  it('reports an unreachable relay as retryable', async () => {
    const r = await smtp();
    const port = r.port;
    await r.close();
    await expect(mailer(port).send(sampleAlert())).rejects.toMatchObject({ code: 'ALERT_ERR_SEND_RETRYABLE' });
  });
});
