import { apiGet, apiPost, withQuery } from '../api.js';
import { h, mount } from '../dom.js';
import { dateTime, toDate } from '../format.js';
import { pick, t } from '../i18n.js';
import { get, listOf, num, str, text, type Obj } from '../json.js';
import { deviceName, seatLink } from '../labels.js';
import { onLive, throttle } from '../live.js';
import { href } from '../router.js';
import { can } from '../session.js';
import { badge, button, dash, enumLabel, errorBox, errorText, loading, openForm, pageHeader, table, toast, type Tone } from '../ui.js';
import type { Page } from './page.js';

const BASE = '/api/v1/alerts';
const SEVERITY_RANK: Record<string, number> = { critical: 4, high: 3, medium: 2, low: 1, info: 0 };

function severityTone(s: string | null): Tone {
  return s === 'critical' || s === 'high' ? 'bad' : s === 'medium' ? 'warn' : 'info';
}

function titleOf(a: Obj): string {
  return pick({ zh: str(get(a, 'title', 'zh')), en: str(get(a, 'title', 'en')) }) ?? str(a.title) ?? str(a.rule) ?? '?';
}

/** Alerts (work orders): live list, acknowledge, assign, resolve with a required note. */
export const alertsPage: Page = ({ root, route }) => {
  const filter = route.query.get('state') === 'all' ? 'all' : 'open';
  const box = h('div', { 'data-testid': 'alerts-table' }, loading());
  let disposed = false;
  let known: Set<string> | null = null;

  const act = async (a: Obj, verb: 'acknowledge' | 'assign' | 'resolve', body: Record<string, string> = {}): Promise<void> => {
    await apiPost(`${BASE}/${encodeURIComponent(text(a.id) ?? '')}/${verb}`, body);
    reload();
  };

  const actions = (a: Obj): HTMLElement => {
    const state = str(a.state);
    const open = state !== 'resolved';
    return h(
      'span',
      { class: 'actions' },
      open && state === 'open' && can('alert.ack') ? button(t('alerts.ack'), () => void act(a, 'acknowledge').catch((e: unknown) => toast(errorText(e), 'bad')), { testid: 'alert-ack' }) : null,
      open && can('alert.assign')
        ? button(t('alerts.assign'), () =>
            openForm({ title: t('alerts.assign.title'), submit: t('alerts.assign'), fields: [{ name: 'assignee', label: t('alerts.assign.to'), required: true }], onSubmit: (v) => act(a, 'assign', { assignee: v.assignee ?? '' }) }),
          { testid: 'alert-assign' })
        : null,
      open && can('alert.resolve')
        ? button(t('alerts.resolve'), () =>
            openForm({ title: t('alerts.resolve.title'), submit: t('alerts.resolve'), fields: [{ name: 'note', label: t('alerts.resolve.note'), type: 'textarea', required: true, minLength: 2 }], onSubmit: (v) => act(a, 'resolve', { note: v.note ?? '' }) }),
          { kind: 'primary', testid: 'alert-resolve' })
        : null,
    );
  };

  const load = async (): Promise<void> => {
    try {
      // "Not closed" = open + acknowledged; the API filters one state at a time.
      const states = filter === 'open' ? ['open', 'acknowledged'] : [null];
      const answers = await Promise.all(states.map((state) => apiGet(withQuery(BASE, { state, limit: 200 }))));
      if (disposed) return;
      const rows = answers.flatMap((res) => listOf(res, 'alerts')).filter((a): a is Obj => typeof a === 'object' && a !== null);
      rows.sort((a, b) => (toDate(b.last_seen)?.getTime() ?? 0) - (toDate(a.last_seen)?.getTime() ?? 0));
      const ids = new Set(rows.map((a) => text(a.id) ?? ''));
      if (known) for (const a of rows) if (!known.has(text(a.id) ?? '')) toast(t('alerts.new', { title: titleOf(a) }), 'bad');
      known = ids;
      mount(
        box,
        table<Obj>({
          empty: t('alerts.empty'),
          rows,
          rowAttrs: (a) => ({ 'data-alert-id': text(a.id) ?? '', 'data-state': str(a.state) ?? '' }),
          columns: [
            { label: t('alerts.col.severity'), sort: (a) => SEVERITY_RANK[str(a.severity) ?? ''] ?? -1, cell: (a) => badge(enumLabel('severity', str(a.severity)), severityTone(str(a.severity))) },
            {
              label: t('alerts.col.title'),
              sort: (a) => titleOf(a),
              cell: (a) => {
                const dev = get(a, 'device');
                return h('div', null, h('div', null, titleOf(a)), dev ? h('div', { class: 'muted small' }, deviceName(dev)) : null);
              },
            },
            { label: t('alerts.col.seat'), sort: (a) => str(get(a, 'seat', 'seat_name')), cell: (a) => seatLink(str(get(a, 'seat', 'agent_id')) ?? str(a.agent_id), str(get(a, 'seat', 'seat_name')) ?? str(a.seat_name)), className: 'nowrap' },
            { label: t('alerts.col.count'), sort: (a) => num(a.count), cell: (a) => String(num(a.count) ?? 1), className: 'num' },
            { label: t('alerts.col.first'), sort: (a) => toDate(a.first_seen)?.getTime() ?? null, cell: (a) => dateTime(a.first_seen), className: 'nowrap' },
            { label: t('alerts.col.last'), sort: (a) => toDate(a.last_seen)?.getTime() ?? null, cell: (a) => dateTime(a.last_seen), className: 'nowrap' },
            { label: t('alerts.col.state'), sort: (a) => str(a.state), cell: (a) => h('span', { 'data-testid': 'alert-state' }, enumLabel('alertstate', str(a.state))) },
            { label: t('alerts.col.assignee'), sort: (a) => str(a.assignee), cell: (a) => dash(str(a.assignee)) },
            { label: t('common.actions'), cell: actions },
          ],
        }),
      );
    } catch (err) {
      if (!disposed) mount(box, errorBox(err));
    }
  };

  const reload = throttle(() => void load(), 300);
  const off = onLive((m) => {
    if (m.kind === 'alert' || m.kind === 'reconnected' || m.kind === 'poll' || m.kind === 'resync') reload();
  });
  const tabs = h(
    'nav',
    { class: 'tabs', 'aria-label': t('alerts.col.state') },
    h('a', { href: href('alerts'), 'aria-current': filter === 'open' ? 'page' : null }, t('alerts.filter.open')),
    h('a', { href: href('alerts', [], { state: 'all' }), 'aria-current': filter === 'all' ? 'page' : null }, t('alerts.filter.all')),
  );
  mount(root, pageHeader(t('alerts.title')), tabs, box);
  void load();
  return () => {
    disposed = true;
    off();
  };
};

