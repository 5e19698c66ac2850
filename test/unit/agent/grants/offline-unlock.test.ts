import { describe, expect, it } from 'vitest';
import { CHALLENGE_TTL_MS, deriveSeatSecret, makeResponse, parseChallenge } from '../../../../shared/domain/offline-code.js';
import type { UsbDevice } from '../../../../shared/domain/usb.js';
import { createOfflineUnlock, MAX_OFFLINE_MINUTES, MAX_PENDING_CHALLENGES } from '../../../../agent/grants/offline-unlock.js';

const MASTER = Buffer.alloc(32, 7);
const AGENT = 'agt_0123456789abcdef01234567';
const SECRET = deriveSeatSecret(MASTER, AGENT);

const device = (serial = 'SER-1', port = '1-2'): UsbDevice => ({
  port,
  vendor_id: '0781',
  product_id: '5583',
  bcd_device: '0100',
  serial,
  manufacturer: 'SanDisk',
  product: 'Ultra Fit',
  hash: 'q3S8Yw0dJ4cvS8cJ6ZkQk3pXl1b9kzq0kYb3Yw0dJ4c=',
  parent_hash: null,
  interfaces: ['08:06:50'],
  connect_type: 'hotplug',
});

/** What the collector answers for a challenge read out to it. */
function answer(challenge: string, minutes: number, secret = SECRET, agentId = AGENT): string {
  const c = parseChallenge(challenge);
  if (!c) throw new Error('bad challenge');
  return makeResponse(secret, agentId, c, minutes);
}

function setup(secret: { agentId: string; secret: Buffer } | null = { agentId: AGENT, secret: SECRET }) {
  let mono = 1_000;
  const offline = createOfflineUnlock({ secret: () => secret, monotonicMs: () => mono });
  return { offline, advance: (ms: number) => (mono += ms) };
}

describe('offline unlock codes at the seat', () => {
  it('accepts a valid code once and refuses the same code a second time', () => {
    const { offline } = setup();
    const challenge = offline.challenge(device());
    const code = answer(challenge, 30);
    expect(offline.redeem(code)).toEqual({ ok: true, minutes: 30, challenge, device: device() });
    expect(offline.redeem(code)).toEqual({ ok: false, code: 'OFFLINE_ERR_CODE' });
    expect(offline.pendingCount()).toBe(0);
  });

  it('accepts the code as people type it (lowercase, no dashes, spaces)', () => {
    const { offline } = setup();
    const code = answer(offline.challenge(device()), 15);
    expect(offline.redeem(` ${code.toLowerCase().replace(/-/g, ' ')} `).ok).toBe(true);
  });

  it('refuses a code for a challenge older than the challenge lifetime', () => {
    const { offline, advance } = setup();
    const code = answer(offline.challenge(device()), 30);
    advance(CHALLENGE_TTL_MS);
    expect(offline.redeem(code)).toEqual({ ok: false, code: 'OFFLINE_ERR_CODE' });
  });

  it('refuses a code made with another seat id or another secret', () => {
    const { offline } = setup();
    const challenge = offline.challenge(device());
    expect(offline.redeem(answer(challenge, 30, SECRET, 'agt_other'))).toEqual({ ok: false, code: 'OFFLINE_ERR_CODE' });
    expect(offline.redeem(answer(challenge, 30, deriveSeatSecret(MASTER, 'agt_other')))).toEqual({ ok: false, code: 'OFFLINE_ERR_CODE' });
    expect(offline.pendingCount()).toBe(1);
  });

  it('refuses a code whose minutes were altered', () => {
    const { offline } = setup();
    const code = answer(offline.challenge(device()), 30);
    // The first 4 characters carry the minutes; change them and the MAC no longer verifies.
    const forged = answer(offline.challenge(device('SER-2')), 600).slice(0, 4) + code.slice(4);
    expect(offline.redeem(forged).ok).toBe(false);
  });

  it.each(['', '----', 'not base32 !', 'Z'.repeat(64), '0'.repeat(20)])('refuses garbage %j without throwing', (text) => {
    const { offline } = setup();
    offline.challenge(device());
    expect(offline.redeem(text).ok).toBe(false);
  });

  it('reports that no secret is available before enrollment', () => {
    const { offline } = setup(null);
    const challenge = offline.challenge(device());
    expect(offline.redeem(answer(challenge, 30))).toEqual({ ok: false, code: 'OFFLINE_ERR_NO_SECRET' });
  });

  it(`keeps at most ${MAX_PENDING_CHALLENGES} challenges, dropping the oldest`, () => {
    const { offline } = setup();
    const first = offline.challenge(device('S-0'));
    for (let i = 1; i <= MAX_PENDING_CHALLENGES; i++) offline.challenge(device(`S-${i}`));
    expect(offline.pendingCount()).toBe(MAX_PENDING_CHALLENGES);
    expect(offline.redeem(answer(first, 30)).ok).toBe(false);
  });

  it('caps the minutes a code may grant', () => {
    const { offline } = setup();
    const r = offline.redeem(answer(offline.challenge(device()), 0xffff));
    expect(r).toMatchObject({ ok: true, minutes: MAX_OFFLINE_MINUTES });
  });
});
