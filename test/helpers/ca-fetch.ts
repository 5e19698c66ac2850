import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** The subset of fetch() the tests use, trusting exactly one CA (global fetch cannot take a CA). */
export type CaFetch = (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }) => Promise<Response>;

function toHeaders(h: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h)) {
    if (Array.isArray(v)) for (const one of v) out.append(k, one);
    else if (v !== undefined) out.set(k, v);
  }
  return out;
}

/**
 * A fetch() look-alike over node:http/https that verifies the server against `caPem` (host name
 * included); with caPem null it is plain http. Answers are real `Response` objects.
 */
export function caFetch(caPem: string | null): CaFetch {
  return (url, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const u = new URL(url);
      const body = init.body === undefined ? undefined : Buffer.from(init.body, 'utf8');
      const headers = { ...(init.headers ?? {}), ...(body ? { 'content-length': String(body.length) } : {}) };
      const onResponse = (res: import('node:http').IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const nullBody = status === 204 || status === 304;
          resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: toHeaders(res.headers) }));
        });
        res.on('error', reject);
      };
      const opts = { method: init.method ?? 'GET', headers, agent: false as const };
      const req =
        u.protocol === 'https:'
          ? httpsRequest(u, { ...opts, ...(caPem ? { ca: caPem } : {}), rejectUnauthorized: true }, onResponse)
          : httpRequest(u, opts, onResponse);
      req.on('error', reject);
      req.end(body);
    });
}
