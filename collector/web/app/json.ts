/**
 * Readers for API answers. Everything from the network is `unknown` until read through these:
 * a missing or mistyped field becomes null (shown as '—'), never a crash or a guess.
 */

export type Obj = Record<string, unknown>;

export function obj(v: unknown): Obj | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** `get(x, 'a', 'b')` = x.a.b when every step is an object, else undefined. */
export function get(v: unknown, ...path: string[]): unknown {
  let cur: unknown = v;
  for (const k of path) {
    const o = obj(cur);
    if (!o || !Object.prototype.hasOwnProperty.call(o, k)) return undefined;
    cur = o[k];
  }
  return cur;
}

export function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

export function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function bool(v: unknown): boolean | null {
  return typeof v === 'boolean' ? v : null;
}

/** A string or number as display text; null otherwise. */
export function text(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/** First field of `o` (in order) that holds a string. */
export function firstStr(o: unknown, ...keys: string[]): string | null {
  for (const k of keys) {
    const v = str(get(o, k));
    if (v !== null) return v;
  }
  return null;
}

/** First field of `o` (in order) that holds a finite number. */
export function firstNum(o: unknown, ...keys: string[]): number | null {
  for (const k of keys) {
    const v = num(get(o, k));
    if (v !== null) return v;
  }
  return null;
}

/** The array under the first key that holds one (lists come as `{ seats: [...] }`, `{ items: [...] }`…). */
export function listOf(o: unknown, ...keys: string[]): unknown[] {
  if (Array.isArray(o)) return o;
  for (const k of [...keys, 'items', 'rows', 'data']) {
    const v = get(o, k);
    if (Array.isArray(v)) return v;
  }
  return [];
}
