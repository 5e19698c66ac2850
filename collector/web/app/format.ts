import { lang, t } from './i18n.js';

/** Times are shown in the browser's time zone; the server sends ISO 8601 (UTC) or epoch ms. */
export function toDate(v: unknown): Date | null {
  if (typeof v === 'number' && Number.isFinite(v)) return new Date(v);
  if (typeof v !== 'string' || v.length > 40) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

const cache = new Map<string, Intl.DateTimeFormat>();
function fmt(kind: 'datetime' | 'date' | 'time' | 'day'): Intl.DateTimeFormat {
  const key = `${lang()}|${kind}`;
  let f = cache.get(key);
  if (!f) {
    const opts: Intl.DateTimeFormatOptions =
      kind === 'datetime'
        ? { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }
        : kind === 'date'
          ? { year: 'numeric', month: '2-digit', day: '2-digit' }
          : kind === 'time'
            ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }
            : { month: 'numeric', day: 'numeric' };
    f = new Intl.DateTimeFormat(lang(), opts);
    cache.set(key, f);
  }
  return f;
}

/** '2026/12/06 09:30:12' (zh-CN) or '12/06/2026, 09:30:12' (en); '—' when missing. */
export function dateTime(v: unknown): string {
  const d = toDate(v);
  return d ? fmt('datetime').format(d) : t('common.none');
}

export function dateOnly(v: unknown): string {
  const d = toDate(v);
  return d ? fmt('date').format(d) : t('common.none');
}

export function timeOnly(v: unknown): string {
  const d = toDate(v);
  return d ? fmt('time').format(d) : t('common.none');
}

/** Short day label for chart axes ('12/6'). */
export function dayLabel(d: Date): string {
  return fmt('day').format(d);
}

/** 'h:mm:ss' or 'm:ss' countdown; '0:00' once passed. */
export function countdown(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(total / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return hh > 0 ? `${hh}:${pad(mm)}:${pad(ss)}` : `${mm}:${pad(ss)}`;
}

/** Duration in minutes, rounded ('90 分钟' / '90 min'). */
export function minutes(ms: number | null): string {
  if (ms === null) return t('common.none');
  return t('common.minutes', { n: Math.round(ms / 60_000) });
}

/** Relative age like '3 分钟前' via Intl.RelativeTimeFormat. */
export function ago(v: unknown, now = Date.now()): string {
  const d = toDate(v);
  if (!d) return t('common.none');
  const s = Math.round((d.getTime() - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(lang(), { numeric: 'auto' });
  const abs = Math.abs(s);
  if (abs < 60) return rtf.format(s, 'second');
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (abs < 86_400) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86_400), 'day');
}
