import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkMaintenanceCode, type MaintenancePurpose } from '../../shared/domain/maintenance-code.js';
import { formatError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { OfflineSecret } from '../grants/offline-unlock.js';

/**
 * The seat's side of maintenance codes (shared/domain/maintenance-code.ts): checks a code offline
 * with the per-seat secret and spends it. Spent ids are kept in the state dir until the code
 * expires, so neither a replay nor a restart in between makes a code work twice.
 */

export const USED_FILE = 'maintenance-used.json';
/** Written by an authorized `upgrade`; the next start re-records the integrity baseline once. */
export const UPGRADE_MARKER_FILE = 'upgrade-pending.json';
const MAX_USED = 1_000;

export type Redeemed = { ok: true; codeId: string; purpose: MaintenancePurpose; expiresAtMs: number } | { ok: false; code: ErrorCode; message: string };

export interface MaintenanceGate {
  /** Checks and spends a code for `purpose`. */
  redeem(code: string, purpose: MaintenancePurpose): Redeemed;
  /** Remembers an accepted upgrade for the next start. */
  markUpgrade(codeId: string, expiresAtMs: number): void;
  /** At start: the upgrade code id to re-record the baseline with, if a fresh marker of a spent code is there. Consumes the marker. */
  takeUpgrade(): string | null;
}

export interface MaintenanceGateDeps {
  stateDir: string;
  secret: () => OfflineSecret | null;
  /** Wall clock, ms: code expiry is a wall-clock time set by the collector. */
  nowMs: () => number;
  log: Logger;
}

export function createMaintenanceGate(deps: MaintenanceGateDeps): MaintenanceGate {
  const log = deps.log.child({ component: 'maintenance' });
  const usedPath = join(deps.stateDir, USED_FILE);
  const markerPath = join(deps.stateDir, UPGRADE_MARKER_FILE);

  function loadUsed(): Map<string, number> {
    try {
      const raw = JSON.parse(readFileSync(usedPath, 'utf8')) as { used?: Record<string, unknown> };
      const m = new Map<string, number>();
      for (const [id, exp] of Object.entries(raw.used ?? {})) if (/^mc_[0-9a-f]{16}$/.test(id) && typeof exp === 'number') m.set(id, exp);
      return m;
    } catch {
      return new Map();
    }
  }

  function saveUsed(m: Map<string, number>): void {
    const now = deps.nowMs();
    const keep = [...m].filter(([, exp]) => exp > now).slice(-MAX_USED);
    const tmp = `${usedPath}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ used: Object.fromEntries(keep) })}\n`, { mode: 0o600 });
    renameSync(tmp, usedPath);
  }

  return {
    redeem(code, purpose) {
      const s = deps.secret();
      if (!s) return { ok: false, code: 'MAINT_ERR_NO_SECRET', message: formatError('MAINT_ERR_NO_SECRET', 'not enrolled, or enrolled without an offline secret') };
      const r = checkMaintenanceCode(s.secret, s.agentId, code, purpose, deps.nowMs());
      if (!r.ok) {
        log.warn({ purpose, why: r.why }, 'maintenance code refused');
        const why = { malformed: 'not a maintenance code', mac: 'not issued for this seat', purpose: `issued for another purpose`, expired: 'expired', too_far: 'expiry too far ahead' }[r.why];
        return { ok: false, code: 'MAINT_ERR_CODE', message: formatError('MAINT_ERR_CODE', purpose, why) };
      }
      const used = loadUsed();
      if (used.has(r.codeId)) {
        log.warn({ code_id: r.codeId, purpose }, 'maintenance code replayed');
        return { ok: false, code: 'MAINT_ERR_USED', message: formatError('MAINT_ERR_USED', r.codeId) };
      }
      used.set(r.codeId, r.expiresAtMs);
      // Spent on disk before anything acts on it: a crash right after cannot give it a second life.
      saveUsed(used);
      log.info({ code_id: r.codeId, purpose }, 'maintenance code accepted');
      return { ok: true, codeId: r.codeId, purpose, expiresAtMs: r.expiresAtMs };
    },

    markUpgrade(codeId, expiresAtMs) {
      const tmp = `${markerPath}.tmp`;
      writeFileSync(tmp, `${JSON.stringify({ code_id: codeId, expires_at_ms: expiresAtMs })}\n`, { mode: 0o600 });
      renameSync(tmp, markerPath);
    },

    takeUpgrade() {
      let raw: { code_id?: unknown; expires_at_ms?: unknown };
      try {
        raw = JSON.parse(readFileSync(markerPath, 'utf8')) as typeof raw;
      } catch {
        return null;
      }
      try {
        unlinkSync(markerPath);
      } catch {
        // gone already
      }
      const id = raw.code_id;
      const exp = raw.expires_at_ms;
      // The marker alone proves nothing (root can write files): its code must be one this agent spent, still unexpired.
      if (typeof id !== 'string' || typeof exp !== 'number' || exp <= deps.nowMs() || loadUsed().get(id) !== exp) {
        log.warn({}, 'upgrade marker ignored: not a spent, unexpired upgrade code');
        return null;
      }
      return id;
    },
  };
}
