import { apiGet, withQuery } from '../api.js';
import { h, mount } from '../dom.js';
import { dateTime, toDate } from '../format.js';
import { t } from '../i18n.js';
import { get, listOf, num, str, type Obj } from '../json.js';
import { deviceLink, deviceName, vidPid } from '../labels.js';
import { href, replaceQuery } from '../router.js';
import { dash, errorBox, loading, pageHeader, table } from '../ui.js';
import type { Page } from './page.js';

const PAGE = 50;

/** Every USB device ever seen, newest sighting first; search by vendor, product, serial, key. */
export const devicesPage: Page = ({ root, route }) => {
  const q = route.query.get('q') ?? '';
  const offset = Math.max(0, Number(route.query.get('offset') ?? 0) || 0);
  const results = h('div', null, loading());
  const pager = h('div', { class: 'pager' });
  let disposed = false;
  const search = h('input', { type: 'search', name: 'q', value: q, placeholder: t('devices.search'), 'aria-label': t('devices.search'), maxlength: 128, 'data-testid': 'device-search' });
  const form = h(
    'form',
    {
      class: 'toolbar',
      role: 'search',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          location.hash = href('devices', [], { q: search.value.trim() });
        },
      },
    },
    search,
    h('button', { type: 'submit', class: 'btn plain' }, t('common.search')),
  );

  const load = async (): Promise<void> => {
    try {
      const res = await apiGet(withQuery('/api/v1/devices', { q, limit: PAGE, offset }));
      if (disposed) return;
      const rows = listOf(res, 'devices').filter((d): d is Obj => typeof d === 'object' && d !== null);
      const total = num(get(res, 'total')) ?? rows.length;
      mount(
        results,
        table<Obj>({
          testid: 'devices-table',
          empty: t('devices.empty'),
          rows,
          columns: [
            { label: t('devices.col.device'), sort: (d) => deviceName(d), cell: (d) => deviceLink(str(d.device_key), d) },
            { label: t('devices.col.ids'), sort: (d) => vidPid(d), cell: (d) => vidPid(d), className: 'mono' },
            { label: t('devices.col.serial'), sort: (d) => str(d.serial), cell: (d) => h('span', { class: 'mono clip', title: str(d.serial) }, dash(str(d.serial))) },
            { label: t('devices.col.first'), sort: (d) => toDate(d.first_seen)?.getTime() ?? null, cell: (d) => dateTime(d.first_seen), className: 'nowrap' },
            { label: t('devices.col.last'), sort: (d) => toDate(d.last_seen)?.getTime() ?? null, cell: (d) => dateTime(d.last_seen), className: 'nowrap' },
            { label: t('devices.col.seats'), sort: (d) => num(d.seat_count), cell: (d) => String(num(d.seat_count) ?? t('common.none')), className: 'num' },
            { label: t('devices.col.blocked'), sort: (d) => num(d.insert_count), cell: (d) => String(num(d.insert_count) ?? t('common.none')), className: 'num' },
          ],
        }),
      );
      const to = Math.min(offset + rows.length, total);
      mount(
        pager,
        h('span', { class: 'muted' }, total > 0 ? t('common.page', { from: offset + 1, to, total }) : ''),
        offset > 0 ? h('a', { class: 'btn plain', href: href('devices', [], { q, offset: Math.max(0, offset - PAGE) }) }, t('common.prev')) : null,
        to < total ? h('a', { class: 'btn plain', href: href('devices', [], { q, offset: offset + PAGE }) }, t('common.next')) : null,
      );
    } catch (err) {
      if (!disposed) mount(results, errorBox(err));
    }
  };

  replaceQuery(route, { q, offset: offset || null });
  mount(root, pageHeader(t('devices.title')), form, results, pager);
  void load();
  return () => {
    disposed = true;
  };
};
