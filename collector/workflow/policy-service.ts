import { createHash } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { collectorMessage } from '../../shared/protocol/encode.js';
import type { EventBody } from '../../shared/protocol/messages.js';
import { DEFAULT_POLICY, parseRuleset, type RulesetError } from '../../shared/rules/index.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { PolicyRollout, PolicyRow } from '../store/policy-repo.js';
import type { Store } from '../store/store.js';
import { agentActor, SYSTEM_ACTOR, type AgentChannel } from './unlock-service.js';

/**
 * Largest ruleset in bytes: policy.updated must fit one protocol frame (MAX_FRAME_BYTES = 64 KiB)
 * with its envelope and JSON escaping.
 */
export const MAX_POLICY_BYTES = 48 * 1024;

export interface PolicyServiceDeps {
  store: Store;
  audit: Pick<AuditLog, 'append'>;
  channel: AgentChannel;
  clock: Clock;
  log: Logger;
}

export interface PolicyService {
  /** Writes DEFAULT_POLICY as version 1 when there is no policy yet; returns the current one. */
  ensureInitial(): PolicyRow;
  current(): PolicyRow;
  get(version: number): PolicyRow | undefined;
  list(q: { limit: number; offset: number }): { rows: PolicyRow[]; total: number };
  rollout(p: PolicyRow): PolicyRollout;
  /**
   * Validates `rules` (POLICY_ERR_INVALID with every bad line), appends the next version with its
   * audit record in one transaction, then pushes policy.updated to every connected agent.
   */
  publish(actorId: string, rules: string, comment: string): PolicyRow;
  /** The policy.updated frame of the current version (sent after welcome). */
  frame(): string;
  /** Records a seat's policy.applied report (inside the caller's transaction). */
  onApplied(agentId: string, body: EventBody<'policy.applied'>): void;
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Every problem of a ruleset, for the API's 400 answer; empty when it may be published. */
export function policyProblems(rules: string): RulesetError[] {
  if (Buffer.byteLength(rules, 'utf8') > MAX_POLICY_BYTES) {
    return [{ line: 0, column: 0, position: 0, message: `the policy is larger than ${MAX_POLICY_BYTES} bytes` }];
  }
  const parsed = parseRuleset(rules);
  if (parsed.errors.length > 0) return parsed.errors;
  // USBGuard's implicit target for no matching rule is block: an empty policy would lock out keyboards too.
  if (parsed.rules.length === 0) return [{ line: 0, column: 0, position: 0, message: 'the policy has no rules' }];
  return [];
}

/** The versioned USB policy: history, publishing, and the seats' apply reports. */
export function createPolicyService(deps: PolicyServiceDeps): PolicyService {
  const { store, audit, channel, clock } = deps;
  const log = deps.log.child({ component: 'policy' });
  const iso = () => new Date(clock.now()).toISOString();

  function appendTx(actor: string, rules: string, comment: string): number {
    const sha256 = sha256Hex(rules);
    const version = store.policies.append({ rules, sha256, created_by: actor, created_at: iso(), comment });
    audit.append({
      actor,
      action: 'policy.publish',
      targetType: 'policy',
      targetId: String(version),
      detail: { version, sha256, comment, rules_bytes: Buffer.byteLength(rules, 'utf8') },
    });
    return version;
  }

  function current(): PolicyRow {
    const row = store.policies.latest();
    if (!row) throw new AppError('POLICY_ERR_NOT_FOUND', formatError('POLICY_ERR_NOT_FOUND', 'current'));
    return row;
  }

  const frameOf = (p: PolicyRow) => collectorMessage('policy.updated', { version: p.version, rules: p.rules, sha256: p.sha256 }, clock.now());

  return {
    ensureInitial() {
      return store.transaction(() => {
        const existing = store.policies.latest();
        if (existing) return existing;
        appendTx(SYSTEM_ACTOR, DEFAULT_POLICY, 'initial default policy: block USB mass storage');
        return current();
      });
    },
    current,
    get: (version) => store.policies.get(version),
    list: (q) => store.policies.list(q),
    rollout: (p) => store.policies.rollout(p.version, p.sha256),

    publish(actorId, rules, comment) {
      const problems = policyProblems(rules);
      if (problems.length > 0) {
        const first = problems[0];
        const where = first && first.line > 0 ? `line ${first.line}, column ${first.column}: ${first.message}` : (first?.message ?? 'invalid');
        throw new AppError('POLICY_ERR_INVALID', formatError('POLICY_ERR_INVALID', where), {
          details: { errors: problems.map((e) => ({ line: e.line, column: e.column, message: e.message })) },
        });
      }
      const note = sanitizeText(comment, 512);
      const version = store.transaction(() => appendTx(actorId, rules, note));
      const row = store.policies.get(version) as PolicyRow;
      const sent = channel.broadcast(frameOf(row));
      log.info({ version, sha256: row.sha256, created_by: actorId, pushed_to: sent }, 'policy published');
      return row;
    },

    frame: () => frameOf(current()),

    onApplied(agentId, body) {
      store.policies.recordStatus({
        agent_id: agentId,
        version: body.version,
        sha256: body.sha256,
        ok: body.ok ? 1 : 0,
        detail: sanitizeText(body.detail, 1_024),
        reported_at: iso(),
      });
      if (!body.ok) {
        audit.append({
          actor: agentActor(agentId),
          action: 'policy.apply_failed',
          targetType: 'policy',
          targetId: String(body.version),
          detail: { agent_id: agentId, sha256: body.sha256, detail: body.detail },
        });
        log.warn({ agent_id: agentId, version: body.version }, 'seat could not apply the policy');
      }
    },
  };
}
