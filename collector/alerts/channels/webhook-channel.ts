import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { AppError, formatError } from '../../../shared/errors.js';
import { systemClock, type Clock } from '../../../shared/clock.js';
import { copyAlert, type Alert, type Channel, type DeliveryContext } from './types.js';
import { validateOptions, WebhookOptionsSchema, type WebhookOptions } from './config.js';
import { permanentError, retryableError } from './delivery-errors.js';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from './webhook-signature.js';

/** Default whole-request deadline of a webhook POST. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

/** JSON document POSTed for each alert (schema `seatguard.alert`, version 1). */
export interface WebhookPayload {
  type: 'seatguard.alert';
  version: 1;
  delivery_id: string;
  attempt: number;
  sent_at: string;
  alert: Alert;
}

const RESERVED_HEADERS = new Set([SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER, 'content-type', 'content-length', 'host', 'transfer-encoding', 'connection']);

/** 2xx delivered; 408, 425, 429 and 5xx are worth a retry; redirects and other 4xx are final. */
export function classifyStatus(status: number): 'ok' | 'retry' | 'permanent' {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'retry';
  return 'permanent';
}

/** Retry-After in seconds or an HTTP date, as milliseconds; null when absent or unreadable. */
function retryAfterMs(value: string | undefined, nowMs: number): number | null {
  if (!value) return null;
  if (/^[0-9]{1,7}$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : null;
}

export interface WebhookChannelDeps {
  clock?: Clock;
}

/**
 * HTTP(S) POST of a signed JSON document per alert (see docs/alert-channels.md for the scheme).
 * Throws ALERT_ERR_CHANNEL_CONFIG on invalid options. The secret and extra headers are never logged
 * or put in errors; errors name the URL origin only (no credentials, path or query).
 */
export function createWebhookChannel(options: WebhookOptions, deps: WebhookChannelDeps = {}): Channel {
  const opts = validateOptions(WebhookOptionsSchema, options, 'webhook');
  const clock = deps.clock ?? systemClock;
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new AppError('ALERT_ERR_CHANNEL_CONFIG', formatError('ALERT_ERR_CHANNEL_CONFIG', `webhook ${opts.name}: url is not a valid URL`));
  }
  const problems: string[] = [];
  if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push('url must be http: or https:');
  for (const h of Object.keys(opts.headers ?? {})) if (RESERVED_HEADERS.has(h.toLowerCase())) problems.push(`header ${h} is reserved`);
  if (problems.length > 0) {
    throw new AppError('ALERT_ERR_CHANNEL_CONFIG', formatError('ALERT_ERR_CHANNEL_CONFIG', `webhook ${opts.name}: ${problems.join('; ')}`));
  }
  const name = opts.name;
  const secret = opts.secret;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const isHttps = url.protocol === 'https:';
  const target = url.origin;
  // Keep-alive saves a TCP+TLS handshake per alert during bursts; two sockets are plenty for one lane.
  const agent = isHttps
    ? new https.Agent({
        keepAlive: true,
        maxSockets: 2,
        ...(opts.ca === undefined ? {} : { ca: opts.ca }),
        // SECURITY: certificate checks stay on unless explicitly disabled in config.
        rejectUnauthorized: opts.rejectUnauthorized ?? true,
      })
    : new http.Agent({ keepAlive: true, maxSockets: 2 });
  const extraHeaders = { ...(opts.headers ?? {}) };

  function post(body: Buffer, headers: Record<string, string>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const signal = AbortSignal.timeout(timeoutMs);
      const req = (isHttps ? https : http).request(url, { method: 'POST', agent, headers, signal }, (res) => {
        const status = res.statusCode ?? 0;
        // The body is not needed; draining it lets the keep-alive socket be reused.
        res.resume();
        res.on('error', () => undefined);
        const verdict = classifyStatus(status);
        if (verdict === 'ok') return resolve();
        const reason = `${target} answered HTTP ${status}`;
        if (verdict === 'permanent') return reject(permanentError(name, reason));
        const err = retryableError(name, reason);
        const after = retryAfterMs(res.headers['retry-after'], clock.now());
        if (after !== null && err.details) err.details.retry_after_ms = after;
        reject(err);
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        const what = signal.aborted ? `timed out after ${timeoutMs} ms` : (e.code ?? 'request failed');
        // Only the code goes into the message: node errors can quote the full URL with credentials.
        reject(retryableError(name, `${target} ${what}`, { code: e.code ?? null }));
      });
      req.end(body);
    });
  }

  return {
    name,
    kind: 'webhook',
    ...(opts.minSeverity === undefined ? {} : { minSeverity: opts.minSeverity }),
    async send(alert: Alert, ctx?: DeliveryContext): Promise<void> {
      const nowMs = clock.now();
      const payload: WebhookPayload = {
        type: 'seatguard.alert',
        version: 1,
        delivery_id: ctx?.delivery_id ?? randomUUID(),
        attempt: ctx?.attempt ?? 1,
        sent_at: new Date(nowMs).toISOString(),
        alert: copyAlert(alert),
      };
      const body = Buffer.from(JSON.stringify(payload), 'utf8');
      const timestamp = String(Math.floor(nowMs / 1000));
      await post(body, {
        ...extraHeaders,
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(body.length),
        'user-agent': 'seatguard-collector',
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
        [DELIVERY_HEADER]: payload.delivery_id,
      });
    },
    close(): Promise<void> {
      agent.destroy();
      return Promise.resolve();
    },
  };
}
