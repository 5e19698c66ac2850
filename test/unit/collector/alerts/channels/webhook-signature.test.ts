import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from '../../../../../collector/alerts/channels/webhook-signature.js';

const secret = 'k'.repeat(32);
const body = '{"type":"seatguard.alert","alert":{"title":"<img src=x>"}}';
const ts = '1767225600';
const now = 1767225600 * 1000;

describe('signWebhook', () => {
  it('is sha256= plus the hex HMAC-SHA256 of "timestamp.body"', () => {
    const expected = createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
    expect(signWebhook(secret, ts, body)).toBe(`sha256=${expected}`);
    expect(signWebhook(secret, ts, Buffer.from(body))).toBe(`sha256=${expected}`);
  });
});

describe('verifyWebhookSignature', () => {
  const sig = signWebhook(secret, ts, body);

  it('accepts a signature made with the same secret within the tolerance', () => {
    expect(verifyWebhookSignature({ secret, timestamp: ts, signature: sig, body, nowMs: now + 299_000 })).toBe(true);
  });

  it('rejects a changed body, a changed timestamp and another secret', () => {
    expect(verifyWebhookSignature({ secret, timestamp: ts, signature: sig, body: body + ' ', nowMs: now })).toBe(false);
    expect(verifyWebhookSignature({ secret, timestamp: '1767225601', signature: sig, body, nowMs: now })).toBe(false);
    expect(verifyWebhookSignature({ secret: 'x'.repeat(32), timestamp: ts, signature: sig, body, nowMs: now })).toBe(false);
  });

  it('rejects a replay older than the tolerance window', () => {
    expect(verifyWebhookSignature({ secret, timestamp: ts, signature: sig, body, nowMs: now + 301_000 })).toBe(false);
    expect(verifyWebhookSignature({ secret, timestamp: ts, signature: sig, body, nowMs: now + 3_600_000, toleranceSec: 7200 })).toBe(true);
  });

  it('rejects missing or malformed headers', () => {
    expect(verifyWebhookSignature({ secret, timestamp: undefined, signature: sig, body, nowMs: now })).toBe(false);
    expect(verifyWebhookSignature({ secret, timestamp: ts, signature: sig.toUpperCase(), body, nowMs: now })).toBe(false);
    expect(verifyWebhookSignature({ secret, timestamp: '1e9', signature: sig, body, nowMs: now })).toBe(false);
    expect(verifyWebhookSignature({ secret, timestamp: ts, signature: sig.slice(0, -2), body, nowMs: now })).toBe(false);
  });
});
