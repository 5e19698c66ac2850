import { describe, expect, it } from 'vitest';
import { createChallengeIssuer } from '../../../collector/auth/agent-challenge.js';
import { ManualClock } from '../../../shared/clock.js';

describe('createChallengeIssuer', () => {
  const make = (ttlMs = 30_000) => {
    const clock = new ManualClock();
    return { clock, issuer: createChallengeIssuer({ clock, ttlMs }) };
  };

  it('issues a nonce that checks for the agent it was issued to until it expires', () => {
    const { clock, issuer } = make();
    const { nonce, expires_at } = issuer.issue('agt_a');
    expect(Date.parse(expires_at)).toBe(clock.now() + 30_000);
    expect(nonce.length).toBeLessThan(100);
    expect(issuer.check('agt_a', nonce)).toEqual({ ok: true });
    clock.advance(29_999);
    expect(issuer.check('agt_a', nonce)).toEqual({ ok: true });
    clock.advance(1);
    expect(issuer.check('agt_a', nonce)).toEqual({ ok: false, reason: 'expired' });
  });

  it('binds the nonce to the agent id', () => {
    const { issuer } = make();
    expect(issuer.check('agt_b', issuer.issue('agt_a').nonce)).toEqual({ ok: false, reason: 'mac' });
  });

  it('rejects a nonce whose expiry was pushed forward', () => {
    const { clock, issuer } = make();
    const [, rnd, mac] = issuer.issue('agt_a').nonce.split('.');
    const forged = `${(clock.now() + 10 * 86_400_000).toString(36)}.${rnd}.${mac}`;
    expect(issuer.check('agt_a', forged)).toEqual({ ok: false, reason: 'mac' });
  });

  it('rejects malformed nonces and nonces from another collector process', () => {
    const { issuer } = make();
    const other = make().issuer;
    for (const n of ['', 'abc', 'a.b.c', `${'z'.repeat(300)}`]) expect(issuer.check('agt_a', n)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(issuer.check('agt_a', other.issue('agt_a').nonce)).toEqual({ ok: false, reason: 'mac' });
  });

  it('refuses a burned nonce and forgets it once it has expired anyway', () => {
    const { clock, issuer } = make(1_000);
    const { nonce } = issuer.issue('agt_a');
    issuer.burn(nonce);
    expect(issuer.check('agt_a', nonce)).toEqual({ ok: false, reason: 'replayed' });
    expect(issuer.burnedCount()).toBe(1);
    clock.advance(1_000);
    issuer.check('agt_a', issuer.issue('agt_a').nonce);
    expect(issuer.burnedCount()).toBe(0);
  });
});
