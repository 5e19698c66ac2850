import { apiGet, apiPost, withQuery } from '../api.js';
import { h, mount, type Child } from '../dom.js';
import { dateTime, toDate } from '../format.js';
import { t } from '../i18n.js';
import { arr, get, listOf, num, obj, str, text, type Obj } from '../json.js';
import { seatLink } from '../labels.js';
import { onLive, throttle } from '../live.js';
import { can } from '../session.js';
import { badge, button, dash, enumLabel, errorBox, loading, openDialog, openForm, pageHeader, section, table, toast, type Tone } from '../ui.js';
import { isOwn, loadSeatNames, who } from '../requests.js';
import type { Page } from './page.js';

/**
 * Software install requests (软件申请, docs/software-requests.md): the approval queue, the active
 * approvals (each an allow rule on one seat) and recent history. Built like the unlock page: every
 * text from the server goes through textContent (h()), the server decides who may do what, and the
 * buttons shown here only avoid offering what it would refuse.
 */

const BASE = '/api/v1/software-requests';
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const DAY = 86_400_000;

const seatNames = new Map<string, string>();

/** "package (range)" or "sha256:abcd…": what the approval allows. */
function targetText(r: Obj): string {
  const tg = obj(r.target);
  const pkg = str(tg?.package);
  if (pkg !== null) {
    const range = str(tg?.versions);
    return range === null ? `${pkg} (${t('software.any')})` : `${pkg} (${range})`;
  }
  const sha = str(tg?.sha256);
  return sha === null ? '—' : `sha256:${sha.slice(0, 16)}…`;
}

function durationText(r: Obj): string {
  if (r.permanent === true) return t('software.permanent');
  const ms = num(r.duration_ms);
  return ms === null ? '—' : t('software.days', { n: Math.round((ms / DAY) * 10) / 10 });
}

function stateTone(state: string | null): Tone {
  if (state === 'active') return 'ok';
  if (state === 'pending' || state === 'approved') return 'info';
  if (state === 'rejected' || state === 'lapsed') return 'bad';
  return 'muted';
}

type Verb = 'approve' | 'reject' | 'revoke' | 'cancel';

