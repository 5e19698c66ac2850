/** Default zone of day series and monthly reports (the call centres are in China). */
export const DEFAULT_TZ = 'Asia/Shanghai';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** True when `tz` is an IANA zone this runtime knows (e.g. 'Asia/Shanghai', 'UTC'). */
export function isValidTimeZone(tz: string): boolean {
  if (tz.length === 0 || tz.length > 64) return false;
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** Local calendar fields of instant `ms` in `tz`. */
export function localParts(ms: number, tz: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts.year ?? 0, month: parts.month ?? 1, day: parts.day ?? 1, hour: parts.hour ?? 0, minute: parts.minute ?? 0, second: parts.second ?? 0 };
}

/** Offset of `tz` from UTC at instant `ms`, in ms (Asia/Shanghai: +8 h). */
function offsetAt(ms: number, tz: string): number {
  const p = localParts(ms, tz);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The UTC instant of local midnight starting calendar day (year, month, day) in `tz`. Day and
 * month may overflow (day 0, month 13) like Date.UTC. Two passes settle DST transitions.
 */
export function localMidnight(year: number, month: number, day: number, tz: string): number {
  const guess = Date.UTC(year, month - 1, day);
  let t = guess - offsetAt(guess, tz);
  t = guess - offsetAt(t, tz);
  return t;
}

/** 'YYYY-MM-DD' of a calendar date (normalizing overflowed fields). */
export function isoDate(year: number, month: number, day: number): string {
  return new Date(Date.UTC(year, month - 1, day)).toISOString().slice(0, 10);
}

/** One local calendar day as a half-open UTC range [start, end). */
export interface DayRange {
  date: string;
  start: number;
  end: number;
}

/** The last `days` local days in `tz`, oldest first, ending with the day containing `now`. */
export function lastDays(now: number, days: number, tz: string): DayRange[] {
  const today = localParts(now, tz);
  // days + 1 midnights: each day ends where the next begins.
  const midnights = Array.from({ length: days + 1 }, (_, k) => localMidnight(today.year, today.month, today.day - (days - 1) + k, tz));
  return Array.from({ length: days }, (_, k) => ({
    date: isoDate(today.year, today.month, today.day - (days - 1) + k),
    start: midnights[k] as number,
    end: midnights[k + 1] as number,
  }));
}

/** Half-open UTC range of calendar month 'YYYY-MM' in `tz`. */
export function monthRange(month: string, tz: string): { start: number; end: number } {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return { start: localMidnight(y, m, 1, tz), end: localMidnight(y, m + 1, 1, tz) };
}
