import { ApiError, apiGet, apiPost, withQuery } from '../api.js';
import { h, mount } from '../dom.js';
import { dateTime } from '../format.js';
import { t } from '../i18n.js';
import { bool, get, listOf, num, obj, str } from '../json.js';
import { codeBadge, eventDetail, eventLabel, eventTone, lockBadge, onlineBadge } from '../labels.js';
import { onLive, throttle } from '../live.js';
import { can } from '../session.js';
import { badge, button, dash, emptyState, errorBox, facts, loading, openDialog, pageHeader, section } from '../ui.js';
import type { Page } from './page.js';
import { biosState, softwareState, stateBadge } from './seats.js';

const WINDOW = 100;
const PURPOSES = ['stop', 'upgrade', 'uninstall'] as const;

/**
 * Issues a maintenance code (docs/self-protection.md §2) and shows it once, in the page: the code
 * lets one agent be stopped, upgraded or uninstalled, so it is never stored by the console.
 */
function openMaintenanceDialog(agentId: string, out: HTMLElement): void {
  const purpose = h('select', { id: 'mc-purpose', name: 'purpose', 'data-testid': 'maint-purpose' }, PURPOSES.map((p) => h('option', { value: p }, t(`seat.maint.purpose.${p}`))));
  const reason = h('textarea', { id: 'mc-reason', name: 'reason', rows: 3, maxlength: 500, 'aria-required': 'true', 'data-testid': 'maint-reason' });
  openDialog({
    title: t('seat.maint.title'),
    submit: t('seat.maint.submit'),
    danger: true,
    body: [
      h('label', { class: 'field', for: 'mc-purpose' }, h('span', null, t('seat.maint.purpose')), purpose),
      h('label', { class: 'field', for: 'mc-reason' }, h('span', null, t('seat.maint.reason')), reason),
    ],
    onSubmit: () => {
      if (reason.value.trim().length < 2) return t('common.reason.required');
      const cmd = purpose.value;
      return apiPost(`/api/v1/seats/${encodeURIComponent(agentId)}/maintenance-codes`, { purpose: cmd, reason: reason.value.trim() }).then((res) => {
        const mc = get(res, 'maintenance_code');
        mount(
          out,
          h(
            'div',
            { class: 'notice', 'data-testid': 'maint-result' },
            h('span', null, `${t('seat.maint.code')}: `),
            h('strong', { class: 'code mono', 'data-testid': 'maint-code' }, str(get(mc, 'code')) ?? '?'),
            h('div', { class: 'small' }, t('seat.maint.note', { expires: dateTime(get(mc, 'expires_at')), cmd })),
          ),
        );
      });
    },
  });
}

/**
 * Revokes the seat (POST /seats/:id/revoke, admins): its key stops being accepted and its socket is
 * closed. Irreversible from the console, so the dialog says what happens and wants a ticked box.
 */
function openRevokeDialog(agentId: string, name: string, out: HTMLElement, after: () => void): void {
  const confirm = h('input', { type: 'checkbox', id: 'revoke-confirm', name: 'confirm', 'data-testid': 'revoke-confirm' });
  openDialog({
    title: t('seat.revoke.title', { name }),
    submit: t('seat.revoke.submit'),
    danger: true,
    body: [
      h('p', { 'data-testid': 'revoke-explain' }, t('seat.revoke.explain')),
      h('label', { class: 'check', for: 'revoke-confirm' }, confirm, h('span', null, t('seat.revoke.confirm'))),
    ],
    onSubmit: () => {
      if (!confirm.checked) return t('seat.revoke.required');
      return apiPost(`/api/v1/seats/${encodeURIComponent(agentId)}/revoke`, {}).then((res) => {
        const at = dateTime(get(res, 'revoked_at'));
        const text = bool(get(res, 'already_revoked')) === true ? t('seat.revoke.already', { at }) : t('seat.revoke.done', { at, n: num(get(res, 'disconnected')) ?? 0 });
        mount(out, h('div', { class: 'notice ok', 'data-testid': 'revoke-result' }, text));
        after();
      });
    },
  });
}

/** The code hash row: a short hash (full one on hover), the verdict, and the fleet's hash when it differs. */
function codeFact(code: unknown): HTMLElement | string {
  if (obj(code) === null) return t('common.none');
  const sha = str(get(code, 'sha256'));
  const fleet = str(get(code, 'baseline_sha256'));
  return h(
    'span',
    { 'data-testid': 'seat-code' },
    sha === null ? null : h('span', { class: 'mono', title: sha }, `${sha.slice(0, 12)}… `),
    codeBadge(code),
    get(code, 'drift') === true && fleet !== null ? h('span', { class: 'muted small mono', title: fleet }, ` ${t('seat.code.fleet', { hash: `${fleet.slice(0, 12)}…` })}`) : null,
  );
}

interface Ev {
  seq: number;
  raw: unknown;
}

