import { h, mount } from './dom.js';
import { t } from './i18n.js';
import { href, type Route } from './router.js';

/**
 * The frame the searchable, server-paged lists share (seats, devices): the `q`/`offset` of the
 * route, a search box that navigates, and a "1–50 of 120" pager whose links keep the search. One
 * place, so the lists page and search the same way.
 */

/** The search text and page offset of a list route (a bad offset is 0). */
export function listQuery(route: Route): { q: string; offset: number } {
  return { q: route.query.get('q') ?? '', offset: Math.max(0, Number(route.query.get('offset') ?? 0) || 0) };
}

/** A search box + button; submitting goes to `#/<page>?q=…` (first page). */
export function searchForm(page: string, q: string, label: string, testid: string): HTMLElement {
  const search = h('input', { type: 'search', name: 'q', value: q, placeholder: label, 'aria-label': label, maxlength: 128, 'data-testid': testid });
  return h(
    'form',
    {
      class: 'toolbar',
      role: 'search',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          location.hash = href(page, [], { q: search.value.trim() });
        },
      },
    },
    search,
    h('button', { type: 'submit', class: 'btn plain' }, t('common.search')),
  );
}

/** Fills `pager` for a page of `shown` rows out of `total`, starting at `offset`. */
export function renderPager(pager: HTMLElement, page: string, at: { q: string; offset: number }, shown: number, total: number, pageSize: number): void {
  const { q, offset } = at;
  const to = Math.min(offset + shown, total);
  mount(
    pager,
    h('span', { class: 'muted' }, total > 0 ? t('common.page', { from: offset + 1, to, total }) : ''),
    offset > 0 ? h('a', { class: 'btn plain', href: href(page, [], { q, offset: Math.max(0, offset - pageSize) }) }, t('common.prev')) : null,
    to < total ? h('a', { class: 'btn plain', href: href(page, [], { q, offset: offset + pageSize }) }, t('common.next')) : null,
  );
}
