import { apiGet, apiPost, withQuery } from '../api.js';
import { h, mount, type Child } from '../dom.js';
import { countdown, dateTime, minutes, toDate } from '../format.js';
import { t } from '../i18n.js';
import { arr, firstStr, get, listOf, num, obj, str, text, type Obj } from '../json.js';
import { deviceLink, deviceName, seatLink, vidPid } from '../labels.js';
import { onLive, throttle } from '../live.js';
import { can } from '../session.js';
import { badge, button, dash, enumLabel, errorBox, errorText, loading, openDialog, openForm, pageHeader, section, table, toast, type Tone } from '../ui.js';
import { isOwn, loadSeatNames, who } from '../requests.js';
import type { Page } from './page.js';

const BASE = '/api/v1/unlock-requests';
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** device_key → device as the devices list knows it (names for requests raised in the console). */
const knownDevices = new Map<string, Obj>();
async function loadDevices(): Promise<void> {
  if (!can('device.read')) return;
  const res = await apiGet(withQuery('/api/v1/devices', { limit: 500 }));
  for (const d of listOf(res, 'devices').filter(isObj)) {
    const key = str(d.device_key);
    if (key !== null) knownDevices.set(key, d);
  }
}

/** The device of a request: stored ids over the reported descriptor over the devices list (names). */
function deviceOf(r: Obj): Obj {
  const d = obj(r.device);
  if (!d) return r;
  const key = str(d.device_key);
  const known = key === null ? undefined : knownDevices.get(key);
  return { ...(known ?? {}), ...(obj(d.reported) ?? {}), ...d };
}

function deviceKeyOf(r: Obj): string | null {
  return str(deviceOf(r).device_key) ?? str(r.device_key);
}

/** agent_id → seat name, for rows that carry only the id. */
const seatNames = new Map<string, string>();

function seatNameOf(r: Obj): string | null {
  const id = str(r.agent_id);
  return str(r.seat_name) ?? (id === null ? null : (seatNames.get(id) ?? null));
}

/** 'Wang Fang (wangfang)' from a `*_user` object of the API; null when the API gave none. */
function personName(p: unknown): string | null {
  const name = str(get(p, 'display_name'))?.trim() || null;
  const username = str(get(p, 'username'));
  if (name !== null && username !== null && name !== username) return `${name} (${username})`;
  return name ?? username;
}

/** Requests raised at the seat carry 'seat:<agent_id>' as requester: shown as the seat. */
function seatRequesterName(r: Obj): string | null {
  const by = str(r.requested_by);
  if (by === null || !by.startsWith('seat:')) return null;
  return t('unlocks.by_seat', { seat: seatNameOf(r) ?? by.slice('seat:'.length) });
}

function requesterOf(r: Obj): string | null {
  return personName(r.requested_by_user) ?? seatRequesterName(r) ?? who(str(r.requested_by));
}

function expiresAt(r: Obj): number | null {
  const v = get(r, 'grant', 'expires_at') ?? get(r, 'grant', 'expiresAt') ?? r.grant_expires_at ?? r.expires_at;
  return toDate(v)?.getTime() ?? null;
}

function executorOf(r: Obj): string | null {
  return personName(get(r, 'grant', 'executor_user')) ?? who(firstStr(obj(r.grant), 'executor') ?? firstStr(r, 'grant_executor', 'executor'));
}

function stateTone(state: string | null): Tone {
  if (state === 'active') return 'warn';
  if (state === 'pending' || state === 'approved') return 'info';
  if (state === 'rejected' || state === 'lapsed') return 'bad';
  return 'muted';
}

function approvalsText(r: Obj): string {
  const list = arr(r.approvals);
  const need = num(r.approvals_required) ?? 1;
  const names = list.map((a) => personName(get(a, 'by_user')) ?? who(str(get(a, 'by')))).filter((n): n is string => n !== null);
  return names.length > 0 ? `${list.length}/${need} · ${names.join(', ')}` : `${list.length}/${need}`;
}