/** One seat: its details and the timeline of everything it reported, newest first, live. */
export const seatPage: Page = ({ root, route }) => {
  const agentId = route.params[0] ?? '';
  const head = h('div', null, loading());
  const timeline = h('div', { 'data-testid': 'seat-timeline' }, loading());
  const moreSlot = h('div', { class: 'pager' });
  // Outside the header, which is re-rendered on live updates: an issued code must stay visible.
  const maintOut = h('div', { 'aria-live': 'polite' });
  const events = new Map<number, Ev>();
  let lowest = Infinity;
  let highest = 0;
  let disposed = false;
  let ready = false;
  const base = `/api/v1/seats/${encodeURIComponent(agentId)}`;

  const renderTimeline = (): void => {
    const list = [...events.values()].sort((a, b) => b.seq - a.seq);
    if (list.length === 0) return mount(timeline, emptyState(t('seat.timeline.empty')));
    mount(
      timeline,
      h(
        'ol',
        { class: 'timeline' },
        list.map((e) => {
          const type = str(get(e.raw, 'type')) ?? '?';
          return h(
            'li',
            { 'data-type': type, 'data-seq': e.seq },
            h('time', { class: 'muted mono' }, dateTime(get(e.raw, 'ts'))),
            badge(eventLabel(type), eventTone(type)),
            h('span', { class: 'tl-detail' }, eventDetail(e.raw)),
            h('span', { class: 'muted small mono' }, `#${e.seq}`),
          );
        }),
      ),
    );
    mount(moreSlot, lowest > 1 ? button(t('common.more'), () => void loadWindow(Math.max(0, lowest - 1 - WINDOW), lowest - 1)) : null);
  };

  const add = (rows: unknown[], maxSeq = Infinity): void => {
    for (const r of rows) {
      const seq = num(get(r, 'seq'));
      if (seq === null || seq > maxSeq) continue;
      events.set(seq, { seq, raw: r });
      lowest = Math.min(lowest, seq);
      highest = Math.max(highest, seq);
    }
  };

  async function loadWindow(after: number, maxSeq: number): Promise<void> {
    const res = await apiGet(withQuery(`${base}/events`, { after, limit: WINDOW }));
    if (disposed) return;
    add(listOf(res, 'events'), maxSeq);
    // A window with nothing (gaps in seq) still moves the cursor down.
    lowest = Math.min(lowest, after + 1);
    renderTimeline();
  }

  const loadNewer = async (): Promise<void> => {
    for (let guard = 0; guard < 20; guard++) {
      const res = await apiGet(withQuery(`${base}/events`, { after: highest, limit: WINDOW }));
      if (disposed) return;
      const rows = listOf(res, 'events');
      add(rows);
      if (get(res, 'next_after') === null || rows.length === 0) break;
    }
    renderTimeline();
  };

  const loadSeat = async (): Promise<number | null> => {
    const s = await apiGet(base);
    if (disposed) return null;
    const name = str(get(s, 'seat_name')) ?? agentId;
    const maintButton = can('agent.maintenance_code') ? button(t('seat.maint.button'), () => openMaintenanceDialog(agentId, maintOut), { testid: 'maint-open' }) : null;
    const revoked = str(get(s, 'revoked_at')) !== null;
    const revokeButton =
      can('agent.revoke') && !revoked
        ? button(t('seat.revoke.button'), () => openRevokeDialog(agentId, name, maintOut, () => void loadSeat().catch(() => undefined)), { kind: 'danger', testid: 'revoke-open' })
        : null;
    mount(
      head,
      pageHeader(t('seat.title', { name }), maintButton, revokeButton),
      maintOut,
      section(
        t('seat.info'),
        facts([
          [t('seats.col.state'), onlineBadge(bool(get(s, 'online')), str(get(s, 'revoked_at')) !== null)],
          [t('seats.col.lock'), lockBadge(str(get(s, 'lock_state')))],
          [t('seats.col.heartbeat'), dateTime(get(s, 'last_seen'))],
          [t('seats.col.bios'), stateBadge('bios', biosState(obj(s) ?? {}))],
          [t('seats.col.software'), stateBadge('software', softwareState(obj(s) ?? {}))],
          [t('seats.col.hostname'), dash(str(get(s, 'hostname')))],
          [t('seats.col.department'), dash(str(get(s, 'department')))],
          [t('seat.platform'), dash(str(get(s, 'platform')))],
          [t('seats.col.version'), dash(str(get(s, 'agent_version')))],
          [t('seat.code'), codeFact(get(s, 'code'))],
          [t('seat.enrolled'), dateTime(get(s, 'enrolled_at'))],
          [t('seat.outbox'), String(num(get(s, 'outbox_depth')) ?? t('common.none'))],
          [t('seat.agent_id'), h('span', { class: 'mono' }, agentId)],
        ]),
      ),
    );
    return num(get(s, 'last_seq'));
  };

  // Admins may see and revoke seats but not read their timelines (event.read): don't ask for it.
  const timelineAllowed = can('event.read');

  const start = async (): Promise<void> => {
    try {
      const lastSeq = await loadSeat();
      if (disposed) return;
      if (!timelineAllowed) {
        mount(timeline, emptyState(t('seat.timeline.noaccess')));
        ready = true;
        return;
      }
      const top = lastSeq ?? 0;
      if (top > 0) await loadWindow(Math.max(0, top - WINDOW), top);
      highest = Math.max(highest, top);
      await loadNewer();
      ready = true;
    } catch (err) {
      if (disposed) return;
      if (err instanceof ApiError && err.status === 404) mount(head, pageHeader(t('seat.notfound')));
      else mount(head, errorBox(err));
      mount(timeline);
    }
  };

  const refreshSeat = throttle(() => void loadSeat().catch(() => undefined), 1_000);
  const refreshEvents = throttle(() => void loadNewer().catch(() => undefined), 300);
  const off = onLive((m) => {
    if (!ready) return;
    const about = str(get(m.data, 'agent_id'));
    if (m.kind === 'event' && about === agentId) {
      if (timelineAllowed) refreshEvents();
    } else if (m.kind === 'seat' && about === agentId) refreshSeat();
    else if (m.kind === 'poll' || m.kind === 'reconnected' || m.kind === 'resync') {
      if (timelineAllowed) refreshEvents();
      refreshSeat();
    }
  });

  mount(root, head, section(t('seat.timeline'), timeline, moreSlot));
  void start();
  return () => {
    disposed = true;
    off();
  };
};
