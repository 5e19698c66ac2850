/**
 * Hash routes (`#/seats/AGENT?q=…`): the server only ever serves `/`, and a reload or a shared
 * link lands on the same view.
 */

export interface Route {
  /** First path segment: 'overview', 'seats', … */
  name: string;
  /** Remaining segments, URI-decoded. */
  params: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path = '', qs = ''] = raw.split('?', 2);
  const parts = path.split('/').filter((p) => p.length > 0).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return '';
    }
  });
  return { name: parts[0] ?? 'overview', params: parts.slice(1), query: new URLSearchParams(qs) };
}

/** `#/seats/<id>?q=…`; every segment is URI-encoded, so ids with `/` or `?` stay one segment. */
export function href(name: string, params: readonly string[] = [], query?: Record<string, string | number | null | undefined>): string {
  const path = [name, ...params].map((p) => encodeURIComponent(p)).join('/');
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `#/${path}${qs ? `?${qs}` : ''}`;
}

/** Changes the query of the current route without adding a history entry. */
export function replaceQuery(route: Route, query: Record<string, string | number | null | undefined>): void {
  history.replaceState(null, '', href(route.name, route.params, query));
}

export function currentRoute(): Route {
  return parseHash(location.hash);
}
