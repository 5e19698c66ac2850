import { h, type Child } from './dom.js';
import { hasKey, t, type MessageKey } from './i18n.js';
import { arr, firstStr, get, num, obj, str } from './json.js';
import { href } from './router.js';
import { badge, type Tone } from './ui.js';

/** "SanDisk Cruzer Blade" from a device object; '(no name)' when the seat reported none. */
export function deviceName(dev: unknown): string {
  const parts = [str(get(dev, 'manufacturer')), str(get(dev, 'product'))].filter((p): p is string => p !== null && p.trim() !== '');
  return parts.length > 0 ? parts.join(' ') : t('device.unnamed');
}

export function vidPid(dev: unknown): string {
  const v = str(get(dev, 'vendor_id'));
  const p = str(get(dev, 'product_id'));
  return v && p ? `${v}:${p}` : t('common.none');
}

/** True when one of the reported interfaces is mass storage (class 08). */
export function isStorage(dev: unknown): boolean {
  return arr(get(dev, 'interfaces')).some((i) => typeof i === 'string' && i.toLowerCase().startsWith('08'));
}

/** Link to a seat page, labelled with the seat name (falls back to the agent id). */
export function seatLink(agentId: string | null, seatName: string | null): Child {
  if (agentId === null) return t('common.none');
  return h('a', { href: href('seats', [agentId]) }, seatName ?? agentId);
}

/** Link to a device page when the key is known, else plain text. */
export function deviceLink(key: string | null, dev: unknown): Child {
  const name = deviceName(dev);
  if (key === null) return name;
  return h('a', { href: href('devices', [key]), 'data-testid': 'device-link' }, name);
}

/** Localized event type ('usb.blocked' → '拦截 USB 存储'). */
export function eventLabel(type: string): string {
  const key = `event.${type}`;
  return hasKey(key) ? t(key) : t('event.other', { type });
}

export function eventTone(type: string): Tone {
  if (type === 'usb.blocked' || type === 'offline.unlock_used') return 'bad';
  if (type.startsWith('grant.') || type === 'usb.allowed') return 'warn';
  if (type === 'agent.stopping') return 'muted';
  if (type === 'outbox.dropped') return 'warn';
  return 'info';
}

/** One line saying what an event was about (device name, lock state, reason…), as text. */
export function eventDetail(ev: unknown): string {
  const body = get(ev, 'body');
  const dev = get(body, 'device');
  if (dev !== undefined) return `${deviceName(dev)} (${vidPid(dev)})`;
  const type = str(get(ev, 'type'));
  if (type === 'outbox.dropped') return droppedDetail(body);
  const lock = str(get(body, 'lock_state')) ?? (type === 'lock.state' ? str(get(body, 'state')) : null);
  if (lock !== null) return `${t('seats.col.lock')}: ${hasKey(`lock.${lock}`) ? t(`lock.${lock}` as MessageKey) : lock}`;
  const detail = firstStr(body, 'state', 'reason', 'grant_id', 'detail');
  if (detail !== null) return detail;
  const label = firstStr(get(ev, 'summary'), 'device_label', 'lock_state', 'reason');
  return label ?? '';
}

/** '9 low-severity events dropped (queue full, seq 12–80): usb.inserted×5, usb.removed×4'. */
function droppedDetail(body: unknown): string {
  const entries = Object.entries(obj(get(body, 'counts')) ?? {}).filter((e): e is [string, number] => num(e[1]) !== null);
  const reason = str(get(body, 'reason')) ?? '';
  const reasonKey = `event.outbox.dropped.${reason}`;
  return t('event.outbox.dropped.detail', {
    n: entries.reduce((a, [, n]) => a + n, 0),
    reason: hasKey(reasonKey) ? t(reasonKey) : reason,
    from: num(get(body, 'from_seq')) ?? '?',
    to: num(get(body, 'to_seq')) ?? '?',
    counts: entries.map(([k, n]) => `${k}×${n}`).join(', '),
  });
}

export function onlineBadge(online: boolean | null, revoked: boolean): HTMLElement {
  if (revoked) return badge(t('seat.revoked'), 'muted');
  if (online === true) return badge(t('seat.online'), 'ok');
  if (online === false) return badge(t('seat.offline'), 'bad');
  return badge(t('seat.unknown'), 'warn');
}

export function lockBadge(state: string | null): HTMLElement {
  if (state === 'locked') return badge(t('lock.locked'), 'ok');
  if (state === 'degraded') return badge(t('lock.degraded'), 'bad');
  // Unknown is a state: the agent could not prove the gate is closed.
  return badge(t('lock.unknown'), 'warn');
}

/**
 * The seat's code report against its version's majority (GET /seats `code`): red when it differs,
 * green when it matches, amber when the collector cannot tell (no hash, or no single majority).
 */
export function codeBadge(code: unknown): HTMLElement | string {
  if (obj(code) === null) return t('common.none');
  const drift = get(code, 'drift');
  if (drift === true) return badge(t('code.drift'), 'bad');
  if (drift === false) return badge(t('code.same'), 'ok');
  return badge(t('code.unknown'), 'warn');
}

/** Sort key for the code column: drifting seats first, then no verdict, then matching, then no report. */
export function codeRank(code: unknown): number {
  if (obj(code) === null) return 3;
  const drift = get(code, 'drift');
  return drift === true ? 0 : drift === false ? 2 : 1;
}
