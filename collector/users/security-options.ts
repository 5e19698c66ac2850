import { DEFAULT_CHECKPOINT_EVERY } from '../audit/audit-log.js';
import { DEFAULT_LOGIN_LIMITS, type LoginLimiterOptions } from './login-limiter.js';
import { DEFAULT_SCRYPT, type ScryptParams } from './password.js';
import { DEFAULT_SESSION_ABSOLUTE_MS, DEFAULT_SESSION_IDLE_MS } from './session-service.js';

/** Accounts, sessions and audit settings of the collector; tests shrink them. */
export interface SecurityOptions {
  /** scrypt cost for new password hashes (stored with each hash). Default N=2^17, r=8, p=1. */
  scrypt: ScryptParams;
  /** Session idle timeout. Default 30 min. */
  sessionIdleMs: number;
  /** Session absolute lifetime. Default 12 h. */
  sessionAbsoluteMs: number;
  /** Failed-login throttling. Default 5 failures → 15 min, doubling up to 24 h; 20 per address. */
  loginLimits: LoginLimiterOptions;
  /**
   * Failed-enrollment throttling, per token (its hash) and per source address: refused enrollments
   * are audited, so without it anyone holding a used token could grow the audit trail at will.
   * Default 5 per token, 20 per address → 15 min, doubling up to 24 h.
   */
  enrollLimits: LoginLimiterOptions;
  /** Audit records between signed checkpoints. Default 1000. */
  auditCheckpointEvery: number;
  /** How often the collector checks whether a checkpoint is due. Default 60 s. */
  auditCheckpointIntervalMs: number;
}

export const SECURITY_DEFAULTS: Readonly<SecurityOptions> = Object.freeze({
  scrypt: DEFAULT_SCRYPT,
  sessionIdleMs: DEFAULT_SESSION_IDLE_MS,
  sessionAbsoluteMs: DEFAULT_SESSION_ABSOLUTE_MS,
  loginLimits: DEFAULT_LOGIN_LIMITS,
  enrollLimits: DEFAULT_LOGIN_LIMITS,
  auditCheckpointEvery: DEFAULT_CHECKPOINT_EVERY,
  auditCheckpointIntervalMs: 60_000,
});

/** Defaults applied key by key (loginLimits and enrollLimits merged one level deeper). */
export function securityOptions(given: Partial<SecurityOptions> = {}): SecurityOptions {
  return {
    ...SECURITY_DEFAULTS,
    ...given,
    loginLimits: { ...DEFAULT_LOGIN_LIMITS, ...given.loginLimits },
    enrollLimits: { ...DEFAULT_LOGIN_LIMITS, ...given.enrollLimits },
  };
}
