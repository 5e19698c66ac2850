/** Seat-name globs on enrollment tokens: `*` any run, `?` one character, the rest literal. */
export const SEAT_PATTERN_RE = /^[A-Za-z0-9._*?-]{1,64}$/;

/** Seat names (and hostnames used as default seat names): DNS-ish labels, no spaces or controls. */
export const SEAT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * True when `name` matches the glob `pattern`, case-insensitively (Windows host names are
 * case-insensitive). Iterative matcher: linear in practice, no regex built from input.
 */
export function matchSeatPattern(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const s = name.toLowerCase();
  let pi = 0;
  let si = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === s[si])) {
      pi++;
      si++;
    } else if (pi < p.length && p[pi] === '*') {
      starP = pi++;
      starS = si;
    } else if (starP !== -1) {
      pi = starP + 1;
      si = ++starS;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}
