import { request, type IncomingMessage } from 'node:http';

/** One parsed Server-Sent Events message (or a comment line). */
export interface SseMessage {
  event: string;
  id: string | null;
  data: string;
  /** Parsed `data` when it is JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  comment: string | null;
}

export interface SseClient {
  status: number;
  headers: Headers;
  messages: SseMessage[];
  /** Waits for the first message (from index `from`) matching `pred`. */
  next(pred: (m: SseMessage) => boolean, timeoutMs?: number, from?: number): Promise<SseMessage>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
  /** The error body when the server refused the stream. */
  body: string;
}

/**
 * A minimal EventSource over node:http with its own connection (no pool: fetch's pool may leave a
 * pre-opened idle socket that holds the server's close() until its header timeout).
 */
export async function openSse(url: string, token: string): Promise<SseClient> {
  const messages: SseMessage[] = [];
  const waiters = new Set<() => void>();
  let endedResolve: () => void = () => undefined;
  const ended = new Promise<void>((r) => (endedResolve = r));
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  const req = request(url, { agent: false, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
    req.end();
  });
  req.on('error', () => undefined);
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
  const client: SseClient = {
    status: res.statusCode ?? 0,
    headers,
    messages,
    body: '',
    ended,
    async next(pred, timeoutMs = 5_000, from = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = messages.slice(from).find(pred);
        if (hit) return hit;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching SSE message within ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m.event || m.comment))}`);
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(t);
            waiters.delete(done);
            resolve();
          };
          const t = setTimeout(done, left);
          waiters.add(done);
        });
      }
    },
    close: () => req.destroy(),
  };
  res.setEncoding('utf8');
  if (client.status !== 200) {
    for await (const chunk of res) client.body += chunk as string;
    endedResolve();
    return client;
  }
  let buf = '';
  res.on('data', (chunk: string) => {
    buf += chunk;
    let idx: number;
    while ((idx = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, idx);
      buf = buf.slice(idx + 2);
      const m: SseMessage = { event: '', id: null, data: '', json: undefined, comment: null };
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) m.comment = line.slice(1).trim();
        else if (line.startsWith('event: ')) m.event = line.slice(7);
        else if (line.startsWith('id: ')) m.id = line.slice(4);
        else if (line.startsWith('data: ')) m.data += line.slice(6);
        else if (line.startsWith('retry: ')) m.event = 'retry';
      }
      if (m.data !== '') m.json = JSON.parse(m.data);
      messages.push(m);
    }
    wake();
  });
  const finish = () => {
    endedResolve();
    wake();
  };
  res.on('end', finish);
  res.on('close', finish);
  res.on('error', finish);
  return client;
}
