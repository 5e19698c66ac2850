import { apiGet, withQuery } from '../api.js';
import { h, mount } from '../dom.js';
import { dateTime, toDate } from '../format.js';
import { t } from '../i18n.js';
import { get, listOf, num, str, type Obj } from '../json.js';
import { deviceLink, deviceName, vidPid } from '../labels.js';
import { replaceQuery } from '../router.js';
import { listQuery, renderPager, searchForm } from '../search-list.js';
import { dash, errorBox, loading, pageHeader, table } from '../ui.js';
import type { Page } from './page.js';

const PAGE = 50;

/** Every USB device ever seen, newest sighting first; search by vendor, product, serial, key. */
export const devicesPage: Page = ({ root, route }) => {
  const at = listQuery(route);
  const { q, offset } = at;
  const results = h('div', null, loading());
  const pager = h('div', { class: 'pager' });
  let disposed = false;
  const form = searchForm('devices', q, t('devices.search'), 'device-search');

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
      renderPager(pager, 'devices', at, rows.length, total, PAGE);
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
