import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAgentKeyPair, ENROLL_PATH } from '../../../shared/protocol/agent-auth.js';
import { buildConsoleOnce, launchConsoleBrowser, screenshot, type ConsoleBrowser, type PageRecord } from '../../helpers/browser.js';
import { startConsoleCollector, type ConsoleCollector } from './harness.js';
import { addUser, pageLogin } from './session.js';

// The software request page (软件申请) in a real Chromium against a real collector: one user files a
// request for an enrolled seat, another approves it, and the page shows it allowed. A text from the
// request that looks like markup must stay text.

const SEAT = 'CC-SW-001';
const HOSTILE_REASON = '<img src=x onerror=alert(1)> 培训需要';
const POLL = { timeout: 15_000 } as const;

let run: ConsoleCollector;
let browserA: ConsoleBrowser;
let browserB: ConsoleBrowser;
const users: Record<string, { username: string; password: string; id: string }> = {};

const login = (page: Page, who: string): Promise<void> => pageLogin(page, run.url, users, who);

function noErrors(record: PageRecord): void {
  expect(record.dialogs).toEqual([]);
  expect(record.pageErrors).toEqual([]);
}

beforeAll(async () => {
  buildConsoleOnce();
  // Plain HTTP on loopback: this is about the page, not the transport.
  run = await startConsoleCollector({ insecureDev: true, security: { scrypt: { N: 2 ** 14, r: 8, p: 1 } } });
  users.maintA = await addUser(run.collector, 'sw-maint-a', ['maintainer']);
  users.maintB = await addUser(run.collector, 'sw-maint-b', ['maintainer']);
  // An enrolled seat is all the request needs (approval state lives on the collector).
  const keys = generateAgentKeyPair();
  const res = await fetch(run.url + ENROLL_PATH, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: run.collector.createEnrollmentToken(), public_key: keys.publicKeyB64, hostname: 'sw-host', platform: 'linux', seat_name: SEAT }),
  });
  if (res.status !== 200) throw new Error(`enroll failed: ${res.status} ${await res.text()}`);
  browserA = await launchConsoleBrowser();
  browserB = await launchConsoleBrowser();
}, 90_000);

afterAll(async () => {
  await browserA?.close();
  await browserB?.close();
  await run?.stop();
});

describe('software requests page in Chromium', () => {
  it('files a request, hides approve from the requester, and shows it allowed after another maintainer approves', async () => {
    const a = await browserA.newPage();
    await login(a.page, 'maintA');
    await a.page.goto(run.url + '/#/software');
    await a.page.getByTestId('software-new').click();
    await expect.poll(() => a.page.getByTestId('software-new-seat').locator('option').count(), POLL).toBeGreaterThan(1);
    await a.page.getByTestId('software-new-seat').selectOption({ label: SEAT });
    await a.page.getByTestId('software-new-package').fill('libreoffice-calc');
    await a.page.getByTestId('software-new-versions').fill('>= 7.4');
    await a.page.getByTestId('software-new-reason').fill(HOSTILE_REASON);
    await a.page.getByTestId('dialog-submit').click();
    const own = a.page.getByTestId('software-queue').locator('tr[data-request-id]').first();
    await own.waitFor({ timeout: 10_000 });
    expect(await own.getByTestId('own-request').count()).toBe(1);
    expect(await own.getByTestId('software-approve').count()).toBe(0);
    expect(await own.getByTestId('software-target').textContent()).toBe('libreoffice-calc (>= 7.4)');
    // The reason is shown as text: no <img> element came from it.
    expect(await a.page.locator('[data-testid="software-queue"] img').count()).toBe(0);
    expect(await own.textContent()).toContain('<img src=x onerror=alert(1)>');
    const id = await own.getAttribute('data-request-id');
    expect(id).toMatch(/^swr_[0-9a-f]+$/);

    const b = await browserB.newPage();
    await login(b.page, 'maintB');
    await b.page.goto(run.url + '/#/software');
    const row = b.page.getByTestId('software-queue').locator(`tr[data-request-id="${id}"]`);
    await row.getByTestId('software-approve').click();
    await b.page.getByTestId('field-reason').fill('已核实工作需要');
    await b.page.getByTestId('dialog-submit').click();
    const allowed = b.page.getByTestId('software-active').locator(`tr[data-request-id="${id}"]`);
    await allowed.waitFor({ timeout: 10_000 });
    expect(await allowed.textContent()).toContain('长期(至撤销)');
    await expect.poll(() => b.page.getByTestId('software-history').locator(`tr[data-request-id="${id}"]`).getAttribute('data-state'), POLL).toBe('active');
    expect(await b.page.getByTestId('software-queue').locator(`tr[data-request-id="${id}"]`).count()).toBe(0);
    await screenshot(b.page, '12-software');

    // The server agrees: active, executed by the approving maintainer, not by the requester.
    const view = run.collector.workflow.software.get(id ?? '');
    expect(view).toMatchObject({ state: 'active', grant_executor: users.maintB!.id, requested_by: users.maintA!.id });
    noErrors(a.record);
    noErrors(b.record);
    await a.page.close();
    await b.page.close();
  });
});
