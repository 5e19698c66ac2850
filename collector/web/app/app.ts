import { onUnauthenticated } from './api.js';
import { h, mount } from './dom.js';
import { lang, setLang, t, type MessageKey } from './i18n.js';
import { onLiveStatus, startLive, stopLive, type LiveStatus } from './live.js';
import { alertsPage } from './pages/alerts.js';
import { auditPage } from './pages/audit.js';
import { devicePage } from './pages/device.js';
import { devicesPage } from './pages/devices.js';
import { exportPage } from './pages/export.js';
import { renderLogin } from './pages/login.js';
import { overviewPage } from './pages/overview.js';
import type { Page } from './pages/page.js';
import { seatPage } from './pages/seat.js';
import { seatsPage } from './pages/seats.js';
import { unlocksPage } from './pages/unlocks.js';
import { softwarePage } from './pages/software.js';
import { currentRoute, href } from './router.js';
import { can, currentUser, drop, loadPrivileges, logout, restore } from './session.js';
import { enumLabel, errorBox } from './ui.js';

interface NavItem {
  name: string;
  label: MessageKey;
  /** Shown only when the user's roles allow this action. */
  action: string;
  list: Page;
  detail?: Page;
}

const NAV: NavItem[] = [
  { name: 'overview', label: 'nav.overview', action: 'seat.read', list: overviewPage },
  { name: 'seats', label: 'nav.seats', action: 'seat.read', list: seatsPage, detail: seatPage },
  { name: 'devices', label: 'nav.devices', action: 'device.read', list: devicesPage, detail: devicePage },
  { name: 'unlocks', label: 'nav.unlocks', action: 'unlock.read', list: unlocksPage },
  { name: 'software', label: 'nav.software', action: 'unlock.read', list: softwarePage },
  { name: 'alerts', label: 'nav.alerts', action: 'alert.read', list: alertsPage },
  { name: 'audit', label: 'nav.audit', action: 'audit.read', list: auditPage },
  { name: 'export', label: 'nav.export', action: 'export', list: exportPage },
];

const root = document.getElementById('app') ?? document.body;
let dispose: (() => void) | null = null;

function langSwitch(): HTMLElement {
  return h(
    'button',
    {
      type: 'button',
      class: 'btn plain lang',
      title: t('lang.switch.title'),
      lang: lang() === 'en' ? 'zh-CN' : 'en',
      'data-testid': 'lang-switch',
      on: {
        click: () => {
          setLang(lang() === 'en' ? 'zh-CN' : 'en');
          render();
        },
      },
    },
    t('lang.switch'),
  );
}

function liveIndicator(): HTMLElement {
  const el = h('span', { class: 'live', role: 'status', 'data-testid': 'live-status' });
  const show = (s: LiveStatus): void => {
    el.className = `live ${s}`;
    el.setAttribute('data-status', s);
    el.textContent = s === 'live' ? t('live.on') : s === 'polling' ? t('live.polling') : s === 'connecting' ? t('common.loading') : t('live.off');
  };
  onLiveStatus(show);
  return el;
}

function visibleNav(): NavItem[] {
  // Export also covers the monthly report, which report.read may see on its own.
  return NAV.filter((n) => can(n.action) || (n.name === 'export' && can('report.read')));
}

function renderShell(): void {
  const user = currentUser();
  if (!user) return;
  const route = currentRoute();
  const items = visibleNav();
  const item = items.find((n) => n.name === route.name) ?? items[0];
  const main = h('main', { id: 'main', class: 'content', tabindex: '-1' });
  const nav = h(
    'nav',
    { class: 'sidenav', 'aria-label': t('nav.main') },
    h(
      'ul',
      null,
      items.map((n) => h('li', null, h('a', { href: href(n.name), 'aria-current': n === item ? 'page' : null, 'data-testid': `nav-${n.name}` }, t(n.label)))),
    ),
  );
  const bar = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: href('overview') }, h('span', { class: 'brand-mark small', 'aria-hidden': 'true' }, 'SG'), t('app.name')),
    h('div', { class: 'topbar-right' }, liveIndicator(), langSwitch(), h('span', { class: 'user', title: user.roles.map((r) => enumLabel('role', r)).join(', '), 'data-testid': 'current-user' }, user.username), h('button', { type: 'button', class: 'btn plain', 'data-testid': 'logout', on: { click: () => void doLogout() } }, t('user.logout'))),
  );
  mount(root, bar, h('div', { class: 'layout' }, nav, main));
  document.title = `${item ? t(item.label) : ''} · ${t('app.short')}`;
  if (!item) return;
  const page = route.params.length > 0 && item.detail && route.name === item.name ? item.detail : item.list;
  try {
    dispose = page({ root: main, route: item.name === route.name ? route : { name: item.name, params: [], query: new URLSearchParams() } }) ?? null;
  } catch (err) {
    mount(main, errorBox(err));
  }
}

function render(): void {
  dispose?.();
  dispose = null;
  document.documentElement.lang = lang();
  if (!currentUser()) {
    document.title = `${t('login.title')} · ${t('app.short')}`;
    renderLogin(root, langSwitch(), () => {
      startLive();
      render();
    });
    return;
  }
  renderShell();
}

async function doLogout(): Promise<void> {
  stopLive();
  await logout().catch(() => undefined);
  render();
}

async function boot(): Promise<void> {
  document.documentElement.lang = lang();
  onUnauthenticated(() => {
    if (!currentUser()) return;
    drop();
    stopLive();
    render();
  });
  window.addEventListener('hashchange', () => {
    if (currentUser()) render();
  });
  try {
    await loadPrivileges();
  } catch (err) {
    mount(root, errorBox(err));
    return;
  }
  if (await restore()) startLive();
  render();
}

void boot();