/** Unlock requests: the approval queue, active grants with a live countdown, recent history, offline codes. */
export const unlocksPage: Page = ({ root }) => {
  const queueBox = h('div', { 'data-testid': 'unlock-queue' }, loading());
  const grantsBox = h('div', { 'data-testid': 'unlock-grants' }, loading());
  const historyBox = h('div', { 'data-testid': 'unlock-history' }, loading());
  const countdowns: Array<{ el: HTMLElement; at: number }> = [];
  let disposed = false;

  const act = (r: Obj, verb: 'approve' | 'reject' | 'revoke' | 'cancel'): void => {
    const id = text(r.id) ?? '';
    const titles = { approve: 'unlocks.approve.title', reject: 'unlocks.reject.title', revoke: 'unlocks.revoke.title', cancel: 'unlocks.cancel.title' } as const;
    const done = { approve: 'unlocks.done.approved', reject: 'unlocks.done.rejected', revoke: 'unlocks.done.revoked', cancel: 'unlocks.done.rejected' } as const;
    openForm({
      title: t(titles[verb]),
      danger: verb !== 'approve',
      submit: t(verb === 'approve' ? 'unlocks.approve' : verb === 'reject' ? 'unlocks.reject' : verb === 'revoke' ? 'unlocks.revoke' : 'unlocks.cancel'),
      fields: [{ name: 'reason', label: verb === 'approve' ? t('common.note') : t('common.reason'), type: 'textarea', required: true, minLength: 2 }],
      onSubmit: async (v) => {
        const reason = v.reason ?? '';
        await apiPost(`${BASE}/${encodeURIComponent(id)}/${verb}`, verb === 'approve' ? { note: reason } : { reason });
        toast(t(done[verb]), 'ok');
        reload();
      },
    });
  };

  const seatCell = (r: Obj): Child => seatLink(str(r.agent_id), seatNameOf(r));
  const deviceCell = (r: Obj): Child => h('span', null, deviceLink(deviceKeyOf(r), deviceOf(r)), h('span', { class: 'muted small mono' }, ` ${vidPid(deviceOf(r))}`));

  const renderQueue = (rows: Obj[]): void => {
    mount(
      queueBox,
      table<Obj>({
        empty: t('unlocks.queue.empty'),
        rows,
        rowAttrs: (r) => ({ 'data-request-id': text(r.id) ?? '' }),
        columns: [
          { label: t('unlocks.col.requested'), sort: (r) => toDate(r.requested_at)?.getTime() ?? null, cell: (r) => dateTime(r.requested_at), className: 'nowrap' },
          { label: t('unlocks.col.seat'), sort: (r) => seatNameOf(r) ?? str(r.agent_id), cell: seatCell, className: 'nowrap' },
          { label: t('unlocks.col.device'), sort: (r) => deviceName(deviceOf(r)), cell: deviceCell },
          { label: t('unlocks.col.reason'), cell: (r) => h('span', { class: 'clip-2' }, dash(str(r.reason))) },
          { label: t('unlocks.col.duration'), sort: (r) => num(r.duration_ms), cell: (r) => minutes(num(r.duration_ms)), className: 'nowrap' },
          { label: t('unlocks.col.requester'), sort: (r) => requesterOf(r), cell: (r) => dash(requesterOf(r)) },
          { label: t('unlocks.col.approvals'), cell: (r) => approvalsText(r), className: 'num' },
          {
            label: t('common.actions'),
            cell: (r) => {
              if (isOwn(r)) {
                const withdraw = str(r.state) === 'pending' ? button(t('unlocks.cancel'), () => act(r, 'cancel'), { testid: 'unlock-cancel' }) : null;
                return h('span', { class: 'actions' }, h('span', { class: 'muted small', 'data-testid': 'own-request' }, t('unlocks.own')), withdraw);
              }
              return h(
                'span',
                { class: 'actions' },
                can('unlock.approve') ? button(t('unlocks.approve'), () => act(r, 'approve'), { kind: 'primary', testid: 'unlock-approve' }) : null,
                can('unlock.reject') ? button(t('unlocks.reject'), () => act(r, 'reject'), { kind: 'danger', testid: 'unlock-reject' }) : null,
              );
            },
          },
        ],
      }),
    );
  };

  const renderGrants = (rows: Obj[]): void => {
    countdowns.length = 0;
    mount(
      grantsBox,
      table<Obj>({
        empty: t('unlocks.grants.empty'),
        rows,
        rowAttrs: (r) => ({ 'data-request-id': text(r.id) ?? text(r.request_id) ?? '' }),
        columns: [
          { label: t('unlocks.col.seat'), sort: (r) => seatNameOf(r) ?? str(r.agent_id), cell: seatCell, className: 'nowrap' },
          { label: t('unlocks.col.device'), sort: (r) => deviceName(deviceOf(r)), cell: deviceCell },
          { label: t('unlocks.col.executor'), sort: (r) => executorOf(r), cell: (r) => dash(executorOf(r)) },
          { label: t('unlocks.col.expires'), sort: (r) => expiresAt(r), cell: (r) => dateTime(expiresAt(r)), className: 'nowrap' },
          {
            label: t('unlocks.col.left'),
            sort: (r) => expiresAt(r),
            className: 'num',
            cell: (r) => {
              const at = expiresAt(r);
              const el = h('span', { class: 'countdown mono', 'data-testid': 'grant-countdown' }, at === null ? t('common.none') : countdown(at - Date.now()));
              if (at !== null) countdowns.push({ el, at });
              return el;
            },
          },
          {
            label: t('common.actions'),
            cell: (r) => (can('unlock.revoke') ? button(t('unlocks.revoke'), () => act(r, 'revoke'), { kind: 'danger', testid: 'grant-revoke' }) : null),
          },
        ],
      }),
    );
  };

  const renderHistory = (rows: Obj[]): void => {
    mount(
      historyBox,
      table<Obj>({
        empty: t('common.empty'),
        rows,
        rowAttrs: (r) => ({ 'data-request-id': text(r.id) ?? '', 'data-state': str(r.state) ?? '' }),
        columns: [
          { label: t('unlocks.col.requested'), sort: (r) => toDate(r.requested_at)?.getTime() ?? null, cell: (r) => dateTime(r.requested_at), className: 'nowrap' },
          { label: t('unlocks.col.seat'), sort: (r) => seatNameOf(r) ?? str(r.agent_id), cell: seatCell, className: 'nowrap' },
          { label: t('unlocks.col.device'), sort: (r) => deviceName(deviceOf(r)), cell: deviceCell },
          { label: t('unlocks.col.requester'), sort: (r) => requesterOf(r), cell: (r) => dash(requesterOf(r)) },
          { label: t('unlocks.col.executor'), sort: (r) => executorOf(r), cell: (r) => dash(executorOf(r)) },
          { label: t('unlocks.col.state'), sort: (r) => str(r.state), cell: (r) => h('span', { 'data-testid': 'unlock-state' }, badge(enumLabel('state', str(r.state)), stateTone(str(r.state)))) },
        ],
      }),
    );
  };

  let lookedUpAt = 0;
  /** Loads seat and device names when a row names one the page does not know yet (at most every 5 s). */
  const lookUpNames = async (rows: Obj[]): Promise<void> => {
    const missing = rows.some((r) => {
      const id = str(r.agent_id);
      const key = deviceKeyOf(r);
      return (id !== null && !seatNames.has(id)) || (key !== null && !knownDevices.has(key));
    });
    if (!missing || Date.now() - lookedUpAt < 5_000) return;
    lookedUpAt = Date.now();
    await Promise.all([loadSeatNames(seatNames).catch(() => undefined), loadDevices().catch(() => undefined)]);
  };

  const load = async (): Promise<void> => {
    const [pending, active, recent] = await Promise.allSettled([
      apiGet(withQuery(BASE, { state: 'pending', limit: 100 })),
      apiGet(withQuery('/api/v1/grants', { active: 1 })),
      apiGet(withQuery(BASE, { limit: 20 })),
    ]);
    if (disposed) return;
    const rowsOf = (r: PromiseSettledResult<unknown>, ...keys: string[]): Obj[] => (r.status === 'fulfilled' ? listOf(r.value, ...keys).filter(isObj) : []);
    const queue = rowsOf(pending, 'requests');
    const grants = rowsOf(active, 'grants');
    const history = rowsOf(recent, 'requests');
    await lookUpNames([...queue, ...grants, ...history]);
    if (disposed) return;
    if (pending.status === 'fulfilled') renderQueue(queue);
    else mount(queueBox, errorBox(pending.reason));
    if (active.status === 'fulfilled') renderGrants(grants);
    else mount(grantsBox, errorBox(active.reason));
    if (recent.status === 'fulfilled') renderHistory(history);
    else mount(historyBox, errorBox(recent.reason));
  };

  const reload = throttle(() => void load(), 300);
  const tick = window.setInterval(() => {
    let expired = false;
    for (const c of countdowns) {
      const left = c.at - Date.now();
      c.el.textContent = left > 0 ? countdown(left) : t('unlocks.expired');
      if (left <= 0 && !c.el.classList.contains('expired')) {
        c.el.classList.add('expired');
        expired = true;
      }
    }
    // The server ends the grant at expiry; ask it again shortly after.
    if (expired) window.setTimeout(reload, 1_500);
  }, 1_000);
  const off = onLive((m) => {
    if (m.kind === 'unlock' || m.kind === 'reconnected' || m.kind === 'poll' || m.kind === 'resync') reload();
    if (m.kind === 'event' && String(get(m.data, 'type') ?? '').startsWith('grant.')) reload();
  });

  mount(
    root,
    pageHeader(t('unlocks.title'), can('unlock.request') ? button(t('unlocks.new'), () => openNewRequest(reload), { kind: 'primary', testid: 'unlock-new' }) : null),
    section(t('unlocks.queue'), queueBox),
    section(t('unlocks.grants'), grantsBox),
    can('unlock.offline_code') ? offlineCodeSection() : null,
    section(t('unlocks.history'), historyBox),
  );
  void load();
  return () => {
    disposed = true;
    window.clearInterval(tick);
    off();
  };
};

