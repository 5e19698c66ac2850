import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';

/**
 * Upgrade challenges, stateless until used: a nonce is `<expiry ms base36>.<random>.<mac>` where
 * mac = HMAC-SHA256(process secret, agent_id ‖ expiry ‖ random). Issuing stores nothing, so
 * anonymous GET /challenge cannot grow memory; a nonce that authenticated an upgrade is burned
 * (kept until it expires) so it cannot be replayed. The secret lives in memory only: a restart
 * invalidates outstanding nonces and agents simply fetch a new one.
 */
export interface ChallengeIssuer {
  issue(agentId: string): { nonce: string; expires_at: string };
  /** Checks MAC, expiry and burn state without consuming; reason is for logs. */
  check(agentId: string, nonce: string): { ok: true } | { ok: false; reason: 'malformed' | 'mac' | 'expired' | 'replayed' };
  /** Burns a nonce after the signature over it was verified. */
  burn(nonce: string): void;
  /** Burned nonces not yet expired (for tests and metrics). */
  burnedCount(): number;
}

const NONCE_RE = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

/** `ttlMs` is the nonce lifetime; `secret` is injectable for tests (default: 32 random bytes). */
export function createChallengeIssuer(opts: { clock: Clock; ttlMs: number; secret?: Buffer }): ChallengeIssuer {
  const secret = opts.secret ?? randomBytes(32);
  const burned = new Map<string, number>();
  const mac = (agentId: string, exp: string, rnd: string) =>
    createHmac('sha256', secret).update(`${agentId}\n${exp}\n${rnd}`).digest();

  // Every nonce gets the same TTL, so insertion order is expiry order: stop at the first live one.
  function prune(now: number): void {
    for (const [n, exp] of burned) {
      if (exp > now) break;
      burned.delete(n);
    }
  }

  return {
    issue(agentId) {
      const expMs = opts.clock.now() + opts.ttlMs;
      const exp = expMs.toString(36);
      const rnd = randomBytes(16).toString('base64url');
      const nonce = `${exp}.${rnd}.${mac(agentId, exp, rnd).toString('base64url')}`;
      return { nonce, expires_at: new Date(expMs).toISOString() };
    },
    check(agentId, nonce) {
      const m = NONCE_RE.exec(nonce);
      if (!m) return { ok: false, reason: 'malformed' };
      const [, exp = '', rnd = '', tag = ''] = m;
      const expected = mac(agentId, exp, rnd);
      const got = Buffer.from(tag, 'base64url');
      if (got.length !== expected.length || !timingSafeEqual(got, expected)) return { ok: false, reason: 'mac' };
      const now = opts.clock.now();
      if (parseInt(exp, 36) <= now) return { ok: false, reason: 'expired' };
      prune(now);
      if (burned.has(nonce)) return { ok: false, reason: 'replayed' };
      return { ok: true };
    },
    burn(nonce) {
      const m = NONCE_RE.exec(nonce);
      if (m) burned.set(nonce, parseInt(m[1] ?? '0', 36));
    },
    burnedCount: () => burned.size,
  };
}
