import { describe, expect, it } from 'vitest';
import { assertTransition, canTransition, cleanActor, cleanId, cleanNote, NOTE_MAX, type AlertAction } from '../../../../../collector/alerts/lifecycle.js';
import { DEFAULT_ALERT_ENGINE_CONFIG, resolveAlertEngineConfig } from '../../../../../collector/alerts/engine-config.js';
import { isAppError } from '../../../../../shared/errors.js';
import type { AlertState } from '../../../../../collector/alerts/channels/types.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return isAppError(err) ? err.code : `not an AppError: ${String(err)}`;
  }
  return 'no error';
}

describe('alert lifecycle transitions', () => {
  const table: Array<[AlertState, AlertAction, boolean]> = [
    ['open', 'acknowledge', true],
    ['open', 'assign', true],
    ['open', 'resolve', true],
    ['open', 'note', true],
    ['acknowledged', 'acknowledge', false],
    ['acknowledged', 'assign', true],
    ['acknowledged', 'resolve', true],
    ['acknowledged', 'note', true],
    ['resolved', 'acknowledge', false],
    ['resolved', 'assign', false],
    ['resolved', 'resolve', false],
    ['resolved', 'note', true],
  ];

  it.each(table)('from %s, %s is allowed: %s', (state, action, ok) => {
    expect(canTransition(state, action)).toBe(ok);
    expect(codeOf(() => assertTransition(7, state, action))).toBe(ok ? 'no error' : 'ALERT_ERR_TRANSITION');
  });
});

describe('alert input cleaning', () => {
  it('sanitizes and caps actor names and refuses empty or non-string ones', () => {
    expect(cleanActor(' duty\u0007-1 ', 'user')).toBe('duty\uFFFD-1');
    expect([...cleanActor('x'.repeat(500), 'user')].length).toBe(64);
    expect(codeOf(() => cleanActor('   ', 'user'))).toBe('ALERT_ERR_INVALID_INPUT');
    expect(codeOf(() => cleanActor(42 as unknown as string, 'user'))).toBe('ALERT_ERR_INVALID_INPUT');
  });

  it('keeps line breaks in notes but strips other control and bidi characters', () => {
    expect(cleanNote('cause: stick\r\naction: removed\u202e')).toBe('cause: stick\naction: removed\uFFFD');
    expect(cleanNote('  \n ')).toBe('');
    expect(cleanNote(' \t\u0007\n')).toBe('');
    expect(cleanNote('a\tb')).toBe('a b');
    expect(cleanNote(undefined)).toBe('');
    expect([...cleanNote('y'.repeat(NOTE_MAX + 50))].length).toBe(NOTE_MAX);
  });

  it('accepts positive integer ids (also as digit strings) and refuses anything else', () => {
    expect(cleanId(5)).toBe(5);
    expect(cleanId('12' as unknown as number)).toBe(12);
    for (const bad of [0, -1, 1.5, '1e3', 'abc', null, Number.MAX_SAFE_INTEGER + 1]) {
      expect(codeOf(() => cleanId(bad as number))).toBe('ALERT_ERR_INVALID_INPUT');
    }
  });
});

describe('alert engine config', () => {
  it('uses the documented defaults: 10 min dedup, 60 min escalation, duty→officer→admin, 3 min heartbeat', () => {
    const c = resolveAlertEngineConfig();
    expect(c.dedupWindowMs).toBe(600_000);
    expect(c.escalationAfterMs).toBe(3_600_000);
    expect(c.escalationChain).toEqual(['duty', 'officer', 'admin']);
    expect(c.heartbeatMissAfterMs).toBe(180_000);
    expect(Object.isFrozen(c)).toBe(true);
    expect(c).toEqual(DEFAULT_ALERT_ENGINE_CONFIG);
  });

  it('lists every problem in one ALERT_ERR_CONFIG', () => {
    let message = '';
    try {
      resolveAlertEngineConfig({ dedupWindowMs: 0, escalationChain: [], reportTimeZone: 'Mars/Base', consoleUrl: 'javascript:alert(1)', bogus: 1 } as never);
    } catch (err) {
      expect(isAppError(err) && err.code).toBe('ALERT_ERR_CONFIG');
      message = (err as Error).message;
    }
    for (const part of ['dedupWindowMs', 'escalationChain', 'reportTimeZone', 'consoleUrl', 'unknown key bogus']) expect(message).toContain(part);
  });
});
