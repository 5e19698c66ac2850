import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatChallenge, newChallenge, verifyResponse } from '../../../shared/domain/offline-code.js';
import { buildConsoleOnce, launchConsoleBrowser, screenshot, type ConsoleBrowser, type PageRecord } from '../../helpers/browser.js';
import { eventually } from '../../helpers/eventually.js';
import { deviceFixture, startInProcessAgent, type InProcessAgent } from '../../helpers/fake-agent.js';
import { startConsoleCollector, type ConsoleCollector } from './harness.js';
import { addUser, apiLogin, pageLogin } from './session.js';

// The console in a real Chromium against a real collector and a real (simulated) seat: the agent
// runs its enforcement loop on the fake USB platform and reports over the real WebSocket.

const HOSTILE = '<img src=x onerror=alert(1)>';
const SEAT = 'CC-SH-001';
/** Short grants so the test watches one expire; the policy must allow it (see startConsoleCollector). */
const GRANT_MS = 8_000;
/** Waits for UI conditions; logins hash a password and pages fetch several routes. */
const POLL = { timeout: 15_000 } as const;

let run: ConsoleCollector;
let seat: InProcessAgent;
let stateDir: string;
let browserA: ConsoleBrowser;
let browserB: ConsoleBrowser;
const users: Record<string, { username: string; password: string; id: string }> = {};
let portN = 0;

const login = (page: Page, who: string): Promise<void> => pageLogin(page, run.url, users, who);

function plug(product?: string): string {
  const d = deviceFixture('sandisk-ultra-fit');
  if (product !== undefined) d.product = product;
  d.serial = `SG${String(++portN).padStart(10, '0')}`;
  return seat.platform.insert(d, { port: `1-${portN}` });
}

function noErrors(record: PageRecord): void {
  expect(record.dialogs).toEqual([]);
  expect(record.pageErrors).toEqual([]);
}

beforeAll(async () => {
  buildConsoleOnce();
  // Fast heartbeats so the seat reports its lock state within the test; cheap scrypt for the logins.
  run = await startConsoleCollector({
    heartbeatIntervalMs: 500,
    security: { scrypt: { N: 2 ** 14, r: 8, p: 1 } },
    unlock: { policy: { minDurationMs: 1_000 }, sweepIntervalMs: 250 },
  });
  users.maintA = await addUser(run.collector, 'maint-a', ['maintainer']);
  users.maintB = await addUser(run.collector, 'maint-b', ['maintainer']);
  users.officer = await addUser(run.collector, 'officer-1', ['officer']);
  users.duty = await addUser(run.collector, 'duty-1', ['duty']);
  stateDir = mkdtempSync(join(tmpdir(), 'sg-console-seat-'));
  seat = await startInProcessAgent({ collectorUrl: run.url, stateDir, token: run.collector.createEnrollmentToken(), seatName: SEAT, caFingerprint: run.collector.tls?.caFingerprint ?? '' });
  await eventually(() => run.collector.stats().agentsConnected === 1, 10_000);
  // The console runs over HTTPS with the collector's own CA: the browsers trust exactly its server key.
  browserA = await launchConsoleBrowser({ trustSpki: run.spki });
  browserB = await launchConsoleBrowser({ trustSpki: run.spki });
}, 90_000);

