import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webConsole } from '../../../collector/web/plugin.js';
import { buildConsoleOnce, launchConsoleBrowser, type ConsoleBrowser } from '../../helpers/browser.js';
import { startConsoleCollector, type ConsoleCollector } from './harness.js';

// The serving plugin over real HTTP, and the DOM helper inside a real Chromium under the real CSP.

let run: ConsoleCollector;
let browser: ConsoleBrowser;

beforeAll(async () => {
  buildConsoleOnce();
  run = await startConsoleCollector();
  browser = await launchConsoleBrowser({ trustSpki: run.spki });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await run?.stop();
});

describe('console serving plugin', () => {
  it('serves index.html with the strict CSP and no-cache', async () => {
    const res = await run.fetch(run.url + '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "frame-ancestors 'none'"]) {
      expect(csp).toContain(d);
    }
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/assets/app.js">');
    expect(html).not.toMatch(/<script>(?!<)/);
  });

  it('serves compiled modules and CSS with their content types and answers 304 to a matching ETag', async () => {
    const js = await run.fetch(run.url + '/assets/app.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const etag = js.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await run.fetch(run.url + '/assets/app.js', { headers: { 'if-none-match': etag ?? '' } });
    expect(again.status).toBe(304);
    const nested = await run.fetch(run.url + '/assets/pages/overview.js');
    expect(nested.status).toBe(200);
    const css = await run.fetch(run.url + '/assets/app.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(css.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });

  it('publishes the role matrix of collector/auth/privileges.ts', async () => {
    const res = await run.fetch(run.url + '/assets/privileges.json');
    const doc = (await res.json()) as { roles: Record<string, string[]> };
    expect(doc.roles.maintainer).toContain('unlock.approve');
    expect(doc.roles.admin).not.toContain('unlock.approve');
    expect(doc.roles.auditor).not.toContain('unlock.revoke');
  });

  it('refuses paths that try to leave the asset folders or name unknown files', async () => {
    for (const p of ['/assets/../package.json', '/assets/%2e%2e/package.json', '/assets/..%2fpackage.json', '/assets/index.html', '/assets/tsconfig.json', '/assets/app.ts', '/assets/nope.js', '/assets/APP.js']) {
      const res = await run.fetch(run.url + p);
      expect(res.status, p).toBe(404);
      const body = (await res.json()) as { error: { code: string } };
      expect(body.error.code).toBe('API_ERR_NOT_FOUND');
    }
  });

  it('can be registered twice (the collector and a test harness) without a duplicate route', async () => {
    const app = Fastify();
    await app.register(webConsole());
    await app.register(webConsole());
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    await app.close();
  });

  it('leaves /api to the API: its answers carry no console CSP', async () => {
    const res = await run.fetch(run.url + '/api/v1/seats');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-security-policy')).toBeNull();
  });
});

describe('DOM helper h() in Chromium', () => {
  it('renders hostile strings as literal text and refuses handler attributes and script URLs', async () => {
    const { page, record } = await browser.newPage();
    await page.goto(run.url + '/');
    const hostile = '<img src=x onerror=alert(1)>';
    // Browser code as strings: vitest would rewrite a dynamic import, and this tsconfig has no DOM lib.
    const out = (await page.evaluate(`(async (text) => {
      const { h } = await import('/assets/dom.js');
      const el = h('div', { id: 'probe', title: text }, text, h('b', null, text));
      document.body.appendChild(el);
      const refusals = [];
      for (const attrs of [{ onclick: 'alert(1)' }, { href: 'javascript:alert(1)' }, { href: '//evil.example/' }, { src: 'x' }, { srcdoc: '<b>' }]) {
        try { h('a', attrs); } catch (e) { refusals.push(e.message); }
      }
      return { text: el.textContent, imgs: document.querySelectorAll('#probe img').length, refusals };
    })(${JSON.stringify(hostile)})`)) as { text: string; imgs: number; refusals: string[] };
    expect(out.text).toBe(hostile + hostile);
    expect(out.imgs).toBe(0);
    expect(out.refusals).toHaveLength(5);
    expect(record.dialogs).toEqual([]);
  });

  it('runs under the CSP: an injected inline script does not execute', async () => {
    const { page } = await browser.newPage();
    await page.goto(run.url + '/');
    const out = (await page.evaluate(`(async () => {
      const violation = new Promise((resolve) => document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true }));
      const s = document.createElement('script');
      s.textContent = 'window.__inline_ran = true';
      // An allowed inline script would run synchronously inside appendChild.
      document.body.appendChild(s);
      const ran = window.__inline_ran === true;
      return { ran, directive: await violation };
    })()`)) as { ran: boolean; directive: string };
    expect(out.ran).toBe(false);
    expect(out.directive).toMatch(/^script-src/);
  });
});
