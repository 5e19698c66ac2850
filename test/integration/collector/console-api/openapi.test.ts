import { afterEach, describe, expect, it } from 'vitest';
import { startConsoleApi, type ConsoleApi } from './console-harness.js';

describe('console API: OpenAPI document', () => {
  let c: ConsoleApi | undefined;
  afterEach(async () => {
    await c?.cleanup();
    c = undefined;
  });

  it('is public JSON that lists every /api/v1 route of every area with its parameters', async () => {
    c = await startConsoleApi();
    const res = await fetch(`${c.run.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = JSON.parse(await res.text()) as {
      openapi: string;
      info: { title: string };
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }>; security?: unknown[] }>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['bearer', 'session']);

    const routes = c.run.collector.routes().filter((r) => r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThan(20);
    const missing: string[] = [];
    for (const r of routes) {
      const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      if (!doc.paths[path]?.[r.method.toLowerCase()]) missing.push(`${r.method} ${path}`);
    }
    expect(missing).toEqual([]);
    for (const p of ['/api/v1/dashboard', '/api/v1/devices', '/api/v1/devices/{device_key}', '/api/v1/stream', '/api/v1/export/events.csv', '/api/v1/reports/monthly', '/api/v1/seats']) {
      expect(doc.paths[p]?.get, p).toBeDefined();
    }
    const devices = doc.paths['/api/v1/devices']?.get;
    expect(devices?.parameters?.map((p) => `${p.in}:${p.name}`).sort()).toEqual(['query:agent_id', 'query:limit', 'query:offset', 'query:q', 'query:sort']);
    expect(devices?.security).toEqual([{ bearer: [] }, { session: [] }]);
    expect(doc.paths['/api/health']?.get?.security).toBeUndefined();
    expect(doc.paths['/api/openapi.json']).toBeUndefined();
  });
});
