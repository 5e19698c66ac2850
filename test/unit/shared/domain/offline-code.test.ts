import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  base32Decode,
  base32Encode,
  deriveSeatSecret,
  formatChallenge,
  makeResponse,
  newChallenge,
  parseChallenge,
  verifyResponse,
  deviceFingerprint,
} from '../../../../shared/domain/offline-code.js';

const master = randomBytes(32);
const stick = { vendor_id: '0781', product_id: '5583', serial: 'SN-1', hash: null };

describe('offline unlock codes', () => {
  it('round-trips arbitrary bytes through Crockford base32', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 32 }), (bytes) => {
      expect(base32Decode(base32Encode(Buffer.from(bytes)))).toEqual(Buffer.from(bytes));
    }));
  });

  it('reads back a challenge typed in lowercase with O for 0 and I for 1', () => {
    const c = newChallenge(stick);
    const typed = formatChallenge(c).toLowerCase().replace(/0/g, 'o').replace(/1/g, 'i');
    const parsed = parseChallenge(typed);
    expect(parsed?.nonce).toEqual(c.nonce);
    expect(parsed?.fingerprint).toEqual(c.fingerprint);
  });

  it('accepts the response the collector makes for the same seat and challenge, with its minutes', () => {
    const secret = deriveSeatSecret(master, 'agent-1');
    const c = newChallenge(stick);
    const response = makeResponse(secret, 'agent-1', parseChallenge(formatChallenge(c))!, 45);
    expect(verifyResponse(secret, 'agent-1', [newChallenge(stick), c], response)).toEqual({ index: 1, minutes: 45 });
  });

  it('refuses a response made for another seat', () => {
    const c = newChallenge(stick);
    const forOther = makeResponse(deriveSeatSecret(master, 'agent-2'), 'agent-2', c, 30);
    expect(verifyResponse(deriveSeatSecret(master, 'agent-1'), 'agent-1', [c], forOther)).toBeNull();
  });

  it('refuses a response whose duration was edited', () => {
    const secret = deriveSeatSecret(master, 'agent-1');
    const c = newChallenge(stick);
    const buf = base32Decode(makeResponse(secret, 'agent-1', c, 30))!;
    buf.writeUInt16BE(480, 0);
    expect(verifyResponse(secret, 'agent-1', [c], base32Encode(buf))).toBeNull();
  });

  it('refuses a response once its challenge is gone (single use)', () => {
    const secret = deriveSeatSecret(master, 'agent-1');
    const c = newChallenge(stick);
    const r = makeResponse(secret, 'agent-1', c, 30);
    const pending = [c];
    const first = verifyResponse(secret, 'agent-1', pending, r);
    expect(first?.index).toBe(0);
    pending.splice(first!.index, 1);
    expect(verifyResponse(secret, 'agent-1', pending, r)).toBeNull();
  });

  it('binds the challenge to the device fingerprint', () => {
    expect(deviceFingerprint(stick)).not.toEqual(deviceFingerprint({ ...stick, serial: 'SN-2' }));
    expect(newChallenge(stick).fingerprint).toEqual(deviceFingerprint(stick));
  });

  it('rejects garbage codes without throwing', () => {
    const secret = deriveSeatSecret(master, 'agent-1');
    for (const junk of ['', '!!!!', 'U'.repeat(20), 'x'.repeat(500), '0000-0000-0000-0000-0000']) {
      expect(verifyResponse(secret, 'agent-1', [newChallenge(stick)], junk)).toBeNull();
      expect(parseChallenge(junk)).toBeNull();
    }
  });
});
