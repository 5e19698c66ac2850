import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { httpRequestJson, httpRequestText } from '../../../agent/transport/http-json.js';

// The agent's HTTP client against real sockets: the caps are what protect it from a hostile or
// broken collector.

let server: Server | null = null;
afterEach(async () => {
  const s = server;
  server = null;
  if (s) await new Promise<void>((r) => s.close(() => r()));
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  server = s;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const addr = s.address();
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

describe('agent HTTP client', () => {
  it('posts JSON and parses the JSON answer with its status', async () => {
    const url = await serve((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ got: JSON.parse(body) as unknown, type: req.headers['content-type'] }));
      });
    });
    expect(await httpRequestJson(`${url}/x`, { method: 'POST', body: { a: 1 } })).toEqual({ status: 201, json: { got: { a: 1 }, type: 'application/json' } });
  });

  it('rejects an answer larger than maxBytes instead of buffering it', async () => {
    const url = await serve((_req, res) => res.end('x'.repeat(100_000)));
    await expect(httpRequestText(url, { maxBytes: 1_000 })).rejects.toThrow(/larger than 1000 bytes/);
  });

  it('gives up on a server that never answers, within the timeout', async () => {
    const url = await serve(() => undefined);
    const started = Date.now();
    await expect(httpRequestText(url, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses an https request without a pinned CA, before connecting', async () => {
    await expect(httpRequestText('https://127.0.0.1:9/')).rejects.toThrow(/without a pinned CA/);
  });
});
