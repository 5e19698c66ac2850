import type { Clock } from '../../shared/clock.js';
import {
  deriveSeatSecret,
  deviceFingerprint,
  formatChallenge,
  makeResponse,
  parseChallenge,
  type DeviceIdentity,
} from '../../shared/domain/offline-code.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { EventBody } from '../../shared/protocol/messages.js';
import type { AuditLog } from '../audit/audit-log.js';
import { can, inScope } from '../auth/privileges.js';
import type { Store } from '../store/store.js';
import type { OfflineCodeRow, OfflineUseRow } from '../store/unlock-repo.js';
import type { Actor, UnlockPolicy } from './unlock-machine.js';
import { agentActor, newId } from './unlock-service.js';

export interface IssueOfflineCodeInput {
  agentId: string;
  /** As read out at the seat; dashes, spaces, case and I/L/O look-alikes are tolerated. */
  challenge: string;
  /** The device the seat user says it is for; when given, it must be the device the challenge was made for. */
  device?: DeviceIdentity;
  minutes: number;
  reason?: string;
}

export interface IssuedOfflineCode {
  id: string;
  agent_id: string;
  challenge: string;
  minutes: number;
  /** The response code the maintainer reads back to the seat. Not stored anywhere. */
  response: string;
  issued_by: string;
  issued_at: string;
}

/** Outcome of a seat's offline.unlock_used report. */
export interface OfflineUseOutcome {
  useId: number;
  codeId: string | null;
  /** null = a first use of a code we issued; otherwise why it is suspicious. */
  flag: OfflineUseRow['flag'];
}

export interface OfflineCodeService {
  /** Makes the response code for a seat's challenge (maintainer, in scope, minutes in policy bounds), recorded and audited. */
  issue(actor: Actor, input: IssueOfflineCodeInput): IssuedOfflineCode;
  /** Records a seat's report that a code was accepted; flags unknown and re-used challenges. Call inside a transaction. */
  onUsed(agentId: string, body: EventBody<'offline.unlock_used'>, usedAt: string): OfflineUseOutcome;
  /** grant.applied / grant.ended of an offline grant; false when the grant id is not an offline use of this seat. Call inside a transaction. */
  onGrantReport(agentId: string, report: { type: 'grant.applied' | 'grant.ended'; grantId: string; detail: Record<string, unknown>; reason?: string }): boolean;
  /** A code with its uses and the department of its seat (for scope checks). */
  get(id: string): { code: OfflineCodeRow; uses: OfflineUseRow[]; department: string | null } | undefined;
  list(q: { agentId?: string; departments?: readonly string[] | '*'; limit: number; offset: number }): { rows: OfflineCodeRow[]; total: number };
}

export interface OfflineCodeServiceDeps {
  store: Store;
  audit: Pick<AuditLog, 'append'>;
  clock: Clock;
  log: Logger;
  policy: Readonly<UnlockPolicy>;
  /** The collector's offline master key (DATA/keys/offline-master.key). */
  masterKey: Buffer;
}