/**
 * New request raised from the console: a seat, then one of the devices seen on it (the API wants
 * the device's ids, which the devices list of that seat has), a work reason and a duration.
 */
function openNewRequest(done: () => void): void {
  const seatSel = h('select', { id: 'nr-seat', name: 'agent_id', required: true, 'data-testid': 'new-seat' }, h('option', { value: '' }, t('common.loading')));
  const devSel = h('select', { id: 'nr-device', name: 'device', required: true, 'data-testid': 'new-device' });
  const reason = h('textarea', { id: 'nr-reason', name: 'reason', rows: 3, maxlength: 1000, required: true, 'data-testid': 'new-reason' });
  const mins = h('input', { id: 'nr-minutes', name: 'minutes', type: 'number', min: 1, max: 10_080, value: '30', required: true, 'data-testid': 'new-minutes' });
  const devices = new Map<string, Obj>();

  const loadDevices = async (agentId: string): Promise<void> => {
    devices.clear();
    mount(devSel);
    if (!agentId) return;
    const res = await apiGet(withQuery('/api/v1/devices', { agent_id: agentId, limit: 50 }));
    const rows = listOf(res, 'devices').filter(isObj);
    for (const d of rows) devices.set(str(d.device_key) ?? '', d);
    mount(
      devSel,
      rows.length === 0 ? h('option', { value: '' }, t('unlocks.new.device.none')) : rows.map((d) => h('option', { value: str(d.device_key) ?? '' }, `${deviceName(d)} (${vidPid(d)}) ${str(d.serial) ?? ''}`)),
    );
  };
  seatSel.addEventListener('change', () => void loadDevices(seatSel.value).catch(() => undefined));
  void apiGet(withQuery('/api/v1/seats', { limit: 500 })).then((res) => {
    const seats = listOf(res, 'seats').filter(isObj).filter((x) => x.revoked_at === null || x.revoked_at === undefined);
    mount(seatSel, h('option', { value: '' }, '—'), seats.map((x) => h('option', { value: str(x.agent_id) ?? '' }, str(x.seat_name) ?? str(x.agent_id) ?? '?')));
  });

  openDialog({
    title: t('unlocks.new'),
    submit: t('common.submit'),
    body: [
      h('label', { class: 'field', for: 'nr-seat' }, h('span', null, t('unlocks.new.seat')), seatSel),
      h('label', { class: 'field', for: 'nr-device' }, h('span', null, t('unlocks.new.device')), devSel),
      h('label', { class: 'field', for: 'nr-reason' }, h('span', null, t('unlocks.col.reason')), reason),
      h('label', { class: 'field', for: 'nr-minutes' }, h('span', null, t('unlocks.new.minutes')), mins),
    ],
    onSubmit: () => {
      const dev = devices.get(devSel.value);
      if (!seatSel.value || !dev) return t('unlocks.new.device.none');
      if (reason.value.trim().length < 2) return t('common.reason.required');
      const serial = str(dev.serial);
      const hash = str(dev.hash);
      return apiPost(BASE, {
        agent_id: seatSel.value,
        device: {
          vendor_id: str(dev.vendor_id) ?? '',
          product_id: str(dev.product_id) ?? '',
          ...(serial === null ? {} : { serial }),
          ...(hash === null ? {} : { hash }),
        },
        reason: reason.value.trim(),
        duration_ms: Math.round(Number(mins.value) * 60_000),
      }).then(() => {
        toast(t('unlocks.done.created'), 'ok');
        done();
      });
    },
  });
}

