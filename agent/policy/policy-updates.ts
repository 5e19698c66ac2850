import type { Logger } from '../../shared/logger.js';
import type { EmitFn } from '../enforcement/usb-lock.js';
import type { PolicyUpdate, RulesPolicy } from './rules-policy.js';

/** Dependencies of {@link handlePolicyUpdated}. */
export interface PolicyUpdateDeps {
  rules: RulesPolicy;
  emit: EmitFn;
  /** Re-enforces every attached device under the new rules. */
  resync: (reason: string) => Promise<void>;
  log: Logger;
}

/**
 * policy.updated: apply (or refuse) the new ruleset, re-enforce, then report policy.applied. A
 * refused policy leaves the previous one in force and is reported with ok:false and the reason.
 * Repeats of the active policy (sent after every reconnect) change nothing and report nothing.
 */
export async function handlePolicyUpdated(update: PolicyUpdate, deps: PolicyUpdateDeps): Promise<void> {
  const result = deps.rules.apply(update);
  if (result.ok && !result.changed) {
    deps.log.debug({ version: update.version }, 'usb policy unchanged');
    return;
  }
  if (result.ok) await deps.resync('policy');
  try {
    deps.emit('policy.applied', { version: update.version, sha256: update.sha256, ok: result.ok, detail: result.detail });
  } catch (err) {
    deps.log.error({ err }, 'could not record policy.applied');
  }
}
