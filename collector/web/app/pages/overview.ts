import { apiGet, withQuery } from '../api.js';
import { barChart } from '../chart.js';
import { h, mount, type Child } from '../dom.js';
import { dateTime, dayLabel, timeOnly, toDate } from '../format.js';
import { t, type MessageKey } from '../i18n.js';
import { arr, get, num, str } from '../json.js';
import { eventLabel, eventTone, seatLink } from '../labels.js';
import { onLive, throttle } from '../live.js';
import { href } from '../router.js';
import { badge, errorBox, loading, pageHeader, section } from '../ui.js';
import { browserTimeZone, type Page } from './page.js';

interface FeedItem {
  agentId: string | null;
  seatName: string | null;
  type: string;
  at: unknown;
  label: string | null;
}

const FEED_MAX = 12;

function card(label: MessageKey, value: number | null, tone: string, link: string | null, testid: string): HTMLElement {
  const body: Child[] = [h('div', { class: 'card-value', 'data-testid': testid }, value === null ? t('common.none') : String(value)), h('div', { class: 'card-label' }, t(label))];
  return link ? h('a', { class: `card ${tone}`, href: link }, body) : h('div', { class: `card ${tone}` }, body);
}

/** Overview: live counts and the 30-day chart, plus a feed of events arriving while it is open. */
export const overviewPage: Page = ({ root }) => {
  const feed: FeedItem[] = [];
  const cards = h('div', { class: 'cards' }, loading());
  const chart = h('div', null);
  const updated = h('span', { class: 'muted small' });
  const feedBox = h('div', { 'data-testid': 'live-feed' });
  let disposed = false;

  const renderFeed = (): void => {
    if (feed.length === 0) return mount(feedBox, h('div', { class: 'empty small' }, t('overview.recent.empty')));
    mount(
      feedBox,
      h(
        'ul',
        { class: 'feed' },
        feed.map((f) =>
          h('li', null, h('time', { class: 'muted' }, timeOnly(f.at)), badge(eventLabel(f.type), eventTone(f.type)), seatLink(f.agentId, f.seatName), f.label ? h('span', { class: 'feed-detail' }, f.label) : null),
        ),
      ),
    );
  };

  const load = async (): Promise<void> => {
    try {
      const d = await apiGet(withQuery('/api/v1/dashboard', { tz: browserTimeZone(), days: 30 }));
      if (disposed) return;
      const alertsOn = get(d, 'alerts', 'available') !== false;
      const unlockOn = get(d, 'unlock', 'available') !== false;
      mount(
        cards,
        card('overview.online', num(get(d, 'seats', 'online')), 'ok', href('seats'), 'count-online'),
        card('overview.offline', num(get(d, 'seats', 'offline')), 'bad', href('seats'), 'count-offline'),
        card('overview.unknown', num(get(d, 'seats', 'lock', 'unknown')), 'warn', href('seats'), 'count-unknown'),
        card('overview.alerts', alertsOn ? num(get(d, 'alerts', 'open')) : null, 'bad', href('alerts'), 'count-alerts'),
        card('overview.pending', unlockOn ? num(get(d, 'unlock', 'pending')) : null, 'info', href('unlocks'), 'count-pending'),
        card('overview.grants', unlockOn ? num(get(d, 'unlock', 'active_grants')) : null, 'warn', href('unlocks'), 'count-grants'),
      );
      const series = arr(get(d, 'series'));
      const labels = series.map((p) => {
        const day = str(get(p, 'date'));
        const date = day ? toDate(`${day}T12:00:00`) : null;
        return date ? dayLabel(date) : (day ?? '');
      });
      mount(
        chart,
        barChart({
          title: t('overview.chart'),
          labels,
          series: [
            { label: t('overview.chart.blocked'), className: 'series-a', values: series.map((p) => num(get(p, 'blocked'))) },
            { label: t('overview.chart.alerts'), className: 'series-b', values: series.map((p) => num(get(p, 'alerts_opened'))) },
          ],
        }),
      );
      chart.setAttribute('data-blocked-total', String(series.reduce<number>((n, p) => n + (num(get(p, 'blocked')) ?? 0), 0)));
      updated.textContent = t('overview.updated', { time: dateTime(get(d, 'generated_at') ?? Date.now()) });
    } catch (err) {
      if (!disposed) mount(cards, errorBox(err));
    }
  };

  // Counts and the chart are aggregate queries: at most one refresh per 3 s however busy the fleet is.
  const reload = throttle(() => void load(), 3_000);
  const off = onLive((m) => {
    if (m.kind === 'event') {
      feed.unshift({
        agentId: str(get(m.data, 'agent_id')),
        seatName: str(get(m.data, 'seat_name')),
        type: str(get(m.data, 'type')) ?? '?',
        at: get(m.data, 'received_at') ?? get(m.data, 'ts'),
        label: str(get(m.data, 'summary', 'device_label')) ?? str(get(m.data, 'summary', 'lock_state')),
      });
      feed.length = Math.min(feed.length, FEED_MAX);
      renderFeed();
    }
    reload();
  });

  mount(
    root,
    pageHeader(t('overview.title'), updated),
    cards,
    section(t('overview.chart'), chart),
    section(t('overview.recent'), feedBox),
  );
  renderFeed();
  void load();
  return () => {
    disposed = true;
    off();
  };
};