function offlineCodeSection(): HTMLElement {
  const out = h('div', { class: 'offline-result', 'aria-live': 'polite', 'data-testid': 'offline-result' });
  const seat = h('select', { id: 'oc-seat', name: 'agent_id', 'data-testid': 'offline-seat' }, h('option', { value: '' }, t('common.loading')));
  void apiGet(withQuery('/api/v1/seats', { limit: 500 })).then(
    (res) => {
      const seats = listOf(res, 'seats').filter(isObj).filter((x) => x.revoked_at === null || x.revoked_at === undefined);
      mount(seat, h('option', { value: '' }, '—'), seats.map((x) => h('option', { value: str(x.agent_id) ?? '' }, str(x.seat_name) ?? str(x.agent_id) ?? '?')));
    },
    () => mount(seat, h('option', { value: '' }, '—')),
  );
  const challenge = h('input', { id: 'oc-challenge', name: 'challenge', required: true, maxlength: 32, autocomplete: 'off', class: 'mono', 'data-testid': 'offline-challenge' });
  const mins = h('input', { id: 'oc-minutes', name: 'minutes', type: 'number', required: true, min: 1, max: 480, value: '30', 'data-testid': 'offline-minutes' });
  const form = h(
    'form',
    {
      class: 'inline-form',
      novalidate: true,
      on: {
        submit: (ev) => {
          ev.preventDefault();
          if (!seat.value || challenge.value.trim() === '') return mount(out, h('div', { class: 'notice error', role: 'alert' }, t('unlocks.offline.missing')));
          mount(out, loading());
          apiPost('/api/v1/offline-codes', { agent_id: seat.value.trim(), challenge: challenge.value.trim(), minutes: Number(mins.value) }).then(
            (res) => {
              const code = firstStr(res, 'response', 'code') ?? '';
              const mins = num(get(res, 'minutes'));
              mount(
                out,
                h(
                  'div',
                  { class: 'notice ok' },
                  h('span', null, `${t('unlocks.offline.response')}: `),
                  h('strong', { class: 'code mono', 'data-testid': 'offline-code' }, code),
                  mins !== null ? h('span', null, ` (${minutes(mins * 60_000)})`) : null,
                  h('div', { class: 'small' }, t('unlocks.offline.note')),
                ),
              );
              challenge.value = '';
            },
            (err: unknown) => mount(out, h('div', { class: 'notice error', role: 'alert' }, errorText(err))),
          );
        },
      },
    },
    h('label', { class: 'field', for: 'oc-seat' }, h('span', null, t('unlocks.offline.seat')), seat),
    h('label', { class: 'field', for: 'oc-challenge' }, h('span', null, t('unlocks.offline.challenge')), challenge),
    h('label', { class: 'field narrow', for: 'oc-minutes' }, h('span', null, t('unlocks.offline.minutes')), mins),
    h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'offline-generate' }, t('unlocks.offline.generate')),
  );
  return section(t('unlocks.offline'), h('p', { class: 'muted small' }, t('unlocks.offline.help')), form, out);
}