export const softwarePage: Page = ({ root }) => {
  const queueBox = h('div', { 'data-testid': 'software-queue' }, loading());
  const activeBox = h('div', { 'data-testid': 'software-active' }, loading());
  const historyBox = h('div', { 'data-testid': 'software-history' }, loading());
  let disposed = false;

  const act = (r: Obj, verb: Verb): void => {
    const id = text(r.id) ?? '';
    openForm({
      title: t(`software.${verb}.title`),
      danger: verb !== 'approve',
      submit: t(`software.${verb}`),
      fields: [{ name: 'reason', label: verb === 'approve' ? t('common.note') : t('common.reason'), type: 'textarea', required: verb !== 'approve', minLength: 2 }],
      onSubmit: async (v) => {
        const reason = v.reason ?? '';
        await apiPost(`${BASE}/${encodeURIComponent(id)}/${verb}`, verb === 'approve' ? { note: reason } : { reason });
        toast(t(`software.done.${verb}`), 'ok');
        reload();
      },
    });
  };

  const execute = (r: Obj): void => {
    void apiPost(`${BASE}/${encodeURIComponent(text(r.id) ?? '')}/execute`, {}).then(
      () => {
        toast(t('software.done.execute'), 'ok');
        reload();
      },
      (err: unknown) => mount(queueBox, errorBox(err)),
    );
  };

  const seatCell = (r: Obj): Child => {
    const id = str(r.agent_id);
    return seatLink(id, id === null ? null : (seatNames.get(id) ?? null));
  };
  const targetCell = (r: Obj): Child => h('span', { class: 'mono', 'data-testid': 'software-target' }, targetText(r));
  const stateCell = (r: Obj): Child => h('span', { 'data-testid': 'software-state' }, badge(enumLabel('state', str(r.state)), stateTone(str(r.state))));

  const renderQueue = (rows: Obj[]): void => {
    mount(
      queueBox,
      table<Obj>({
        empty: t('software.queue.empty'),
        rows,
        rowAttrs: (r) => ({ 'data-request-id': text(r.id) ?? '', 'data-state': str(r.state) ?? '' }),
        columns: [
          { label: t('software.col.requested'), sort: (r) => toDate(r.requested_at)?.getTime() ?? null, cell: (r) => dateTime(r.requested_at), className: 'nowrap' },
          { label: t('software.col.seat'), cell: seatCell, className: 'nowrap' },
          { label: t('software.col.target'), sort: (r) => targetText(r), cell: targetCell },
          { label: t('software.col.reason'), cell: (r) => h('span', { class: 'clip-2' }, dash(str(r.reason))) },
          { label: t('software.col.duration'), cell: durationText, className: 'nowrap' },
          { label: t('software.col.requester'), cell: (r) => dash(who(str(r.requested_by))) },
          { label: t('software.col.approvals'), cell: (r) => `${arr(r.approvals).length}/${num(r.approvals_required) ?? 1}`, className: 'num' },
          { label: t('software.col.state'), cell: stateCell },
          {
            label: t('common.actions'),
            cell: (r) => {
              if (isOwn(r)) {
                return h(
                  'span',
                  { class: 'actions' },
                  h('span', { class: 'muted small', 'data-testid': 'own-request' }, t('software.own')),
                  button(t('software.cancel'), () => act(r, 'cancel'), { testid: 'software-cancel' }),
                );
              }
              const approved = str(r.state) === 'approved';
              return h(
                'span',
                { class: 'actions' },
                !approved && can('unlock.approve') ? button(t('software.approve'), () => act(r, 'approve'), { kind: 'primary', testid: 'software-approve' }) : null,
                approved && can('unlock.execute') ? button(t('software.execute'), () => execute(r), { kind: 'primary', testid: 'software-execute' }) : null,
                can('unlock.reject') ? button(t('software.reject'), () => act(r, 'reject'), { kind: 'danger', testid: 'software-reject' }) : null,
              );
            },
          },
        ],
      }),
    );
  };

  const renderActive = (rows: Obj[]): void => {
    mount(
      activeBox,
      table<Obj>({
        empty: t('software.active.empty'),
        rows,
        rowAttrs: (r) => ({ 'data-request-id': text(r.id) ?? '' }),
        columns: [
          { label: t('software.col.seat'), cell: seatCell, className: 'nowrap' },
          { label: t('software.col.target'), sort: (r) => targetText(r), cell: targetCell },
          { label: t('software.col.executor'), cell: (r) => dash(who(str(get(r, 'allow', 'executor')))) },
          { label: t('software.col.expires'), cell: (r) => (get(r, 'allow', 'expires_at') == null ? t('software.permanent') : dateTime(get(r, 'allow', 'expires_at'))), className: 'nowrap' },
          { label: t('software.col.fulfilled'), cell: (r) => (str(r.fulfilled_at) === null ? t('software.notyet') : `${dateTime(r.fulfilled_at)} ${str(r.fulfilled_version) ?? ''}`) },
          { label: t('common.actions'), cell: (r) => (can('unlock.revoke') ? button(t('software.revoke'), () => act(r, 'revoke'), { kind: 'danger', testid: 'software-revoke' }) : null) },
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
          { label: t('software.col.requested'), sort: (r) => toDate(r.requested_at)?.getTime() ?? null, cell: (r) => dateTime(r.requested_at), className: 'nowrap' },
          { label: t('software.col.seat'), cell: seatCell, className: 'nowrap' },
          { label: t('software.col.target'), cell: targetCell },
          { label: t('software.col.requester'), cell: (r) => dash(who(str(r.requested_by))) },
          { label: t('software.col.state'), sort: (r) => str(r.state), cell: stateCell },
        ],
      }),
    );
  };

  const load = async (): Promise<void> => {
    const [pending, active, recent] = await Promise.allSettled([
      apiGet(withQuery(BASE, { limit: 100, state: 'pending' })),
      apiGet(withQuery(BASE, { limit: 200, state: 'active' })),
      apiGet(withQuery(BASE, { limit: 20 })),
    ]);
    const approved = await apiGet(withQuery(BASE, { limit: 100, state: 'approved' })).catch(() => null);
    if (disposed) return;
    const rowsOf = (r: PromiseSettledResult<unknown>): Obj[] => (r.status === 'fulfilled' ? listOf(r.value, 'requests').filter(isObj) : []);
    const all = [...rowsOf(pending), ...rowsOf(active), ...rowsOf(recent)];
    if (all.some((r) => !seatNames.has(str(r.agent_id) ?? ''))) await loadSeatNames(seatNames).catch(() => undefined);
    if (disposed) return;
    // Approved but not yet executed cases wait in the queue too: a maintainer still has to act.
    const queue = [...rowsOf(pending), ...(approved === null ? [] : listOf(approved, 'requests').filter(isObj))];
    if (pending.status === 'fulfilled') renderQueue(queue);
    else mount(queueBox, errorBox(pending.reason));
    if (active.status === 'fulfilled') renderActive(rowsOf(active));
    else mount(activeBox, errorBox(active.reason));
    if (recent.status === 'fulfilled') renderHistory(rowsOf(recent));
    else mount(historyBox, errorBox(recent.reason));
  };

  const reload = throttle(() => void load(), 300);
  const off = onLive((m) => {
    if (m.kind === 'unlock' || m.kind === 'reconnected' || m.kind === 'poll' || m.kind === 'resync') reload();
  });

  mount(
    root,
    pageHeader(t('software.title'), can('unlock.request') ? button(t('software.new'), () => openNewRequest(reload), { kind: 'primary', testid: 'software-new' }) : null),
    h('p', { class: 'muted small' }, t('software.help')),
    section(t('software.queue'), queueBox),
    section(t('software.active'), activeBox),
    section(t('software.history'), historyBox),
  );
  void load();
  return () => {
    disposed = true;
    off();
  };
};

