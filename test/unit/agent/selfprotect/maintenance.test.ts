import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkMaintenanceCode, makeMaintenanceCode, MAINTENANCE_MAX_TTL_MS } from '../../../../shared/domain/maintenance-code.js';
import { silentLogger } from '../../../../shared/logger.js';
import { createMaintenanceGate, UPGRADE_MARKER_FILE } from '../../../../agent/selfprotect/maintenance.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const SECRET = randomBytes(32);
const AGENT = 'agt_seat01';
const NOW = Date.parse('2026-12-06T04:00:00Z');
const code = (purpose: 'stop' | 'uninstall' | 'upgrade', ttlMs = 30 * 60_000, secret = SECRET, agent = AGENT) =>
  makeMaintenanceCode(secret, agent, { purpose, expiresAtMs: NOW + ttlMs, nonce: randomBytes(3) });

function gate(now = () => NOW, secret: Buffer | null = SECRET) {
  const state = mkdtempSync(join(tmpdir(), 'sg-maint-'));
  dirs.push(state);
  const make = () => createMaintenanceGate({ stateDir: state, secret: () => (secret ? { agentId: AGENT, secret } : null), nowMs: now, log: silentLogger() });
  return { state, make };
}

describe('maintenance codes (shared crypto)', () => {
  it('round-trips purpose, expiry and id, 24 characters in groups of four', () => {
    const c = code('uninstall');
    expect(c.code).toMatch(/^([0-9A-Z]{4}-){5}[0-9A-Z]{4}$/);
    const r = checkMaintenanceCode(SECRET, AGENT, c.code.toLowerCase(), 'uninstall', NOW);
    expect(r).toEqual({ ok: true, purpose: 'uninstall', codeId: c.codeId, expiresAtMs: c.expiresAtMs });
  });

  it('refuses another seat, another purpose, a flipped character, an expired and a too-distant code', () => {
    const c = code('stop');
    expect(checkMaintenanceCode(SECRET, 'agt_other', c.code, 'stop', NOW)).toEqual({ ok: false, why: 'mac' });
    expect(checkMaintenanceCode(randomBytes(32), AGENT, c.code, 'stop', NOW)).toEqual({ ok: false, why: 'mac' });
    expect(checkMaintenanceCode(SECRET, AGENT, c.code, 'uninstall', NOW)).toEqual({ ok: false, why: 'purpose' });
    const flipped = c.code.slice(0, 10) + (c.code[10] === 'A' ? 'B' : 'A') + c.code.slice(11);
    expect(checkMaintenanceCode(SECRET, AGENT, flipped, 'stop', NOW).ok).toBe(false);
    expect(checkMaintenanceCode(SECRET, AGENT, c.code, 'stop', c.expiresAtMs)).toEqual({ ok: false, why: 'expired' });
    const far = code('stop', MAINTENANCE_MAX_TTL_MS + 60 * 60_000);
    expect(checkMaintenanceCode(SECRET, AGENT, far.code, 'stop', NOW)).toEqual({ ok: false, why: 'too_far' });
    expect(checkMaintenanceCode(SECRET, AGENT, 'ABCD', 'stop', NOW)).toEqual({ ok: false, why: 'malformed' });
  });
});

describe('the seat maintenance gate', () => {
  it('accepts a good code once; the replay is refused, also by a restarted agent', () => {
    const g = gate();
    const c = code('stop');
    expect(g.make().redeem(c.code, 'stop')).toMatchObject({ ok: true, codeId: c.codeId });
    const again = g.make().redeem(c.code, 'stop');
    expect(again).toMatchObject({ ok: false, code: 'MAINT_ERR_USED' });
  });

  it('refuses bad, expired and wrong-purpose codes with MAINT_ERR_CODE and does not spend them', () => {
    let now = NOW;
    const g = gate(() => now);
    const c = code('stop', 60_000);
    expect(g.make().redeem(c.code, 'uninstall')).toMatchObject({ ok: false, code: 'MAINT_ERR_CODE' });
    expect(g.make().redeem(code('stop', 60_000, randomBytes(32)).code, 'stop')).toMatchObject({ ok: false, code: 'MAINT_ERR_CODE' });
    now = NOW + 2 * 60_000;
    expect(g.make().redeem(c.code, 'stop')).toMatchObject({ ok: false, code: 'MAINT_ERR_CODE', message: expect.stringMatching(/expired/) as unknown });
    now = NOW;
    expect(g.make().redeem(c.code, 'stop')).toMatchObject({ ok: true });
  });

  it('without a seat secret refuses everything with MAINT_ERR_NO_SECRET', () => {
    const g = gate(() => NOW, null);
    expect(g.make().redeem(code('stop').code, 'stop')).toMatchObject({ ok: false, code: 'MAINT_ERR_NO_SECRET' });
  });

  it('hands an accepted upgrade to the next start once; a forged or stale marker is ignored', () => {
    let now = NOW;
    const g = gate(() => now);
    const c = code('upgrade', 10 * 60_000);
    const r = g.make().redeem(c.code, 'upgrade');
    if (!r.ok) throw new Error('refused');
    g.make().markUpgrade(r.codeId, r.expiresAtMs);
    expect(g.make().takeUpgrade()).toBe(c.codeId);
    expect(existsSync(join(g.state, UPGRADE_MARKER_FILE))).toBe(false);
    expect(g.make().takeUpgrade()).toBeNull();
    // A marker naming a code this agent never accepted.
    writeFileSync(join(g.state, UPGRADE_MARKER_FILE), JSON.stringify({ code_id: 'mc_00112233445566aa', expires_at_ms: NOW + 60_000 }));
    expect(g.make().takeUpgrade()).toBeNull();
    // A real one that expired before the restart.
    g.make().markUpgrade(r.codeId, r.expiresAtMs);
    now = r.expiresAtMs + 1;
    expect(g.make().takeUpgrade()).toBeNull();
  });
});
