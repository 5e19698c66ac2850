import { apiGet, withQuery } from '../api.js';
import { h, mount } from '../dom.js';
import { dateTime, minutes, toDate } from '../format.js';
import { t } from '../i18n.js';
import { arr, get, listOf, num, str, type Obj } from '../json.js';
import { deviceName, eventLabel, eventTone, seatLink, vidPid } from '../labels.js';
import { badge, button, dash, emptyState, enumLabel, errorBox, facts, loading, pageHeader, section, table } from '../ui.js';
import type { Page } from './page.js';

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** "Where has this stick been?": the device, the seats and times it appeared, its unlock requests. */
export const devicePage: Page = ({ root, route }) => {
  const key = route.params[0] ?? '';
  const head = h('div', null, loading());
  const sightings = h('div', null);
  const eventsBox = h('div', { 'data-testid': 'device-events' });
  const moreSlot = h('div', { class: 'pager' });
  const requests = h('div', null);
  const events: Obj[] = [];
  let disposed = false;

  const renderEvents = (): void => {
    mount(
      eventsBox,
      table<Obj>({
        empty: t('device.where.empty'),
        rows: events,
        columns: [
          { label: t('device.col.time'), sort: (e) => toDate(e.ts)?.getTime() ?? null, cell: (e) => dateTime(e.ts), className: 'nowrap' },
          { label: t('device.col.seat'), sort: (e) => str(e.seat_name), cell: (e) => seatLink(str(e.agent_id), str(e.seat_name)), className: 'nowrap' },
          { label: t('device.col.event'), sort: (e) => str(e.type), cell: (e) => badge(eventLabel(str(e.type) ?? '?'), eventTone(str(e.type) ?? '')) },
        ],
      }),
    );
  };

  const load = async (beforeId: number | null): Promise<void> => {
    const res = await apiGet(withQuery(`/api/v1/devices/${encodeURIComponent(key)}`, { before_id: beforeId, events_limit: 100 }));
    if (disposed) return;
    events.push(...arr(get(res, 'events')).filter(isObj));
    renderEvents();
    const next = num(get(res, 'next_before_id'));
    mount(moreSlot, next !== null ? button(t('common.more'), () => void load(next).catch((err: unknown) => mount(moreSlot, errorBox(err)))) : null);
    if (beforeId !== null) return;

    const dev = get(res, 'device');
    const name = deviceName(dev);
    mount(
      head,
      pageHeader(t('device.title', { name })),
      section(
        t('common.details'),
        facts([
          [t('devices.col.device'), name],
          [t('devices.col.ids'), h('span', { class: 'mono' }, vidPid(dev))],
          [t('devices.col.serial'), h('span', { class: 'mono' }, dash(str(get(dev, 'serial'))))],
          [t('device.key'), h('span', { class: 'mono clip' }, str(get(dev, 'device_key')) ?? key)],
          [t('devices.col.first'), dateTime(get(dev, 'first_seen'))],
          [t('devices.col.last'), dateTime(get(dev, 'last_seen'))],
          [t('devices.col.seats'), String(num(get(dev, 'seat_count')) ?? t('common.none'))],
        ]),
      ),
    );
    mount(
      sightings,
      table<Obj>({
        testid: 'device-sightings',
        empty: t('device.where.empty'),
        rows: arr(get(res, 'sightings')).filter(isObj),
        columns: [
          { label: t('device.col.seat'), sort: (x) => str(x.seat_name), cell: (x) => seatLink(str(x.agent_id), str(x.seat_name)), className: 'nowrap' },
          { label: t('seats.col.department'), sort: (x) => str(x.department), cell: (x) => dash(str(x.department)) },
          { label: t('devices.col.first'), sort: (x) => toDate(x.first_seen)?.getTime() ?? null, cell: (x) => dateTime(x.first_seen), className: 'nowrap' },
          { label: t('devices.col.last'), sort: (x) => toDate(x.last_seen)?.getTime() ?? null, cell: (x) => dateTime(x.last_seen), className: 'nowrap' },
          { label: t('alerts.col.count'), sort: (x) => num(x.count), cell: (x) => String(num(x.count) ?? t('common.none')), className: 'num' },
        ],
      }),
    );
    const ur = get(res, 'unlock_requests');
    if (get(ur, 'available') === false) {
      mount(requests, emptyState(t('common.unavailable', { path: '/api/v1/unlock-requests' })));
    } else {
      mount(
        requests,
        table<Obj>({
          empty: t('device.requests.empty'),
          rows: listOf(ur, 'items').filter(isObj),
          columns: [
            { label: t('unlocks.col.requested'), sort: (r) => toDate(r.requested_at)?.getTime() ?? null, cell: (r) => dateTime(r.requested_at), className: 'nowrap' },
            { label: t('unlocks.col.seat'), sort: (r) => str(r.seat_name), cell: (r) => seatLink(str(r.agent_id), str(r.seat_name)), className: 'nowrap' },
            { label: t('unlocks.col.state'), sort: (r) => str(r.state), cell: (r) => enumLabel('state', str(r.state)), className: 'nowrap' },
            { label: t('unlocks.col.duration'), cell: (r) => minutes(num(r.duration_ms)), className: 'nowrap' },
            { label: t('unlocks.col.reason'), cell: (r) => dash(str(r.reason)) },
          ],
        }),
      );
    }
  };

  mount(root, head, section(t('device.where'), sightings, h('h3', null, t('device.events')), eventsBox, moreSlot), section(t('device.requests'), requests));
  load(null).catch((err: unknown) => {
    if (disposed) return;
    mount(head, pageHeader(t('devices.title')), errorBox(err));
  });
  return () => {
    disposed = true;
  };
};
