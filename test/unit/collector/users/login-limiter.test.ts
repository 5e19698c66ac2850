import { describe, expect, it } from 'vitest';
import { createLoginLimiter } from '../../../../collector/users/login-limiter.js';
import { ManualClock } from '../../../../shared/clock.js';

const MIN = 60_000;

describe('login limiter', () => {
  it('locks a user name after 5 failures for 15 minutes, then lets it try again', () => {
    const clock = new ManualClock();
    const l = createLoginLimiter(clock);
    for (let i = 0; i < 4; i++) expect(l.recordFailure('alice', `10.0.0.${i}`).userLocked).toBe(false);
    expect(l.check('alice', '10.0.0.9')).toEqual({ locked: false });
    expect(l.recordFailure('alice', '10.0.0.9').userLocked).toBe(true);
    expect(l.check('ALICE', '10.0.0.77')).toMatchObject({ locked: true, key: 'user', retryAfterMs: 15 * MIN });
    clock.advance(15 * MIN);
    expect(l.check('alice', '10.0.0.77')).toEqual({ locked: false });
  });

  it('doubles the lockout on each repeated lockout, up to the maximum', () => {
    const clock = new ManualClock();
    const l = createLoginLimiter(clock, { maxFailures: 2, lockoutMs: 10 * MIN, maxLockoutMs: 35 * MIN });
    const lockOnce = () => {
      l.recordFailure('bob', '1.1.1.1');
      l.recordFailure('bob', '1.1.1.1');
      const c = l.check('bob', '1.1.1.1');
      if (!c.locked) throw new Error('expected a lockout');
      clock.advance(c.retryAfterMs);
      return c.retryAfterMs;
    };
    expect([lockOnce(), lockOnce(), lockOnce(), lockOnce()]).toEqual([10 * MIN, 20 * MIN, 35 * MIN, 35 * MIN]);
  });

  it('locks an address after its own, higher limit whatever names it tries', () => {
    const clock = new ManualClock();
    const l = createLoginLimiter(clock, { ipMaxFailures: 6 });
    let locked = false;
    for (let i = 0; i < 6; i++) locked = l.recordFailure(`user${i}`, '192.0.2.1').ipLocked;
    expect(locked).toBe(true);
    expect(l.check('someone-new', '192.0.2.1')).toMatchObject({ locked: true, key: 'ip' });
    expect(l.check('someone-new', '192.0.2.2')).toEqual({ locked: false });
  });

  it('forgets failures outside the window and after a successful login', () => {
    const clock = new ManualClock();
    const l = createLoginLimiter(clock);
    for (let i = 0; i < 4; i++) l.recordFailure('carol', '1.1.1.1');
    clock.advance(16 * MIN);
    expect(l.recordFailure('carol', '1.1.1.1').userLocked).toBe(false);
    for (let i = 0; i < 3; i++) l.recordFailure('carol', '1.1.1.1');
    l.recordSuccess('carol');
    expect(l.recordFailure('carol', '1.1.1.1').userLocked).toBe(false);
  });

  it('throttles unknown user names exactly like known ones (it never looks names up)', () => {
    const clock = new ManualClock();
    const l = createLoginLimiter(clock);
    for (let i = 0; i < 5; i++) l.recordFailure('no-such-user', '1.1.1.1');
    expect(l.check('no-such-user', '2.2.2.2')).toMatchObject({ locked: true, key: 'user' });
  });
});
