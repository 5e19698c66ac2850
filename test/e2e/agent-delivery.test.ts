import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deviceFixture } from '../helpers/fake-agent.js';
import { eventually } from '../helpers/eventually.js';
import { buildOnce, freePort, killAll, runCli, spawnCli, type Spawned } from '../helpers/spawn.js';
import { caFetch } from '../helpers/ca-fetch.js';
import { caFingerprintOfPem } from '../../shared/ca-fingerprint.js';

// Built CLI processes: a collector and an agent on the fake platform (driven through stdin), killed
// with SIGKILL at the worst moments. Every event must end up in the collector exactly once, in order.
// The link is HTTPS/WSS with the collector's generated CA, pinned by the agent at enrollment.

interface ApiEvent {
  seq: number;
  type: string;
  body: Record<string, unknown>;
}

const dirs: string[] = [];
afterEach(async () => {
  await killAll();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

beforeAll(() => buildOnce(), 120_000);

function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

async function startCollector(dataDir: string, port: number): Promise<Spawned> {
  const c = spawnCli(['collector', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--log-level', 'info']);
  await c.waitForLog((l) => l.msg === 'collector listening');
  return c;
}

const enrollDataDir = new Map<string, string>();
function token(dataDir: string): string {
  const r = runCli(['token', 'create', '--data', dataDir]);
  expect(r.status).toBe(0);
  const t = r.stdout.trim();
  enrollDataDir.set(t, dataDir);
  // Beside the token (on stderr): the fingerprint and a ready-to-paste agent command.
  expect(r.stderr).toContain(caFingerprintOfPem(caPemOf(dataDir)));
  expect(r.stderr).toContain(`SEATGUARD_ENROLL_TOKEN=${t} seatguard agent --collector https://`);
  return t;
}

const caPemOf = (dataDir: string) => readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8');

/** The agent CLI; with an enrollment token it also pins the collector CA (first start). */
function startAgent(url: string, stateDir: string, enrollToken?: string, extra: string[] = []): Spawned {
  const dataDir = enrollToken ? enrollDataDir.get(enrollToken) : undefined;
  return spawnCli(
    [
      'agent',
      '--collector', url,
      '--state', stateDir,
      '--platform', 'fake',
      '--fake-stdin',
      '--seat-name', 'e2e-seat-01',
      '--log-level', 'debug',
      '--backoff-base-ms', '10',
      '--backoff-cap-ms', '200',
      '--resync-interval-ms', '0',
      ...(enrollToken ? ['--enroll-token', enrollToken] : []),
      ...(dataDir ? ['--ca-fingerprint', caFingerprintOfPem(caPemOf(dataDir))] : []),
      ...extra,
    ],
    { stdin: true },
  );
}

async function apiEvents(url: string, dataDir: string): Promise<ApiEvent[]> {
  const apiToken = readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
  const headers = { authorization: `Bearer ${apiToken}` };
  const fetch = caFetch(caPemOf(dataDir));
  const seats = (await (await fetch(`${url}/api/v1/seats`, { headers })).json()) as { seats: Array<{ agent_id: string }> };
  const agentId = seats.seats[0]?.agent_id;
  if (!agentId) return [];
  const out: ApiEvent[] = [];
  let after = 0;
  for (;;) {
    const page = (await (await fetch(`${url}/api/v1/seats/${agentId}/events?after=${after}&limit=500`, { headers })).json()) as { events: ApiEvent[]; next_after: number | null };
    out.push(...page.events);
    if (page.next_after === null) return out;
    after = page.next_after;
  }
}

/** Reads the agent's outbox file directly: highest seq assigned and events still unacknowledged. */
function outboxState(stateDir: string): { lastSeq: number; depth: number } {
  const db = new Database(join(stateDir, 'outbox.db'), { readonly: true });
  try {
    const last = db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'last_seq'").get()?.value ?? 0;
    const depth = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM outbox').get()?.n ?? 0;
    return { lastSeq: last, depth };
  } finally {
    db.close();
  }
}

let portCounter = 0;
/** Plugs a device into the agent's fake platform and waits until the agent has seen it (and, optionally, unplugs it). */
async function plug(agent: Spawned, fixture: string, opts: { unplug: boolean; product?: string }): Promise<string> {
  const port = `2-${(portCounter++ % 100) + 1}`;
  const device = deviceFixture(fixture);
  if (opts.product !== undefined) device.product = opts.product;
  const attached = agent.logs.filter((l) => l.msg === 'usb device attached' && l.port === port).length;
  agent.send(JSON.stringify({ op: 'insert', port, device }));
  await eventually(() => expect(agent.logs.filter((l) => l.msg === 'usb device attached' && l.port === port).length).toBe(attached + 1), 10_000);
  if (opts.unplug) {
    const detached = agent.logs.filter((l) => l.msg === 'usb device detached' && l.port === port).length;
    agent.send(JSON.stringify({ op: 'remove', port }));
    await eventually(() => expect(agent.logs.filter((l) => l.msg === 'usb device detached' && l.port === port).length).toBe(detached + 1), 10_000);
  }
  return port;
}

const seqsOf = (list: ApiEvent[]) => list.map((e) => e.seq);
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('agent and collector as processes', () => {
  it('stores every event once and in order when the collector is SIGKILLed and restarted mid-stream', async () => {
    const data = tmp('sg-e2e-col-');
    const state = tmp('sg-e2e-agent-');
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    let collector = await startCollector(data, port);
    const agent = startAgent(url, state, token(data));
    await agent.waitForLog((l) => l.msg === 'collector session ready');
    for (let i = 0; i < 5; i++) await plug(agent, i % 2 ? 'logitech-k120' : 'sandisk-ultra-fit', { unplug: true });

    expect(await collector.kill('SIGKILL')).toBe('SIGKILL');
    // The agent keeps enforcing and queueing while the collector is gone.
    for (let i = 0; i < 5; i++) await plug(agent, 'composite-hid-storage', { unplug: true });
    expect(outboxState(state).depth).toBeGreaterThan(0);

    collector = await startCollector(data, port);
    for (let i = 0; i < 5; i++) await plug(agent, 'cmedia-headset', { unplug: true });
    await eventually(() => expect(outboxState(state).depth).toBe(0), 20_000);

    expect(await agent.kill('SIGTERM')).toBe(0);
    const { lastSeq, depth } = outboxState(state);
    expect(depth).toBe(0);
    const list = await apiEvents(url, data);
    expect(seqsOf(list)).toEqual(oneTo(lastSeq));
    expect(list[0]?.type).toBe('agent.started');
    expect(list.at(-1)?.type).toBe('agent.stopping');
    expect(list.filter((e) => e.type === 'usb.inserted')).toHaveLength(15);
    expect(list.filter((e) => e.type === 'usb.removed')).toHaveLength(15);
    await collector.kill('SIGTERM');
  });

  it('delivers events queued before the agent was SIGKILLed once it restarts and the collector is back', async () => {
    const data = tmp('sg-e2e-col-');
    const state = tmp('sg-e2e-agent-');
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    // Enroll once, then take everything down.
    let collector = await startCollector(data, port);
    let agent = startAgent(url, state, token(data));
    await agent.waitForLog((l) => l.msg === 'collector session ready');
    await eventually(() => expect(outboxState(state).depth).toBe(0));
    expect(await agent.kill('SIGTERM')).toBe(0);
    expect(await collector.kill('SIGTERM')).toBe(0);

    // The agent starts with no collector, blocks a stick, queues, and dies hard.
    agent = startAgent(url, state);
    await agent.waitForLog((l) => l.msg === 'agent started');
    await plug(agent, 'sandisk-ultra-fit', { unplug: false });
    await agent.waitForLog((l) => l.msg === 'usb device blocked');
    expect(await agent.kill('SIGKILL')).toBe('SIGKILL');
    const queued = outboxState(state);
    expect(queued.depth).toBeGreaterThanOrEqual(4);

    collector = await startCollector(data, port);
    agent = startAgent(url, state);
    await agent.waitForLog((l) => l.msg === 'collector session ready');
    await eventually(() => expect(outboxState(state).depth).toBe(0), 20_000);
    const list = await apiEvents(url, data);
    const { lastSeq } = outboxState(state);
    expect(seqsOf(list)).toEqual(oneTo(lastSeq));
    const blocked = list.filter((e) => e.type === 'usb.blocked' && e.seq <= queued.lastSeq);
    expect(blocked).toHaveLength(1);
    expect(blocked[0]?.body).toMatchObject({ blocked_interfaces: ['08:06:50'] });
    expect(list.filter((e) => e.type === 'agent.started')).toHaveLength(3);
    await agent.kill('SIGTERM');
    await collector.kill('SIGTERM');
  });

  it('stores a hostile 10 KB device string from a spawned agent sanitized and capped', async () => {
    const data = tmp('sg-e2e-col-');
    const state = tmp('sg-e2e-agent-');
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const collector = await startCollector(data, port);
    const agent = startAgent(url, state, token(data));
    await agent.waitForLog((l) => l.msg === 'collector session ready');
    const hostile = `<img src=x onerror=alert(1)>\u0000\u0007\u001b[31m\u202e${'Z'.repeat(10 * 1024)}`;
    await plug(agent, 'hostile-strings', { unplug: false, product: hostile });
    await eventually(async () => expect((await apiEvents(url, data)).some((e) => e.type === 'usb.blocked')).toBe(true), 10_000);
    const inserted = (await apiEvents(url, data)).find((e) => e.type === 'usb.inserted' && (e.body.device as { vendor_id: string }).vendor_id === 'abcd');
    const product = (inserted?.body.device as { product: string }).product;
    expect([...product]).toHaveLength(128);
    expect(product.startsWith('<img src=x onerror=alert(1)>\uFFFD\uFFFD\uFFFD[31m\uFFFD')).toBe(true);
    expect(product.endsWith('…')).toBe(true);
    await agent.kill('SIGTERM');
    await collector.kill('SIGTERM');
  });

  it('refuses an http:// collector without --insecure-dev, and a wrong CA pin before enrolling (token stays usable)', async () => {
    const data = tmp('sg-e2e-col-');
    const state = tmp('sg-e2e-agent-');
    const port = await freePort();
    const collector = await startCollector(data, port);
    const t = token(data);
    const plain = spawnCli(['agent', '--collector', `http://127.0.0.1:${port}`, '--state', state, '--platform', 'fake', '--enroll-token', t]);
    expect(await plain.exited).toBe(2);
    expect(plain.stderr.join('')).toContain('--insecure-dev');

    const wrong = spawnCli(['agent', '--collector', `https://127.0.0.1:${port}`, '--state', state, '--platform', 'fake', '--resync-interval-ms', '0', '--enroll-token', t, '--ca-fingerprint', `sha256:${'1'.repeat(64)}`]);
    expect(await wrong.exited).toBe(2);
    expect(wrong.logs.find((l) => l.level === 60)).toMatchObject({ code: 'AGENT_ERR_CA_PIN' });

    const right = startAgent(`https://127.0.0.1:${port}`, state, t);
    await right.waitForLog((l) => l.msg === 'collector session ready');
    await right.kill('SIGTERM');
    await collector.kill('SIGTERM');
  });
});