afterAll(async () => {
  await browserA?.close();
  await browserB?.close();
  await seat?.stop();
  await run?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('web console in Chromium', () => {
  it('shows the login page in Chinese and explains a wrong password in Chinese', async () => {
    const { page, record } = await browserA.newPage();
    await page.goto(run.url + '/');
    await expect.poll(() => page.locator('html').getAttribute('lang'), POLL).toBe('zh-CN');
    await screenshot(page, '01-login');
    await page.getByTestId('login-username').fill('maint-a');
    await page.getByTestId('login-password').fill('wrong-password-123');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('login-error').textContent(), POLL).toBe('用户名或密码错误。');
    noErrors(record);
    await page.close();
  });

  it('logs in and shows the overview with the seat counted online', async () => {
    const { page, record } = await browserA.newPage();
    await login(page, 'maintA');
    await expect.poll(() => page.getByTestId('count-online').textContent(), POLL).toBe('1');
    await expect.poll(() => page.getByTestId('live-status').getAttribute('data-status'), POLL).toBe('live');
    noErrors(record);
    await page.close();
  });

  it('shows a blocked insertion from the simulated seat live, without a reload', async () => {
    const { page, record } = await browserA.newPage();
    await page.goto(run.url + '/#/overview');
    await expect.poll(() => page.getByTestId('live-status').getAttribute('data-status'), POLL).toBe('live');
    // A marker on the window: it survives only if the page is never reloaded. (Strings: no DOM lib here.)
    await page.evaluate('window.__sameDocument = true');
    plug();
    const item = page.getByTestId('live-feed').locator('li', { hasText: '拦截 USB 存储' });
    await item.first().waitFor({ timeout: 15_000 });
    expect(await item.first().textContent()).toContain(SEAT);
    expect(await page.evaluate('window.__sameDocument === true')).toBe(true);
    await screenshot(page, '02-overview');

    // The seat page's timeline grows the same way.
    await page.locator('a', { hasText: SEAT }).first().click();
    await page.getByTestId('seat-timeline').locator('li[data-type="usb.blocked"]').first().waitFor();
    const before = await page.getByTestId('seat-timeline').locator('li[data-type="usb.blocked"]').count();
    plug();
    await expect.poll(() => page.getByTestId('seat-timeline').locator('li[data-type="usb.blocked"]').count(), { timeout: 15_000 }).toBe(before + 1);
    expect(await page.evaluate('window.__sameDocument === true')).toBe(true);
    await screenshot(page, '04-seat');
    noErrors(record);
    await page.close();
  });

  it('renders a device named <img src=x onerror=alert(1)> as literal text and runs no script', async () => {
    plug(HOSTILE);
    const { page, record } = await browserA.newPage();
    await page.goto(run.url + '/#/devices');
    const table = page.getByTestId('devices-table');
    await expect.poll(() => table.getByText(HOSTILE, { exact: false }).count(), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await table.locator('img').count()).toBe(0);
    await screenshot(page, '05-devices');
    await table.getByText(HOSTILE, { exact: false }).first().click();
    await page.getByTestId('device-sightings').waitFor();
    expect(await page.locator('h1').textContent()).toContain(HOSTILE);
    expect(await page.locator('main img').count()).toBe(0);
    await screenshot(page, '06-device');
    await page.goto(run.url + '/#/seats');
    await page.getByTestId('seats-table').waitFor();
    await screenshot(page, '03-seats');
    noErrors(record);
    await page.close();
  });

  it('hides approve from the requester, and the API refuses a self-approval too', async () => {
    const { page, record } = await browserA.newPage();
    await page.goto(run.url + '/#/unlocks');
    await page.getByTestId('unlock-new').click();
    await expect.poll(() => page.getByTestId('new-seat').locator('option').count(), POLL).toBeGreaterThan(1);
    await page.getByTestId('new-seat').selectOption({ label: SEAT });
    await expect.poll(() => page.getByTestId('new-device').locator('option').count(), POLL).toBeGreaterThan(0);
    await page.getByTestId('new-reason').fill('导出客户录音给质检部门');
    await page.getByTestId('new-minutes').fill('30');
    await page.getByTestId('dialog-submit').click();
    const row = page.getByTestId('unlock-queue').locator('tr[data-request-id]').first();
    await row.waitFor({ timeout: 10_000 });
    expect(await row.getByTestId('own-request').count()).toBe(1);
    expect(await row.getByTestId('unlock-approve').count()).toBe(0);
    expect(await row.getByTestId('unlock-reject').count()).toBe(0);
    const id = await row.getAttribute('data-request-id');
    expect(id).toBeTruthy();

    const api = await apiLogin(run.url, users.maintA!.username, users.maintA!.password, run.fetch);
    const res = await api.post(`/api/v1/unlock-requests/${encodeURIComponent(id ?? '')}/approve`, { note: 'self' });
    expect(res.status).toBe(403);
    expect((res.json as { error: { code: string } }).error.code).toBe('UNLOCK_ERR_SELF_APPROVAL');
    noErrors(record);
    await page.close();
  });

  it('lets another maintainer approve: the grant shows active with a countdown, then expires', async () => {
    // The requester raises a short request through the API (the console's minutes field is for people).
    const requester = await apiLogin(run.url, users.maintA!.username, users.maintA!.password, run.fetch);
    const devices = await requester.get(`/api/v1/devices?agent_id=${encodeURIComponent(seat.identity.agentId)}&limit=50`);
    const stick = (devices.json as { devices: Array<{ vendor_id: string; product_id: string; serial: string | null; product: string | null }> }).devices.find((d) => d.product !== HOSTILE);
    expect(stick).toBeDefined();
    const created = await requester.post('/api/v1/unlock-requests', {
      agent_id: seat.identity.agentId,
      device: { vendor_id: stick!.vendor_id, product_id: stick!.product_id, ...(stick!.serial ? { serial: stick!.serial } : {}) },
      reason: '安装打印机驱动',
      duration_ms: GRANT_MS,
    });
    expect(created.status).toBe(201);
    const id = (created.json as { id: string }).id;

    const { page, record } = await browserB.newPage();
    await login(page, 'maintB');
    await page.goto(run.url + '/#/unlocks');
    const row = page.getByTestId('unlock-queue').locator(`tr[data-request-id="${id}"]`);
    await row.getByTestId('unlock-approve').click();
    await page.getByTestId('field-reason').fill('已核实工作需要');
    await page.getByTestId('dialog-submit').click();
    const grant = page.getByTestId('unlock-grants').locator(`tr[data-request-id="${id}"]`);
    await grant.waitFor({ timeout: 10_000 });
    const first = await grant.getByTestId('grant-countdown').textContent();
    expect(first).toMatch(/^0:0\d$/);
    // The countdown runs in the page (no reload, no refetch needed).
    await expect.poll(() => grant.getByTestId('grant-countdown').textContent(), POLL).not.toBe(first);
    expect(await page.getByTestId('unlock-history').locator(`tr[data-request-id="${id}"]`).getAttribute('data-state')).toBe('active');
    // People, not ids: the requester is shown by name to another user (the id is for machines).
    const requesterCell = await page.getByTestId('unlock-history').locator(`tr[data-request-id="${id}"]`).textContent();
    expect(requesterCell).toContain(users.maintA!.username);
    expect(requesterCell).not.toContain(users.maintA!.id);
    await screenshot(page, '07-unlocks');
    // Expiry: the server ends the grant; the page learns it live and moves the case to "ended".
    await expect.poll(() => page.getByTestId('unlock-history').locator(`tr[data-request-id="${id}"]`).getAttribute('data-state'), { timeout: GRANT_MS + 15_000 }).toBe('ended');
    expect(await page.getByTestId('unlock-grants').locator(`tr[data-request-id="${id}"]`).count()).toBe(0);
    noErrors(record);
    await page.close();
  });

  it('generates an offline response code that the seat verifies with its own secret', async () => {
    // What the seat shows its user when it cannot reach the collector.
    const device = { vendor_id: '0781', product_id: '5583', serial: 'OFFLINE0001', hash: null };
    const challenge = newChallenge(device);
    const { page, record } = await browserB.newPage();
    await page.goto(run.url + '/#/unlocks');
    await expect.poll(() => page.getByTestId('offline-seat').locator('option').count(), POLL).toBeGreaterThan(1);
    await page.getByTestId('offline-seat').selectOption({ label: SEAT });
    await page.getByTestId('offline-challenge').fill(formatChallenge(challenge));
    await page.getByTestId('offline-minutes').fill('20');
    await page.getByTestId('offline-generate').click();
    const code = page.getByTestId('offline-code');
    await code.waitFor(POLL);
    const secret = seat.identity.offlineSecret;
    expect(secret).toBeInstanceOf(Buffer);
    expect(verifyResponse(secret!, seat.identity.agentId, [challenge], (await code.textContent()) ?? '')).toEqual({ index: 0, minutes: 20 });
    noErrors(record);
    await page.close();
  });

  it('shows the alert of the blocked insertion live and resolves it with a note', async () => {
    const { page, record } = await browserA.newPage();
    await page.goto(run.url + '/');
    await page.getByTestId('logout').click();
    await login(page, 'duty');
    await page.goto(run.url + '/#/alerts');
    const rows = page.getByTestId('alerts-table').locator('tr[data-alert-id]');
    await rows.first().waitFor({ timeout: 15_000 });
    await screenshot(page, '08-alerts');
    const first = rows.first();
    const alertId = await first.getAttribute('data-alert-id');
    await first.getByTestId('alert-resolve').click();
    await page.getByTestId('dialog-submit').click();
    expect(await page.getByTestId('dialog-error').textContent()).toBe('请填写原因(至少 2 个字)。');
    await page.getByTestId('field-note').fill('已联系座席人员,确认为误插');
    await page.getByTestId('dialog-submit').click();
    await expect.poll(() => page.getByTestId('alerts-table').locator(`tr[data-alert-id="${alertId}"]`).count(), POLL).toBe(0);
    noErrors(record);
    await page.close();
  });

  it('downloads a CSV export of the seats that lists the simulated seat', async () => {
    const { page, record } = await browserA.newPage();
    await page.goto(run.url + '/');
    await page.getByTestId('logout').click();
    await login(page, 'officer');
    await page.goto(run.url + '/#/export');
    await screenshot(page, '10-export');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-seats.csv').click()]);
    const file = await download.path();
    const text = readFileSync(file, 'utf8');
    expect(text.charCodeAt(0)).toBe(0xfeff);
    expect(text).toContain('agent_id');
    expect(text).toContain(SEAT);

    await page.goto(run.url + '/#/audit');
    await page.getByTestId('audit-verify').click();
    await expect.poll(() => page.getByTestId('audit-verify-result').locator('[data-ok]').getAttribute('data-ok'), POLL).toBe('true');
    await screenshot(page, '09-audit');
    noErrors(record);
    await page.close();
  });

  it('switches to English and keeps the choice after a reload', async () => {
    const { page, record } = await browserA.newPage();
    await page.goto(run.url + '/#/overview');
    await page.getByTestId('nav-overview').waitFor();
    expect(await page.getByTestId('nav-seats').textContent()).toBe('座席');
    await page.getByTestId('lang-switch').click();
    expect(await page.getByTestId('nav-seats').textContent()).toBe('Seats');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await page.reload();
    await page.getByTestId('nav-seats').waitFor();
    expect(await page.getByTestId('nav-seats').textContent()).toBe('Seats');
    await screenshot(page, '11-overview-en');
    await page.getByTestId('lang-switch').click();
    expect(await page.getByTestId('nav-seats').textContent()).toBe('座席');
    noErrors(record);
    await page.close();
  });
});
