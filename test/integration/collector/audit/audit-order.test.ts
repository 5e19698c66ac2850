import { afterEach, describe, expect, it } from 'vitest';
import type { Running } from '../harness.js';
import { addUser, call, login, startSecured } from '../users/support.js';

// GET /api/v1/audit newest first (order=desc, before_id cursor) and oldest first (order=asc,
// after_id cursor): keyset pages that neither skip nor repeat a record while the trail grows.

const runs: Running[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup();
});

async function setup() {
  const run = await startSecured();
  runs.push(run);
  await addUser(run, 'auditor1', ['auditor']);
  const s = await login(run, 'auditor1', undefined, { client: 'cli' });
  return { run, bearer: s.answer.json.token as string };
}

function note(run: Running, n: number): void {
  for (let i = 0; i < n; i++) run.collector.audit.append({ actor: 'system', action: 'test.note', targetType: 'test', targetId: `n${i}` });
}

type Page = { records: Array<{ id: number; target_id: string }>; next_after_id: number | null; next_before_id: number | null };

describe('audit list order', () => {
  it('pages newest first with before_id, and records appended between pages neither shift nor repeat a page', async () => {
    const { run, bearer } = await setup();
    note(run, 7);
    const all = run.collector.audit.list({ action: 'test.note' }, { limit: 100 }).records.map((r) => r.id);
    expect(all).toHaveLength(7);

    const p1 = (await call(run, '/api/v1/audit?action=test.note&order=desc&limit=3', { bearer })).json as Page;
    expect(p1.records.map((r) => r.id)).toEqual(all.slice(-3).reverse());
    expect(p1.next_after_id).toBeNull();
    expect(p1.next_before_id).toBe(all.at(-3));

    note(run, 2); // newer records arrive while the officer reads page 1
    const p2 = (await call(run, `/api/v1/audit?action=test.note&order=desc&limit=3&before_id=${p1.next_before_id}`, { bearer })).json as Page;
    expect(p2.records.map((r) => r.id)).toEqual(all.slice(1, 4).reverse());
    const p3 = (await call(run, `/api/v1/audit?action=test.note&order=desc&limit=3&before_id=${p2.next_before_id}`, { bearer })).json as Page;
    expect(p3.records.map((r) => r.id)).toEqual([all[0]]);
    expect(p3.next_before_id).toBeNull();
  });

  it('keeps oldest first as the default, paging with after_id', async () => {
    const { run, bearer } = await setup();
    note(run, 5);
    const all = run.collector.audit.list({ action: 'test.note' }, { limit: 100 }).records.map((r) => r.id);
    const p1 = (await call(run, '/api/v1/audit?action=test.note&limit=2', { bearer })).json as Page;
    expect(p1.records.map((r) => r.id)).toEqual(all.slice(0, 2));
    expect(p1.next_before_id).toBeNull();
    const ids: number[] = p1.records.map((r) => r.id);
    let after = p1.next_after_id;
    while (after !== null) {
      const p = (await call(run, `/api/v1/audit?action=test.note&order=asc&limit=2&after_id=${after}`, { bearer })).json as Page;
      ids.push(...p.records.map((r) => r.id));
      after = p.next_after_id;
    }
    expect(ids).toEqual(all);
  });

  it('takes a window between after_id and before_id in either order', async () => {
    const { run, bearer } = await setup();
    note(run, 6);
    const all = run.collector.audit.list({ action: 'test.note' }, { limit: 100 }).records.map((r) => r.id);
    const q = `action=test.note&after_id=${all[0]}&before_id=${all[5]}`;
    const desc = (await call(run, `/api/v1/audit?${q}&order=desc`, { bearer })).json as Page;
    const asc = (await call(run, `/api/v1/audit?${q}&order=asc`, { bearer })).json as Page;
    expect(desc.records.map((r) => r.id)).toEqual(all.slice(1, 5).reverse());
    expect(asc.records.map((r) => r.id)).toEqual(all.slice(1, 5));
  });

  it('refuses an unknown order and a zero before_id (400)', async () => {
    const { run, bearer } = await setup();
    expect((await call(run, '/api/v1/audit?order=sideways', { bearer })).status).toBe(400);
    expect((await call(run, '/api/v1/audit?before_id=0', { bearer })).status).toBe(400);
  });
});
