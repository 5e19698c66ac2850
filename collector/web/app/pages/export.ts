import { withQuery } from '../api.js';
import { h, mount } from '../dom.js';
import { t, type MessageKey } from '../i18n.js';
import { href, replaceQuery } from '../router.js';
import { can } from '../session.js';
import { pageHeader, section } from '../ui.js';
import { browserTimeZone, type Page } from './page.js';

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const MONTH_RE = /^\d{4}-\d{2}$/;

/** Local midnight of a yyyy-mm-dd day as an ISO instant (the filters are in the browser's zone). */
function dayStart(day: string, plusDays = 0): string | null {
  if (!DATE_RE.test(day)) return null;
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const dt = new Date(y, m - 1, d + plusDays);
  return Number.isNaN(dt.getTime()) ? null : dt.toISOString();
}

function lastMonth(): string {
  const d = new Date();
  d.setDate(1);
  d.setMonth(d.getMonth() - 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

/** CSV links built from the current filters, and the monthly report link. */
export const exportPage: Page = ({ root, route }) => {
  const from = route.query.get('from') ?? '';
  const to = route.query.get('to') ?? '';
  const department = route.query.get('department') ?? '';
  const month = route.query.get('month') ?? lastMonth();
  const since = dayStart(from);
  const until = dayStart(to, 1);

  const fromIn = h('input', { id: 'ex-from', type: 'date', name: 'from', value: from, 'data-testid': 'export-from' });
  const toIn = h('input', { id: 'ex-to', type: 'date', name: 'to', value: to, 'data-testid': 'export-to' });
  const depIn = h('input', { id: 'ex-dep', name: 'department', value: department, maxlength: 64, 'data-testid': 'export-department' });
  const monthIn = h('input', { id: 'ex-month', type: 'month', name: 'month', value: month, 'data-testid': 'export-month' });

  const apply = (ev: Event): void => {
    ev.preventDefault();
    location.hash = href('export', [], { from: fromIn.value, to: toIn.value, department: depIn.value.trim(), month: monthIn.value });
  };

  // Only the filters each export understands: the API refuses unknown parameters.
  const links: Array<{ key: MessageKey; file: string; params: Record<string, string | null> }> = [
    { key: 'export.seats', file: 'seats.csv', params: { department: department || null } },
    { key: 'export.events', file: 'events.csv', params: { since, until } },
    { key: 'export.devices', file: 'devices.csv', params: {} },
    { key: 'export.unlocks', file: 'unlock-requests.csv', params: { since, until } },
    { key: 'export.alerts', file: 'alerts.csv', params: { since, until } },
  ];

  const list = h(
    'ul',
    { class: 'export-list' },
    links.map((l) =>
      h('li', null, h('a', { class: 'btn plain', href: withQuery(`/api/v1/export/${l.file}`, l.params), download: '', 'data-testid': `export-${l.file}` }, t(l.key)), h('span', { class: 'muted small mono' }, l.file)),
    ),
  );
  const monthOk = MONTH_RE.test(month);
  const report = monthOk
    ? h(
        'a',
        { class: 'btn primary', href: withQuery('/api/v1/reports/monthly', { month, department: department || null, tz: browserTimeZone(), format: 'html' }), 'data-testid': 'monthly-report' },
        t('export.monthly.open', { month }),
      )
    : null;

  replaceQuery(route, { from: from || null, to: to || null, department: department || null, month });
  mount(
    root,
    pageHeader(t('export.title')),
    section(
      t('export.filters'),
      h(
      'form',
      { class: 'inline-form', on: { submit: apply, change: apply } },
      h('label', { class: 'field', for: 'ex-from' }, h('span', null, t('export.from')), fromIn),
      h('label', { class: 'field', for: 'ex-to' }, h('span', null, t('export.to')), toIn),
      h('label', { class: 'field', for: 'ex-dep' }, h('span', null, t('export.department')), depIn),
      h('label', { class: 'field', for: 'ex-month' }, h('span', null, t('export.month')), monthIn),
      ),
    ),
    can('export') ? section(t('export.csv'), h('p', { class: 'muted small' }, t('export.help')), list) : null,
    can('report.read') ? section(t('export.monthly'), report) : null,
  );
};
