import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';

/** One request the webhook receiver saw. */
export interface ReceivedWebhook {
  headers: http.IncomingHttpHeaders;
  rawBody: Buffer;
  /** Parsed JSON body, or undefined if it did not parse. */
  json: unknown;
  /** Result of this receiver's own HMAC check (independent of the channel's code). */
  signatureValid: boolean;
  /** Status this receiver answered with. */
  status: number;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly port: number;
  /** Every request, including refused ones. */
  readonly requests: ReceivedWebhook[];
  /** Requests answered 2xx. */
  accepted(): ReceivedWebhook[];
  /** Answer the next `n` requests with `status` (default 503). */
  failNext(n: number, status?: number): void;
  /** Answer every request with `status` until cleared with null. */
  failAlways(status: number | null): void;
  /** Stop listening (connections are refused) while keeping the port number. */
  down(): Promise<void>;
  /** Listen again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Verifies `sha256=hex(HMAC-SHA256(secret, timestamp + "." + rawBody))` exactly as a third-party
 * receiver would, written from the documented scheme rather than by importing the channel's code.
 */
export function receiverVerifies(secret: string, timestamp: string | undefined, signature: string | undefined, rawBody: Buffer, nowMs: number): boolean {
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > 300) return false;
  const expected = 'sha256=' + createHmac('sha256', secret).update(Buffer.concat([Buffer.from(timestamp + '.'), rawBody])).digest('hex');
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** HTTP receiver on 127.0.0.1:0 that checks the signature (401 when it does not verify) and records bodies. */
export async function startWebhookReceiver(opts: { secret: string; path?: string }): Promise<WebhookReceiver> {
  const path = opts.path ?? '/hook';
  const requests: ReceivedWebhook[] = [];
  let failCount = 0;
  let failStatus = 503;
  let alwaysStatus: number | null = null;
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      let json: unknown;
      try {
        json = JSON.parse(rawBody.toString('utf8'));
      } catch {
        json = undefined;
      }
      const ts = req.headers['x-seatguard-timestamp'];
      const sig = req.headers['x-seatguard-signature'];
      const signatureValid = receiverVerifies(opts.secret, typeof ts === 'string' ? ts : undefined, typeof sig === 'string' ? sig : undefined, rawBody, Date.now());
      let status = 204;
      if (req.method !== 'POST' || req.url !== path) status = 404;
      else if (!signatureValid) status = 401;
      else if (alwaysStatus !== null) status = alwaysStatus;
      else if (failCount > 0) {
        failCount--;
        status = failStatus;
      }
      requests.push({ headers: req.headers, rawBody, json, signatureValid, status });
      res.writeHead(status).end();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });

  await listen(0);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    requests,
    accepted: () => requests.filter((r) => r.status >= 200 && r.status < 300),
    failNext(n, status = 503) {
      failCount = n;
      failStatus = status;
    },
    failAlways(status) {
      alwaysStatus = status;
    },
    down: () => (server.listening ? stopListening() : Promise.resolve()),
    up: () => (server.listening ? Promise.resolve() : listen(port)),
    close: () => (server.listening ? stopListening() : Promise.resolve()),
  };
}