/** Offline challenge/response codes for seats that cannot reach the collector (docs/unlock-workflow.md). */
export function createOfflineCodeService(deps: OfflineCodeServiceDeps): OfflineCodeService {
  const { store, audit, clock, policy, masterKey } = deps;
  const log = deps.log.child({ component: 'offline-codes' });
  const iso = (ms: number) => new Date(ms).toISOString();
  const minMinutes = Math.ceil(policy.minDurationMs / 60_000);
  const maxMinutes = Math.floor(policy.maxDurationMs / 60_000);

  return {
    issue(actor, input) {
      if (!can(actor.roles, 'unlock.offline_code')) throw new AppError('UNLOCK_ERR_FORBIDDEN', `${actor.id} may not issue offline codes`);
      const seat = store.agents.get(input.agentId);
      if (!seat || seat.revoked_at !== null) throw new AppError('UNLOCK_ERR_SEAT', formatError('UNLOCK_ERR_SEAT', input.agentId));
      if (!inScope(actor.departments, seat.department)) {
        throw new AppError('UNLOCK_ERR_SCOPE', `seat ${input.agentId} is outside the departments ${actor.id} may manage`);
      }
      if (!Number.isInteger(input.minutes) || input.minutes < minMinutes || input.minutes > maxMinutes) {
        throw new AppError('OFFLINE_ERR_MINUTES', formatError('OFFLINE_ERR_MINUTES', `${minMinutes}–${maxMinutes} minutes`));
      }
      const challenge = parseChallenge(input.challenge);
      if (!challenge) throw new AppError('OFFLINE_ERR_CHALLENGE', formatError('OFFLINE_ERR_CHALLENGE', 'expected 16 characters of Crockford base32'));
      if (input.device && !deviceFingerprint(input.device).equals(challenge.fingerprint)) {
        // The code would not work anyway (the agent binds the challenge to its device); say so now.
        throw new AppError('OFFLINE_ERR_CHALLENGE', formatError('OFFLINE_ERR_CHALLENGE', 'the challenge was made for another device'));
      }
      const normalized = formatChallenge(challenge);
      const response = makeResponse(deriveSeatSecret(masterKey, input.agentId), input.agentId, challenge, input.minutes);
      const id = newId('ofc');
      const now = iso(clock.now());
      const reason = sanitizeText(input.reason ?? '', 1_024);
      const device = input.device
        ? { vendor_id: input.device.vendor_id, product_id: input.device.product_id, serial: input.device.serial, hash: input.device.hash }
        : null;
      store.transaction(() => {
        store.offlineCodes.insert({
          id,
          agent_id: input.agentId,
          challenge: normalized,
          minutes: input.minutes,
          device: device === null ? null : JSON.stringify(device),
          reason,
          issued_by: actor.id,
          issued_at: now,
        });
        // The response is a bearer credential for this challenge: it goes to the maintainer only, never to the trail.
        audit.append({
          actor: actor.id,
          action: 'offline_code.issue',
          targetType: 'offline_code',
          targetId: id,
          caseId: id,
          detail: { agent_id: input.agentId, challenge: normalized, minutes: input.minutes, device, reason },
        });
      });
      log.info({ offline_code_id: id, agent_id: input.agentId, minutes: input.minutes, issued_by: actor.id }, 'offline code issued');
      return { id, agent_id: input.agentId, challenge: normalized, minutes: input.minutes, response, issued_by: actor.id, issued_at: now };
    },

    onUsed(agentId, body, usedAt) {
      const parsed = parseChallenge(body.challenge);
      const challenge = parsed ? formatChallenge(parsed) : sanitizeText(body.challenge, 32);
      const codes = store.offlineCodes.find(agentId, challenge);
      const priorUses = store.offlineCodes.usesOfChallenge(agentId, challenge);
      let codeId: string | null = null;
      let flag: OfflineUseRow['flag'] = null;
      // The seat consumes a challenge on its first accepted response: a second report is a replay or a clone.
      if (priorUses > 0) {
        flag = 'reused';
        codeId = codes.find((c) => c.minutes === body.minutes)?.id ?? codes[0]?.id ?? null;
      } else {
        const code = codes.find((c) => c.minutes === body.minutes && c.used_at === null);
        if (code) {
          codeId = code.id;
          store.offlineCodes.markUsed(code.id, usedAt);
        } else {
          // No code for this seat, challenge and duration was ever handed out: forged or leaked secret.
          flag = 'unknown_code';
        }
      }
      const receivedAt = iso(clock.now());
      const useId = store.offlineCodes.insertUse({
        agent_id: agentId,
        code_id: codeId,
        challenge,
        minutes: body.minutes,
        grant_id: body.grant_id,
        device: JSON.stringify(body.device),
        used_at: usedAt,
        received_at: receivedAt,
        flag,
      });
      audit.append({
        actor: agentActor(agentId),
        action: flag === null ? 'offline_code.use' : 'offline_code.flagged',
        targetType: codeId === null ? 'offline_use' : 'offline_code',
        targetId: codeId ?? String(useId),
        caseId: codeId,
        detail: { flag, use_id: useId, agent_id: agentId, challenge, minutes: body.minutes, grant_id: body.grant_id, device: { ...body.device } },
      });
      if (flag !== null) log.warn({ agent_id: agentId, offline_code_id: codeId, flag }, 'suspicious offline unlock');
      else log.info({ agent_id: agentId, offline_code_id: codeId }, 'offline code used');
      return { useId, codeId, flag };
    },

    onGrantReport(agentId, report) {
      const use = store.offlineCodes.openUseByGrant(agentId, report.grantId);
      if (!use) return false;
      if (report.type === 'grant.ended') store.offlineCodes.markUseRelocked(use.id, iso(clock.now()), report.reason ?? 'unknown');
      audit.append({
        actor: agentActor(agentId),
        action: report.type === 'grant.ended' ? 'offline_code.relock' : 'offline_code.apply',
        targetType: use.code_id === null ? 'offline_use' : 'offline_code',
        targetId: use.code_id ?? String(use.id),
        caseId: use.code_id,
        detail: { use_id: use.id, grant_id: report.grantId, ...report.detail },
      });
      return true;
    },

    get(id) {
      const code = store.offlineCodes.get(id);
      return code ? { code, uses: store.offlineCodes.uses(id), department: store.agents.get(code.agent_id)?.department ?? null } : undefined;
    },
    list: (q) => store.offlineCodes.list(q),
  };
}