/** New request from the console: a seat, a package (optional version range) or an executable hash, a reason, a duration. */
function openNewRequest(done: () => void): void {
  const seatSel = h('select', { id: 'sw-seat', name: 'agent_id', required: true, 'data-testid': 'software-new-seat' }, h('option', { value: '' }, t('common.loading')));
  const pkg = h('input', { id: 'sw-package', name: 'package', maxlength: 128, autocomplete: 'off', 'data-testid': 'software-new-package' });
  const versions = h('input', { id: 'sw-versions', name: 'versions', maxlength: 128, autocomplete: 'off', placeholder: '>= 7.4', 'data-testid': 'software-new-versions' });
  const sha = h('input', { id: 'sw-sha256', name: 'sha256', maxlength: 64, autocomplete: 'off', class: 'mono', 'data-testid': 'software-new-sha256' });
  const reason = h('textarea', { id: 'sw-reason', name: 'reason', rows: 3, maxlength: 1000, required: true, 'data-testid': 'software-new-reason' });
  const days = h('input', { id: 'sw-days', name: 'days', type: 'number', min: 0, max: 365, value: '0', 'data-testid': 'software-new-days' });
  void apiGet(withQuery('/api/v1/seats', { limit: 500 })).then(
    (res) => {
      const seats = listOf(res, 'seats').filter(isObj).filter((x) => x.revoked_at === null || x.revoked_at === undefined);
      mount(seatSel, h('option', { value: '' }, '—'), seats.map((x) => h('option', { value: str(x.agent_id) ?? '' }, str(x.seat_name) ?? str(x.agent_id) ?? '?')));
    },
    () => mount(seatSel, h('option', { value: '' }, '—')),
  );

  openDialog({
    title: t('software.new'),
    submit: t('common.submit'),
    body: [
      h('label', { class: 'field', for: 'sw-seat' }, h('span', null, t('software.new.seat')), seatSel),
      h('label', { class: 'field', for: 'sw-package' }, h('span', null, t('software.new.package')), pkg),
      h('label', { class: 'field', for: 'sw-versions' }, h('span', null, t('software.new.versions')), versions),
      h('label', { class: 'field', for: 'sw-sha256' }, h('span', null, t('software.new.sha256')), sha),
      h('label', { class: 'field', for: 'sw-reason' }, h('span', null, t('software.col.reason')), reason),
      h('label', { class: 'field', for: 'sw-days' }, h('span', null, t('software.new.days')), days),
    ],
    onSubmit: () => {
      if (!seatSel.value) return t('software.new.seat.missing');
      const name = pkg.value.trim();
      const hash = sha.value.trim();
      if ((name === '') === (hash === '')) return t('software.new.target.missing');
      if (reason.value.trim().length < 2) return t('common.reason.required');
      const d = Number(days.value);
      const range = versions.value.trim();
      return apiPost(BASE, {
        agent_id: seatSel.value,
        ...(name === '' ? {} : { package: name }),
        ...(name === '' || range === '' ? {} : { versions: range }),
        ...(hash === '' ? {} : { sha256: hash }),
        reason: reason.value.trim(),
        // 0 or empty: permanent, which is what an install usually is.
        ...(Number.isFinite(d) && d > 0 ? { duration_ms: Math.round(d * DAY) } : {}),
      }).then(() => {
        toast(t('software.done.created'), 'ok');
        done();
      });
    },
  });
}
