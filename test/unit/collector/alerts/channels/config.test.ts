import { describe, expect, it } from 'vitest';
import { createChannel } from '../../../../../collector/alerts/channels/create-channel.js';
import { createWebhookChannel } from '../../../../../collector/alerts/channels/webhook-channel.js';
import { createSyslogChannel } from '../../../../../collector/alerts/channels/syslog-channel.js';
import { createEmailChannel } from '../../../../../collector/alerts/channels/email-channel.js';
import type { ChannelConfig, WebhookOptions } from '../../../../../collector/alerts/channels/config.js';

const SECRET = 'super-secret-value-0123456789';

function configError(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a configuration error');
}

describe('channel options validation', () => {
  it('lists every problem at once and never echoes the secret', () => {
    const err = configError(() => createWebhookChannel({ name: 'bad name', url: 'ftp://x', secret: 'short', timeoutMs: 5, extra: 1 } as unknown as WebhookOptions));
    expect(err.code).toBe('ALERT_ERR_CHANNEL_CONFIG');
    expect(err.message).toContain('/name');
    expect(err.message).toContain('/url');
    expect(err.message).toContain('/secret');
    expect(err.message).toContain('/timeoutMs');
    expect(err.message).toContain('extra');
    expect(configError(() => createWebhookChannel({ name: 'w', url: 'ftp://x', secret: SECRET })).message).not.toContain(SECRET);
  });

  it('refuses extra webhook headers that would override the signature headers', () => {
    const err = configError(() => createWebhookChannel({ name: 'w', url: 'https://h.example/x', secret: SECRET, headers: { 'X-Seatguard-Signature': 'sha256=0' } }));
    expect(err.message).toContain('reserved');
  });

  it('refuses a syslog message limit below the 480 bytes every receiver must accept', () => {
    expect(configError(() => createSyslogChannel({ name: 's', host: '127.0.0.1', maxMessageBytes: 100 })).code).toBe('ALERT_ERR_CHANNEL_CONFIG');
  });

  it('refuses e-mail addresses carrying header-injection characters', () => {
    const err = configError(() => createEmailChannel({ name: 'e', host: 'smtp.example', from: 'a@b.example', to: ['x@y.example\r\nBcc: z@evil.example'] }));
    expect(err.message).toContain('/to/0');
  });

  it('refuses an SMTP user without a password', () => {
    expect(configError(() => createEmailChannel({ name: 'e', host: 'smtp.example', from: 'a@b.example', to: ['c@d.example'], user: 'alerts' })).code).toBe('ALERT_ERR_CHANNEL_CONFIG');
  });

  it('builds each kind from a tagged config entry', async () => {
    const entries: ChannelConfig[] = [
      { kind: 'webhook', name: 'w', url: 'https://h.example/x', secret: SECRET },
      { kind: 'syslog', name: 's', host: '127.0.0.1', transport: 'tcp', format: 'cef' },
      { kind: 'email', name: 'e', host: 'smtp.example', from: 'a@b.example', to: ['c@d.example'], minSeverity: 'high' },
    ];
    const channels = entries.map((c) => createChannel(c));
    expect(channels.map((c) => [c.name, c.kind, c.minSeverity])).toEqual([
      ['w', 'webhook', undefined],
      ['s', 'syslog', undefined],
      ['e', 'email', 'high'],
    ]);
    await Promise.all(channels.map((c) => c.close?.()));
  });

  it('refuses an entry with an unknown kind', () => {
    expect(configError(() => createChannel({ kind: 'pager', name: 'p' } as unknown as ChannelConfig)).code).toBe('ALERT_ERR_CHANNEL_CONFIG');
  });
});
