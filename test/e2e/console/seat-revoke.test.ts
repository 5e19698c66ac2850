import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_WS_PATH, PROTOCOL_VERSION } from '../../../shared/protocol/version.js';
import { buildConsoleOnce, launchConsoleBrowser, screenshot, type ConsoleBrowser, type PageRecord } from '../../helpers/browser.js';
import { eventually } from '../../helpers/eventually.js';
import { connect, enroll, msgId, type RawAgent, type Running, type TestAgent } from '../../integration/collector/harness.js';
import { startConsoleCollector, type ConsoleCollector } from './harness.js';
import { addUser, pageLogin } from './session.js';

// The seat page (座席) in a real Chromium against a real collector: an admin revokes a connected
// seat through the confirmation dialog; a maintainer gets no revoke button; the seat whose agent
// reports a different code hash than the rest of its version is flagged on the list and the page.
// The seat's own hostname looks like markup and must stay text.

const HOSTILE_HOST = '<img src=x onerror=alert(1)>主机';
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const POLL = { timeout: 15_000 } as const;

let run: ConsoleCollector;
let browser: ConsoleBrowser;
// One profile per user: the session cookie lives in the profile.
let adminBrowser: ConsoleBrowser;
let target: TestAgent;
let others: TestAgent[];
let live: RawAgent;
const users: Record<string, { username: string; password: string; id: string }> = {};

const login = (page: Page, who: string): Promise<void> => pageLogin(page, run.url, users, who);

function noErrors(record: PageRecord): void {
  expect(record.dialogs).toEqual([]);
  expect(record.pageErrors).toEqual([]);
}

/** The integration harness's view of this collector, for its agent helpers. */
function asRunning(c: ConsoleCollector): Running {
  return { collector: c.collector, url: c.url, wsUrl: c.url.replace(/^http/, 'ws') + AGENT_WS_PATH, dataDir: c.dataDir, caPem: null, caFingerprint: null, fetch: c.fetch, cleanup: () => c.stop() };
}

const frame = (type: string, body: Record<string, unknown>, seq?: number) => ({ v: PROTOCOL_VERSION, type, id: msgId(), ts: new Date().toISOString(), ...(seq === undefined ? {} : { seq }), body });

/** Connects `agent` with its own hello (hostname chosen by the test) and reports one agent.started with `sha`. */
async function online(agent: TestAgent, hostname: string, sha: string): Promise<RawAgent> {
  const conn = await connect(asRunning(run), agent);
  conn.send(frame('hello', { agent_id: agent.agentId, agent_version: '1.0.0', platform: 'linux', hostname, last_seq: 0 }));
  await conn.next((m) => m.type === 'welcome');
  conn.send(frame('agent.started', { agent_version: '1.0.0', platform: 'linux', lock_state: 'locked', detail: '', code_sha256: sha }, 1));
  await eventually(() => expect(conn.ackedSeqs()).toContain(1));
  return conn;
}

beforeAll(async () => {
  buildConsoleOnce();
  // Plain HTTP on loopback: this is about the page, not the transport.
  run = await startConsoleCollector({ insecureDev: true, security: { scrypt: { N: 2 ** 14, r: 8, p: 1 } } });
  users.admin = await addUser(run.collector, 'rv-admin', ['admin']);
  users.maint = await addUser(run.collector, 'rv-maint', ['maintainer']);
  const r = asRunning(run);
  target = await enroll(r.url, run.collector.createEnrollmentToken(), { seat_name: 'CC-RV-001' });
  others = [await enroll(r.url, run.collector.createEnrollmentToken(), { seat_name: 'CC-RV-002' }), await enroll(r.url, run.collector.createEnrollmentToken(), { seat_name: 'CC-RV-003' })];
  for (const o of others) await (await online(o, 'rv-host', A)).close();
  live = await online(target, HOSTILE_HOST, B);
  browser = await launchConsoleBrowser();
  adminBrowser = await launchConsoleBrowser();
}, 90_000);

afterAll(async () => {
  await live?.close();
  await browser?.close();
  await adminBrowser?.close();
  await run?.stop();
});

describe('seat page in Chromium: revoke and code drift', () => {
  it('flags the drifting seat on the seat list and shows no revoke button to a maintainer', async () => {
    const { page, record } = await browser.newPage();
    await login(page, 'maint');
    await page.goto(run.url + '/#/seats');
    const row = page.getByTestId('seats-table').locator(`tr[data-agent-id="${target.agentId}"]`);
    await expect.poll(() => row.getByTestId('seat-code').textContent(), POLL).toBe('与同版本多数座席不一致');
    for (const o of others) expect(await page.locator(`tr[data-agent-id="${o.agentId}"]`).getByTestId('seat-code').textContent()).toBe('与同版本一致');
    // The hostname is shown as text: no <img> element came from it.
    expect(await row.textContent()).toContain('<img src=x onerror=alert(1)>');
    expect(await page.locator('[data-testid="seats-table"] img').count()).toBe(0);

    await page.goto(`${run.url}/#/seats/${target.agentId}`);
    await page.getByTestId('maint-open').waitFor(POLL);
    expect(await page.getByTestId('revoke-open').count()).toBe(0);
    expect(await page.getByTestId('seat-code').textContent()).toContain(`${B.slice(0, 12)}…`);
    noErrors(record);
    await page.close();
  });

  it('lets an admin revoke only after ticking the confirmation; the agent is disconnected and the button goes away', async () => {
    const { page, record } = await adminBrowser.newPage();
    await login(page, 'admin');
    await page.goto(`${run.url}/#/seats/${target.agentId}`);
    await page.getByTestId('revoke-open').click();
    expect(await page.getByTestId('revoke-explain').textContent()).toContain('无法再连接');
    await page.getByTestId('dialog-submit').click();
    expect(await page.getByTestId('dialog-error').textContent()).toBe('请先勾选确认。');
    expect(run.collector.store.agents.get(target.agentId)?.revoked_at).toBeNull();

    await page.getByTestId('revoke-confirm').check();
    await page.getByTestId('dialog-submit').click();
    await page.getByTestId('revoke-result').waitFor(POLL);
    expect(await page.getByTestId('revoke-result').textContent()).toContain('断开了 1 个连接');
    await expect.poll(() => page.getByTestId('revoke-open').count(), POLL).toBe(0);
    expect(await page.locator('.page-head').count()).toBe(1);
    expect(await page.getByText('已吊销').count()).toBeGreaterThan(0);
    // Admins may not read seat timelines: the page says so instead of failing.
    expect(await page.getByTestId('seat-timeline').textContent()).toBe('您的角色无权查看座席的事件时间线。');
    await screenshot(page, '13-seat-revoked');

    expect(run.collector.store.agents.get(target.agentId)?.revoked_at).not.toBeNull();
    expect((await live.closed).code).toBe(4403);
    const audit = run.collector.audit.list({ action: 'agent.revoke' }).records;
    expect(audit.map((a) => [a.actor, a.target_id])).toEqual([[users.admin!.id, target.agentId]]);
    noErrors(record);
    await page.close();
  });
});
