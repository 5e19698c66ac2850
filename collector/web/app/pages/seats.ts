import { apiGet, withQuery } from '../api.js';
import { h, mount } from '../dom.js';
import { ago, dateTime, toDate } from '../format.js';
import { t } from '../i18n.js';
import { bool, firstStr, get, listOf, num, str, type Obj } from '../json.js';
import { codeBadge, codeRank, lockBadge, onlineBadge } from '../labels.js';
import { onLive, throttle } from '../live.js';
import { href, replaceQuery } from '../router.js';
import { listQuery, renderPager, searchForm } from '../search-list.js';
import { badge, dash, enumLabel, errorBox, loading, pageHeader, table, type Tone } from '../ui.js';
import type { Page } from './page.js';

const PAGE = 50;

/** BIOS-password state if a sensor reported one; null = no report yet (shown as '—'). */
export function biosState(seat: Obj): string | null {
  return firstStr(seat, 'bios_password') ?? str(get(seat, 'firmware', 'password_state')) ?? str(get(seat, 'compliance', 'bios_password'));
}

export function softwareState(seat: Obj): string | null {
  return firstStr(seat, 'software_compliance') ?? str(get(seat, 'software', 'state')) ?? str(get(seat, 'compliance', 'software'));
}

export function stateBadge(prefix: 'bios' | 'software', state: string | null): HTMLElement | string {
  if (state === null) return t('common.none');
  // Only a positive report is green; anything not proven (unknown, not detectable) stays amber.
  const tone: Tone = state === 'set' || state === 'compliant' ? 'ok' : state === 'not_set' || state === 'violation' ? 'bad' : 'warn';
  return badge(enumLabel(prefix, state), tone);
}

/** Seats: server-side search, client-side sort of the page, live online/lock state. */
export const seatsPage: Page = ({ root, route }) => {
  const at = listQuery(route);
  const { q, offset } = at;
  const results = h('div', null, loading());
  const pager = h('div', { class: 'pager' });
  let disposed = false;
  const form = searchForm('seats', q, t('seats.search'), 'seat-search');

  const load = async (): Promise<void> => {
    try {
      const res = await apiGet(withQuery('/api/v1/seats', { q, limit: PAGE, offset }));
      if (disposed) return;
      const seats = listOf(res, 'seats').filter((s): s is Obj => typeof s === 'object' && s !== null);
      const total = num(get(res, 'total')) ?? seats.length;
      mount(
        results,
        table<Obj>({
          testid: 'seats-table',
          empty: t('seats.empty'),
          rows: seats,
          rowAttrs: (s) => ({ 'data-agent-id': str(s.agent_id) ?? '' }),
          columns: [
            { label: t('seats.col.seat'), sort: (s) => str(s.seat_name), cell: (s) => h('a', { href: href('seats', [str(s.agent_id) ?? '']) }, str(s.seat_name) ?? str(s.agent_id) ?? '?') },
            { label: t('seats.col.hostname'), sort: (s) => str(s.hostname), cell: (s) => dash(str(s.hostname)) },
            { label: t('seats.col.department'), sort: (s) => str(s.department), cell: (s) => dash(str(s.department)) },
            { label: t('seats.col.state'), sort: (s) => (s.revoked_at ? 3 : s.online === true ? 0 : s.online === false ? 1 : 2), cell: (s) => onlineBadge(bool(s.online), str(s.revoked_at) !== null), className: 'nowrap' },
            {
              label: t('seats.col.heartbeat'),
              sort: (s) => toDate(s.last_seen)?.getTime() ?? null,
              cell: (s) => (str(s.last_seen) ? h('span', { title: dateTime(s.last_seen) }, ago(s.last_seen)) : t('common.none')),
            },
            { label: t('seats.col.lock'), sort: (s) => str(s.lock_state), cell: (s) => lockBadge(str(s.lock_state)), className: 'nowrap' },
            { label: t('seats.col.bios'), sort: (s) => biosState(s), cell: (s) => stateBadge('bios', biosState(s)) },
            { label: t('seats.col.software'), sort: (s) => softwareState(s), cell: (s) => stateBadge('software', softwareState(s)) },
            { label: t('seats.col.version'), sort: (s) => str(s.agent_version), cell: (s) => dash(str(s.agent_version)), className: 'mono' },
            { label: t('seats.col.code'), sort: (s) => codeRank(s.code), cell: (s) => h('span', { 'data-testid': 'seat-code' }, codeBadge(s.code)), className: 'nowrap' },
          ],
        }),
      );
      renderPager(pager, 'seats', at, seats.length, total, PAGE);
    } catch (err) {
      if (!disposed) mount(results, errorBox(err));
    }
  };

  const reload = throttle(() => void load(), 1_000);
  const off = onLive((m) => {
    if (m.kind === 'seat' || m.kind === 'reconnected' || m.kind === 'poll' || m.kind === 'resync') reload();
  });
  replaceQuery(route, { q, offset: offset || null });
  mount(root, pageHeader(t('seats.title')), form, results, pager);
  void load();
  return () => {
    disposed = true;
    off();
  };
};
