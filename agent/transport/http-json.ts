import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * The agent's one HTTP client (enrollment, challenges, CA bootstrap): node:http/https so every
 * request can carry the pinned CA (global fetch cannot without an extra dependency). Answers are
 * capped and time-limited; a collector, or something pretending to be one, cannot make the agent
 * buffer without bound or hang.
 */
export interface HttpRequestOptions {
  method?: 'GET' | 'POST';
  /** JSON body (POST). */
  body?: unknown;
  /** Extra request headers (e.g. authorization for operator tools). */
  headers?: Record<string, string>;
  /**
   * PEM CA for https URLs: the only trust anchor, with normal verification including the host
   * name. Required for https unless `insecureNoVerify` is set.
   */
  ca?: string | null;
  /** https only, and only for fetching the public CA before it is pinned: no verification at all. */
  insecureNoVerify?: boolean;
  /** Whole request, connect to last byte. Default 15 000 ms. */
  timeoutMs?: number;
  /** Response bytes at most. Default 64 KiB. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  contentType: string;
  text: string;
}

/** An error from the TLS layer (certificate verification, host name) keeps Node's `code`. */
export class HttpRequestError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HttpRequestError';
  }
}

/** OpenSSL verification codes Node reports when the server's chain does not lead to our CA. */
export const CERT_UNTRUSTED_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/** Sends one request; resolves with any HTTP status, rejects on network, TLS, size or time failures. */
export function httpRequestText(url: string, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  const u = new URL(url);
  const https = u.protocol === 'https:';
  if (!https && u.protocol !== 'http:') return Promise.reject(new HttpRequestError(`unsupported URL scheme ${u.protocol}`, undefined));
  if (https && !opts.ca && !opts.insecureNoVerify) return Promise.reject(new HttpRequestError('https request without a pinned CA', undefined));
  const maxBytes = opts.maxBytes ?? 64 * 1024;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body), 'utf8');
  const headers: Record<string, string> = { accept: 'application/json, application/x-pem-file', ...(opts.headers ?? {}) };
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  return new Promise<HttpResponse>((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, res?: HttpResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else if (res) resolve(res);
    };
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) finish(new HttpRequestError(`response larger than ${maxBytes} bytes`, undefined));
        else chunks.push(c);
      });
      res.on('end', () =>
        finish(null, { status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (err) => finish(new HttpRequestError(err.message, undefined, { cause: err })));
    };
    const common = { method: opts.method ?? 'GET', headers, agent: false as const };
    const req = https
      ? httpsRequest(u, {
          ...common,
          ...(opts.insecureNoVerify ? { rejectUnauthorized: false } : { ca: opts.ca ?? undefined, rejectUnauthorized: true }),
        }, onResponse)
      : httpRequest(u, common, onResponse);
    req.on('error', (err: NodeJS.ErrnoException) => finish(new HttpRequestError(err.message, err.code, { cause: err })));
    const timer = setTimeout(() => finish(new HttpRequestError(`no complete answer within ${timeoutMs} ms`, 'ETIMEDOUT')), timeoutMs);
    const onAbort = () => finish(new HttpRequestError('aborted', 'ABORT_ERR'));
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.end(payload);
  });
}

/** Like {@link httpRequestText}; the body parsed as JSON (undefined when it is not JSON). */
export async function httpRequestJson(url: string, opts: HttpRequestOptions = {}): Promise<{ status: number; json: unknown }> {
  const res = await httpRequestText(url, opts);
  let json: unknown;
  try {
    json = JSON.parse(res.text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}
