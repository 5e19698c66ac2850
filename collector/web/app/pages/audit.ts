import { apiGet, apiPost, withQuery } from '../api.js';
import { h, mount } from '../dom.js';
import { dateTime } from '../format.js';
import { t } from '../i18n.js';
import { bool, firstNum, get, listOf, num, str, text, type Obj } from '../json.js';
import { href, replaceQuery } from '../router.js';
import { can } from '../session.js';
import { button, dash, emptyState, errorBox, loading, pageHeader, section } from '../ui.js';
import type { Page } from './page.js';

const PAGE = 100;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const ACTION_RE = /^[a-z][a-z0-9_.]*$/;

/** Compact one-line JSON of the record's details (shown as text, truncated). */
function detailText(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 240 ? `${s.slice(0, 240)}…` : s;
}

/** Local midnight of yyyy-mm-dd (+days) as ISO, or null. */
function dayIso(day: string, plusDays = 0): string | null {
  if (!DATE_RE.test(day)) return null;
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(y, m - 1, d + plusDays).toISOString();
}

/**
 * The audit trail, newest first by default (what an officer looks for is usually recent) or in the
 * order it was written (the hash chain's order), filtered by actor, action and day range, with a
 * button that verifies the chain on the server. "More" pages by id cursor, so records written
 * while reading never shift or repeat a row.
 */
export const auditPage: Page = ({ root, route }) => {
  const actor = route.query.get('actor') ?? '';
  const action = route.query.get('action') ?? '';
  const from = route.query.get('from') ?? '';
  const to = route.query.get('to') ?? '';
  const order: 'asc' | 'desc' = route.query.get('order') === 'asc' ? 'asc' : 'desc';
  const body = h('tbody');
  const box = h('div', { 'data-testid': 'audit-table' }, loading());
  const more = h('div', { class: 'pager' });
  const verifyOut = h('div', { 'aria-live': 'polite', 'data-testid': 'audit-verify-result' });
  let disposed = false;
  let shown = 0;

  const actorIn = h('input', { id: 'au-actor', name: 'actor', value: actor, maxlength: 128, 'data-testid': 'audit-actor' });
  const actionIn = h('input', { id: 'au-action', name: 'action', value: action, maxlength: 64, placeholder: 'unlock.approve', class: 'mono', 'data-testid': 'audit-action' });
  const fromIn = h('input', { id: 'au-from', type: 'date', name: 'from', value: from });
  const toIn = h('input', { id: 'au-to', type: 'date', name: 'to', value: to });
  const orderSel = h(
    'select',
    { id: 'au-order', name: 'order', 'data-testid': 'audit-order' },
    (['desc', 'asc'] as const).map((o) => h('option', { value: o, ...(o === order ? { selected: true } : {}) }, t(`audit.order.${o}`))),
  );

  /** `cursor`: 0 for the first page, else the id the previous page ended at. */
  const load = async (cursor: number): Promise<void> => {
    try {
      const res = await apiGet(
        withQuery('/api/v1/audit', {
          actor: actor || null,
          action: ACTION_RE.test(action) ? action : null,
          from: dayIso(from),
          to: dayIso(to, 1),
          order,
          ...(order === 'desc' ? { before_id: cursor || null } : { after_id: cursor || null }),
          limit: PAGE,
        }),
      );
      if (disposed) return;
      const rows = listOf(res, 'records', 'entries').filter((r): r is Obj => typeof r === 'object' && r !== null);
      for (const r of rows) {
        body.appendChild(
          h(
            'tr',
            { 'data-audit-id': text(r.id) ?? '' },
            h('td', { class: 'num mono' }, text(r.id) ?? ''),
            h('td', { class: 'nowrap' }, dateTime(r.ts)),
            h('td', null, dash(str(r.actor_name) ?? str(r.actor))),
            h('td', { class: 'mono' }, dash(str(r.action))),
            h('td', null, h('span', { class: 'mono clip' }, [str(r.target_type), text(r.target_id)].filter((x) => x !== null).join(' ') || t('common.none'))),
            h('td', null, h('span', { class: 'mono small clip-2' }, detailText(r.detail))),
          ),
        );
      }
      shown += rows.length;
      if (shown === 0) mount(box, emptyState(t('audit.empty')));
      else if (!box.querySelector('table')) {
        mount(
          box,
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'grid' },
              h('thead', null, h('tr', null, ['#', t('audit.col.time'), t('audit.col.actor'), t('audit.col.action'), t('audit.col.target'), t('audit.col.details')].map((l) => h('th', { scope: 'col' }, l)))),
              body,
            ),
          ),
        );
      }
      const next = num(get(res, order === 'desc' ? 'next_before_id' : 'next_after_id'));
      mount(more, next !== null ? button(t('common.more'), () => void load(next), { testid: 'audit-more' }) : null);
    } catch (err) {
      if (!disposed) mount(box, errorBox(err));
    }
  };

  const verify = (): void => {
    mount(verifyOut, loading());
    apiPost('/api/v1/audit/verify', {}).then(
      (res) => {
        const ok = bool(get(res, 'ok'));
        const n = firstNum(res, 'records', 'checked') ?? 0;
        const at = text(get(res, 'first_broken_id')) ?? '?';
        mount(
          verifyOut,
          ok === true
            ? h('div', { class: 'notice ok', 'data-ok': 'true' }, t('audit.verify.ok', { n }))
            : h('div', { class: 'notice error', role: 'alert', 'data-ok': 'false' }, t('audit.verify.bad', { at })),
        );
      },
      (err: unknown) => mount(verifyOut, errorBox(err)),
    );
  };

  const apply = (ev: Event): void => {
    ev.preventDefault();
    location.hash = href('audit', [], { actor: actorIn.value.trim(), action: actionIn.value.trim(), from: fromIn.value, to: toIn.value, order: orderSel.value });
  };

  replaceQuery(route, { actor: actor || null, action: action || null, from: from || null, to: to || null, order });
  mount(
    root,
    pageHeader(t('audit.title'), can('audit.verify') ? button(t('audit.verify'), verify, { kind: 'primary', testid: 'audit-verify' }) : null),
    verifyOut,
    section(
      t('export.filters'),
      h(
        'form',
        { class: 'inline-form', role: 'search', on: { submit: apply } },
        h('label', { class: 'field', for: 'au-actor' }, h('span', null, t('audit.col.actor')), actorIn),
        h('label', { class: 'field', for: 'au-action' }, h('span', null, t('audit.col.action')), actionIn),
        h('label', { class: 'field', for: 'au-from' }, h('span', null, t('export.from')), fromIn),
        h('label', { class: 'field', for: 'au-to' }, h('span', null, t('export.to')), toIn),
        h('label', { class: 'field', for: 'au-order' }, h('span', null, t('audit.order')), orderSel),
        h('button', { type: 'submit', class: 'btn plain' }, t('common.search')),
      ),
    ),
    box,
    more,
  );
  if (can('audit.read')) void load(0);
  else mount(box);
  return () => {
    disposed = true;
  };
};
