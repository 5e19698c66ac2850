import { AppError, formatError } from '../../shared/errors.js';

/** Tunables of the alert engine. Missing keys take the documented defaults (docs/alerts.md). */
export interface AlertEngineConfig {
  /** Same seat + same dedup key within this long of the alert's last_seen counts into it. Default 10 min. */
  dedupWindowMs: number;
  /** An alert still `open` this long after it was raised (or last escalated) escalates one level. Default 60 min (INC-01). */
  escalationAfterMs: number;
  /** Roles by escalation level: level 0 is the first owner. Default ['duty', 'officer', 'admin']. */
  escalationChain: readonly string[];
  /** A seat whose last_seen is older than this raises `agent.offline`. Default 3 min. */
  heartbeatMissAfterMs: number;
  /** Length of a shift, used as the handover period when no handover was confirmed yet. Default 8 h. */
  shiftLengthMs: number;
  /** IANA time zone of the handover text. Default 'Asia/Shanghai'. */
  reportTimeZone: string;
  /** Console base URL; alerts sent to channels link to `${consoleUrl}/alerts/<id>`. Default none. */
  consoleUrl: string | null;
  /** Most events evaluated per catch-up step (tick, or a gap seen by onCommitted). Default 2000. */
  catchUpBatch: number;
}

export const DEFAULT_ALERT_ENGINE_CONFIG: Readonly<AlertEngineConfig> = Object.freeze({
  dedupWindowMs: 10 * 60_000,
  escalationAfterMs: 60 * 60_000,
  escalationChain: Object.freeze(['duty', 'officer', 'admin']),
  heartbeatMissAfterMs: 3 * 60_000,
  shiftLengthMs: 8 * 3_600_000,
  reportTimeZone: 'Asia/Shanghai',
  consoleUrl: null,
  catchUpBatch: 2_000,
});

const ROLE = /^[a-z][a-z0-9_-]{0,31}$/;

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Applies defaults, checks every key (listing all problems in one ALERT_ERR_CONFIG) and freezes. */
export function resolveAlertEngineConfig(input: Partial<AlertEngineConfig> = {}): Readonly<AlertEngineConfig> {
  const known = new Set(Object.keys(DEFAULT_ALERT_ENGINE_CONFIG));
  const problems: string[] = [];
  for (const k of Object.keys(input)) if (!known.has(k)) problems.push(`unknown key ${k}`);
  const c: AlertEngineConfig = { ...DEFAULT_ALERT_ENGINE_CONFIG, ...input };
  const positive = (k: 'dedupWindowMs' | 'escalationAfterMs' | 'heartbeatMissAfterMs' | 'shiftLengthMs' | 'catchUpBatch') => {
    if (!Number.isSafeInteger(c[k]) || c[k] < 1) problems.push(`${k} must be a positive integer`);
  };
  positive('dedupWindowMs');
  positive('escalationAfterMs');
  positive('heartbeatMissAfterMs');
  positive('shiftLengthMs');
  positive('catchUpBatch');
  if (!Array.isArray(c.escalationChain) || c.escalationChain.length === 0) problems.push('escalationChain must list at least one role');
  else if (!c.escalationChain.every((r) => typeof r === 'string' && ROLE.test(r))) problems.push('escalationChain roles must match [a-z][a-z0-9_-]*');
  if (typeof c.reportTimeZone !== 'string' || !validTimeZone(c.reportTimeZone)) problems.push('reportTimeZone must be an IANA time zone');
  if (c.consoleUrl !== null) {
    let ok = false;
    try {
      const u = new URL(c.consoleUrl);
      ok = u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      ok = false;
    }
    if (!ok) problems.push('consoleUrl must be an http(s) URL');
  }
  if (problems.length > 0) throw new AppError('ALERT_ERR_CONFIG', formatError('ALERT_ERR_CONFIG', problems.join('; ')));
  return Object.freeze({ ...c, escalationChain: Object.freeze([...c.escalationChain]), consoleUrl: c.consoleUrl?.replace(/\/+$/, '') ?? null });
}
