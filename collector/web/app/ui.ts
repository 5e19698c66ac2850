import { ApiError, HTTP_ERROR, NETWORK, isMissingRoute } from './api.js';
import { h, mount, type Child } from './dom.js';
import { hasKey, t, type MessageKey } from './i18n.js';

/** Localized text for any failure; API codes map to `error.<CODE>` strings. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === NETWORK) return t('error.network');
    if (isMissingRoute(err)) return t('common.unavailable', { path: err.path.split('?')[0] ?? '' });
    const key = `error.${err.code}`;
    if (hasKey(key)) return t(key, { message: err.message });
    if (err.code === HTTP_ERROR) return t('error.http', { status: err.status });
    return err.message ? `${t('error.generic', { code: err.code })} ${err.message}` : t('error.generic', { code: err.code });
  }
  return t('error.generic', { code: err instanceof Error ? err.name : 'ERROR' });
}

export function errorBox(err: unknown): HTMLElement {
  const code = err instanceof ApiError ? err.code : null;
  return h('div', { class: 'notice error', role: 'alert', 'data-code': code }, errorText(err));
}

export function emptyState(text: string): HTMLElement {
  return h('div', { class: 'empty' }, text);
}

export function loading(): HTMLElement {
  return h('div', { class: 'loading', 'aria-busy': 'true' }, t('common.loading'));
}

export type Tone = 'ok' | 'warn' | 'bad' | 'muted' | 'info';
export function badge(text: string, tone: Tone): HTMLElement {
  return h('span', { class: `badge ${tone}` }, text);
}

/** A dash for missing values. */
export function dash(v: string | null | undefined): string {
  return v === null || v === undefined || v === '' ? t('common.none') : v;
}

export function pageHeader(title: string, ...actions: Child[]): HTMLElement {
  return h('header', { class: 'page-head' }, h('h1', null, title), h('div', { class: 'page-actions' }, ...actions));
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'panel' }, h('h2', null, title), ...children);
}

export function button(label: string, onClick: () => void, opts: { kind?: 'primary' | 'danger' | 'plain'; testid?: string; title?: string; disabled?: boolean } = {}): HTMLButtonElement {
  return h(
    'button',
    { type: 'button', class: `btn ${opts.kind ?? 'plain'}`, 'data-testid': opts.testid, title: opts.title, disabled: opts.disabled ?? false, on: { click: () => onClick() } },
    label,
  );
}

// ------------------------------------------------------------------------------------------
// Tables

export interface Column<T> {
  label: string;
  cell: (row: T) => Child;
  /** Sort key; columns without one are not sortable. */
  sort?: (row: T) => string | number | null;
  className?: string;
}

export interface SortState {
  index: number;
  dir: 1 | -1;
}

function compare(a: string | number | null, b: string | number | null): number {
  if (a === null && b === null) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** A table whose sortable headers re-order the rows client-side. */
export function table<T>(opts: { columns: Column<T>[]; rows: T[]; empty: string; sort?: SortState; testid?: string; rowAttrs?: (row: T) => Record<string, string> }): HTMLElement {
  if (opts.rows.length === 0) return emptyState(opts.empty);
  let sort = opts.sort ?? null;
  const wrap = h('div', { class: 'table-wrap', 'data-testid': opts.testid });
  const render = (): void => {
    const rows = [...opts.rows];
    const sortCol = sort ? opts.columns[sort.index] : undefined;
    if (sort && sortCol?.sort) {
      const key = sortCol.sort;
      const dir = sort.dir;
      rows.sort((a, b) => dir * compare(key(a), key(b)));
    }
    const head = h(
      'tr',
      null,
      opts.columns.map((c, i) => {
        const active = sort?.index === i;
        const ariaSort = active ? (sort?.dir === 1 ? 'ascending' : 'descending') : c.sort ? 'none' : null;
        if (!c.sort) return h('th', { scope: 'col', class: c.className }, c.label);
        return h(
          'th',
          { scope: 'col', class: c.className, 'aria-sort': ariaSort },
          h(
            'button',
            {
              type: 'button',
              class: 'th-sort',
              on: {
                click: () => {
                  sort = { index: i, dir: active && sort?.dir === 1 ? -1 : 1 };
                  render();
                },
              },
            },
            c.label,
            h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (sort?.dir === 1 ? '▲' : '▼') : ''),
          ),
        );
      }),
    );
    const body = rows.map((r) => h('tr', opts.rowAttrs ? opts.rowAttrs(r) : null, opts.columns.map((c) => h('td', { class: c.className }, c.cell(r)))));
    mount(wrap, h('table', { class: 'grid' }, h('thead', null, head), h('tbody', null, body)));
  };
  render();
  return wrap;
}

