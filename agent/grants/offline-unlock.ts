import { CHALLENGE_TTL_MS, formatChallenge, newChallenge, verifyResponse, type Challenge } from '../../shared/domain/offline-code.js';
import type { UsbDevice } from '../../shared/domain/usb.js';

/**
 * The seat's side of offline unlock codes (shared/domain/offline-code.ts): pending challenges kept
 * in memory for CHALLENGE_TTL_MS, at most MAX_PENDING_CHALLENGES, each answerable once.
 */

/** Challenges kept at once; a new one evicts the oldest. */
export const MAX_PENDING_CHALLENGES = 16;
/** Longest offline grant the agent honours (a code may encode up to 65 535 minutes). */
export const MAX_OFFLINE_MINUTES = 7 * 24 * 60;

export interface OfflineSecret {
  agentId: string;
  secret: Buffer;
}

export interface OfflineUnlockDeps {
  /** The seat's offline secret and agent id; null until enrolled (or when the collector gave none). */
  secret: () => OfflineSecret | null;
  /** Monotonic milliseconds for the challenge lifetime. */
  monotonicMs: () => number;
  /** Challenge lifetime. Default CHALLENGE_TTL_MS (1 h). */
  ttlMs?: number;
}

export type RedeemResult =
  | { ok: true; minutes: number; challenge: string; device: UsbDevice }
  | { ok: false; code: 'OFFLINE_ERR_CODE' | 'OFFLINE_ERR_NO_SECRET' };

export interface OfflineUnlock {
  /** A new challenge for this device, to be read out to the maintainer. */
  challenge(device: UsbDevice): string;
  /** Checks a response; on a match the challenge is consumed (single use) and the minutes returned. */
  redeem(response: string): RedeemResult;
  pendingCount(): number;
}

interface Pending {
  challenge: Challenge;
  text: string;
  device: UsbDevice;
  createdMono: number;
}

/** Creates the pending-challenge table (in memory: a restarted agent needs a new challenge). */
export function createOfflineUnlock(deps: OfflineUnlockDeps): OfflineUnlock {
  const ttl = deps.ttlMs ?? CHALLENGE_TTL_MS;
  let pending: Pending[] = [];

  function prune(): void {
    const now = deps.monotonicMs();
    pending = pending.filter((p) => now - p.createdMono < ttl);
  }

  return {
    challenge(device) {
      prune();
      const c = newChallenge(device);
      const text = formatChallenge(c);
      pending.push({ challenge: c, text, device, createdMono: deps.monotonicMs() });
      while (pending.length > MAX_PENDING_CHALLENGES) pending.shift();
      return text;
    },
    redeem(response) {
      const s = deps.secret();
      if (!s) return { ok: false, code: 'OFFLINE_ERR_NO_SECRET' };
      prune();
      const match = verifyResponse(s.secret, s.agentId, pending.map((p) => p.challenge), response);
      if (!match) return { ok: false, code: 'OFFLINE_ERR_CODE' };
      const [used] = pending.splice(match.index, 1);
      if (!used) return { ok: false, code: 'OFFLINE_ERR_CODE' };
      return { ok: true, minutes: Math.min(match.minutes, MAX_OFFLINE_MINUTES), challenge: used.text, device: used.device };
    },
    pendingCount() {
      prune();
      return pending.length;
    },
  };
}
