import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from './spawn.js';

/** Debian's Chromium (apt-get install chromium); never a downloaded browser build. */
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-artifacts', 'screenshots');
export const CONSOLE_VIEWPORT = { width: 1366, height: 768 } as const;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let built = false;

/** Compiles the browser console (tsc -p tsconfig.web.json) once per test process; throws on type errors. */
export function buildConsoleOnce(): void {
  if (built) return;
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(REPO_ROOT, 'tsconfig.web.json')], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`console build failed:\n${r.stdout}\n${r.stderr}`);
  built = true;
}

/**
 * base64 SHA-256 of the collector's server public key (DATA/tls/server.pem): what Chromium's
 * --ignore-certificate-errors-spki-list takes. Trusting exactly that key is the test-profile
 * equivalent of importing the CA, without blanket-ignoring certificate errors.
 */
export function serverSpkiHash(dataDir: string): string {
  const spki = new X509Certificate(readFileSync(join(dataDir, 'tls', 'server.pem'), 'utf8')).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** What a page did that a test may want to assert on: JS dialogs, uncaught errors, console errors. */
export interface PageRecord {
  dialogs: string[];
  pageErrors: string[];
  consoleErrors: string[];
}

export interface ConsoleBrowser {
  context: BrowserContext;
  /** A new tab at 1366x768 whose dialogs are recorded and dismissed. */
  newPage(): Promise<{ page: Page; record: PageRecord }>;
  close(): Promise<void>;
}

/**
 * Headless Chromium with a fresh profile (deleted on close), zh-CN locale, Asia/Shanghai zone,
 * downloads accepted. Throws a clear error when Chromium is not installed.
 */
export async function launchConsoleBrowser(opts: { locale?: string; timezoneId?: string; trustSpki?: string | null } = {}): Promise<ConsoleBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const profile = mkdtempSync(join(tmpdir(), 'sg-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: opts.trustSpki ? [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${opts.trustSpki}`] : CHROMIUM_ARGS,
    viewport: CONSOLE_VIEWPORT,
    locale: opts.locale ?? 'zh-CN',
    timezoneId: opts.timezoneId ?? 'Asia/Shanghai',
    acceptDownloads: true,
  });
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      const record: PageRecord = { dialogs: [], pageErrors: [], consoleErrors: [] };
      page.on('dialog', (d) => {
        record.dialogs.push(`${d.type()}: ${d.message()}`);
        void d.dismiss().catch(() => undefined);
      });
      page.on('pageerror', (e) => record.pageErrors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') record.consoleErrors.push(m.text());
      });
      return { page, record };
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Full-window screenshot into test-artifacts/screenshots/NAME.png; returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}