/** Key/value list for detail pages. */
export function facts(pairs: Array<[string, Child]>): HTMLElement {
  return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

// ------------------------------------------------------------------------------------------
// Dialog forms

export interface FieldSpec {
  name: string;
  label: string;
  type?: 'text' | 'textarea' | 'number' | 'password';
  required?: boolean;
  minLength?: number;
  value?: string;
  min?: number;
  max?: number;
}

/**
 * A modal dialog around a form. `onSubmit` returns an error text to show (validation), or a
 * promise; if the promise rejects, its error is shown and the dialog stays open.
 */
export function openDialog(opts: { title: string; body: Child[]; submit: string; danger?: boolean; onSubmit: () => string | null | Promise<void> }): { close(): void } {
  const errorSlot = h('div', { class: 'dialog-error', role: 'alert', 'data-testid': 'dialog-error' });
  const dialog = h('dialog', { class: 'dialog', 'aria-label': opts.title });
  const close = (): void => {
    dialog.close();
    dialog.remove();
  };
  const submitBtn = h('button', { type: 'submit', class: `btn ${opts.danger ? 'danger' : 'primary'}`, 'data-testid': 'dialog-submit' }, opts.submit);
  // novalidate: our own checks answer in the console's language, not the browser's.
  const form = h(
    'form',
    {
      novalidate: true,
      on: {
        submit: (ev) => {
          ev.preventDefault();
          const out = opts.onSubmit();
          if (typeof out === 'string') return mount(errorSlot, out);
          if (out === null) return;
          submitBtn.disabled = true;
          mount(errorSlot);
          out.then(close, (err: unknown) => {
            submitBtn.disabled = false;
            mount(errorSlot, errorText(err));
          });
        },
      },
    },
    h('h2', null, opts.title),
    opts.body,
    errorSlot,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'btn plain', on: { click: close } }, t('common.cancel')), submitBtn),
  );
  dialog.appendChild(form);
  dialog.addEventListener('cancel', () => dialog.remove());
  document.body.appendChild(dialog);
  dialog.showModal();
  const first = form.querySelector<HTMLElement>('input, select, textarea');
  first?.focus();
  return { close };
}

/** A modal form of simple fields; `onSubmit` gets the trimmed values. */
export function openForm(opts: { title: string; fields: FieldSpec[]; submit: string; danger?: boolean; onSubmit: (values: Record<string, string>) => Promise<void> }): void {
  const inputs = opts.fields.map((f) => {
    const attrs = {
      id: `f-${f.name}`,
      name: f.name,
      'aria-required': f.required ? 'true' : null,
      minlength: f.minLength,
      maxlength: 500,
      min: f.min,
      max: f.max,
      'data-testid': `field-${f.name}`,
    };
    const input = f.type === 'textarea' ? h('textarea', { ...attrs, rows: 3 }, f.value ?? '') : h('input', { ...attrs, type: f.type ?? 'text', value: f.value });
    return { spec: f, input };
  });
  openDialog({
    title: opts.title,
    submit: opts.submit,
    danger: opts.danger ?? false,
    body: inputs.map(({ spec, input }) => h('label', { class: 'field', for: `f-${spec.name}` }, h('span', null, spec.label), input)),
    onSubmit: () => {
      const values: Record<string, string> = {};
      for (const { spec, input } of inputs) {
        const v = input.value.trim();
        if ((spec.required ?? false) && v.length < (spec.minLength ?? 1)) {
          input.focus();
          return t('common.reason.required');
        }
        values[spec.name] = v;
      }
      return opts.onSubmit(values);
    },
  });
}

// ------------------------------------------------------------------------------------------
// Toasts

export function toast(text: string, tone: Tone = 'info'): void {
  let host = document.getElementById('toasts');
  if (!host) {
    host = h('div', { id: 'toasts', 'aria-live': 'polite' });
    document.body.appendChild(host);
  }
  const el = h('div', { class: `toast ${tone}` }, text);
  host.appendChild(el);
  window.setTimeout(() => el.remove(), 6_000);
}

/** Localized label for a server enum value, or the raw value when the console has no text for it. */
export function enumLabel(prefix: string, value: string | null): string {
  if (value === null) return t('common.none');
  const key = `${prefix}.${value}`;
  return hasKey(key) ? t(key as MessageKey) : value;
}
