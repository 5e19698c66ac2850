import { AppError, formatError } from '../../shared/errors.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import type { AlertState } from './channels/types.js';

/**
 * The alert (work order, 工单) lifecycle as data:
 *
 *   open ──acknowledge──▶ acknowledged ──resolve(note)──▶ resolved
 *     └──────────────resolve(note)───────────────────────────▲
 *
 * assign works while not resolved and does not change the state; notes may be added at any time
 * (an incident record often grows after closing). Everything else is ALERT_ERR_TRANSITION.
 */
export type AlertAction = 'acknowledge' | 'assign' | 'resolve' | 'note';

const ALLOWED: Readonly<Record<AlertAction, readonly AlertState[]>> = {
  acknowledge: ['open'],
  assign: ['open', 'acknowledged'],
  resolve: ['open', 'acknowledged'],
  note: ['open', 'acknowledged', 'resolved'],
};

const PAST: Readonly<Record<AlertAction, string>> = { acknowledge: 'acknowledged', assign: 'assigned', resolve: 'resolved', note: 'annotated' };

/** True when `action` is allowed on an alert in `state`. */
export function canTransition(state: AlertState, action: AlertAction): boolean {
  return ALLOWED[action].includes(state);
}

/** Throws ALERT_ERR_TRANSITION when `action` is not allowed in `state`. */
export function assertTransition(id: number, state: AlertState, action: AlertAction): void {
  if (!canTransition(state, action)) {
    throw new AppError('ALERT_ERR_TRANSITION', formatError('ALERT_ERR_TRANSITION', id, PAST[action], state), {
      details: { alert_id: id, action, state },
    });
  }
}

/** Longest user id / assignee kept, in code points. */
export const ACTOR_MAX = 64;
/** Longest note kept, in code points. */
export const NOTE_MAX = 4_000;

function invalid(what: string): AppError {
  return new AppError('ALERT_ERR_INVALID_INPUT', formatError('ALERT_ERR_INVALID_INPUT', what));
}

/** A user id or assignee from the console (hostile): sanitized, capped, non-empty. */
export function cleanActor(v: unknown, field: string): string {
  if (typeof v !== 'string') throw invalid(`${field} must be a string`);
  const s = sanitizeText(v, ACTOR_MAX);
  if (s === '') throw invalid(`${field} must not be empty`);
  return s;
}

/**
 * A free-text note (hostile): line breaks kept, tabs become spaces, everything else as sanitizeText.
 * '' when nothing readable is left (only blanks or replaced control characters).
 */
export function cleanNote(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw invalid('note must be a string');
  const lines = v.replace(/\r\n?/g, '\n').replace(/\t/g, ' ').split('\n').map((l) => sanitizeText(l, NOTE_MAX));
  const joined = lines.join('\n').trim();
  if (!/[^\s\uFFFD]/u.test(joined)) return '';
  const chars = [...joined];
  return chars.length > NOTE_MAX ? chars.slice(0, NOTE_MAX - 1).join('') + '…' : joined;
}

/** An alert id from a route parameter or caller: a positive safe integer. */
export function cleanId(v: unknown): number {
  const n = typeof v === 'string' && /^[0-9]{1,15}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw invalid('alert id must be a positive integer');
  return n;
}
