import { createPrivateKey } from 'node:crypto';
import { ManualClock } from '../../../../shared/clock.js';
import type { CollectorMessage } from '../../../../shared/protocol/messages.js';
import { ENROLL_PATH, generateAgentKeyPair } from '../../../../shared/protocol/agent-auth.js';
import { PROTOCOL_VERSION } from '../../../../shared/protocol/version.js';
import type { CollectorOptions } from '../../../../collector/collector.js';
import { connectReady, msgId, postJson, SAMPLE_DEVICE, startCollector, type RawAgent, type Running, type TestAgent } from '../harness.js';

export const MIN = 60_000;
/** scrypt at its lowest accepted cost: these tests exercise the workflow, not password hashing. */
const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };

export type Role = 'admin' | 'maintainer' | 'approver' | 'duty' | 'officer' | 'auditor';

export interface TestUser {
  id: string;
  username: string;
  token: string;
}

export interface SeatAgent extends TestAgent {
  /** The offline secret returned by the enrollment answer (base64), if any. */
  offlineSecret: string | undefined;
}

export interface UnlockWorld {
  run: Running;
  clock: ManualClock;
  /** Creates a user with one API token (bearer). */
  user(username: string, roles: Role[], departments: string[] | '*'): Promise<TestUser>;
  /** Enrolls a raw test agent into `department`. */
  seat(department: string | null): Promise<SeatAgent>;
  /** Connects, hello → welcome; closed at cleanup. */
  online(agent: TestAgent): Promise<RawAgent>;
  cleanup(): Promise<void>;
}

/** The people the workflow suites (unlock, software) act as: who may decide what, in which department. */
export interface WorkflowCast {
  alice: TestUser; // maintainer, sales
  bob: TestUser; // maintainer, all departments
  carol: TestUser; // approver, sales
  dave: TestUser; // duty, all
  mallory: TestUser; // maintainer, billing
}

export async function workflowCast(world: UnlockWorld): Promise<WorkflowCast> {
  return {
    alice: await world.user('alice', ['maintainer'], ['sales']),
    bob: await world.user('bob', ['maintainer'], '*'),
    carol: await world.user('carol', ['approver'], ['sales']),
    dave: await world.user('dave', ['duty'], '*'),
    mallory: await world.user('mallory', ['maintainer'], ['billing']),
  };
}

/** A real collector (SQLite file in a temp dir, 127.0.0.1:0) on a ManualClock; the unlock sweep runs only when a test calls it. */
export async function unlockWorld(opts: Partial<CollectorOptions> = {}): Promise<UnlockWorld> {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 9, 0, 0), 1_000);
  const run = await startCollector({
    clock,
    security: { scrypt: FAST_SCRYPT },
    unlock: { sweepIntervalMs: 3_600_000 },
    ...opts,
  });
  const sockets: RawAgent[] = [];
  return {
    run,
    clock,
    async user(username, roles, departments) {
      const u = await run.collector.users.create({ username, password: 'correct horse battery staple', roles, departments }, 'test-setup');
      return { id: u.id, username, token: run.collector.users.createApiToken(u.id, `${username} token`, 'test-setup').token };
    },
    async seat(department) {
      const token = run.collector.createEnrollmentToken(department === null ? {} : { department });
      const keys = generateAgentKeyPair();
      const res = await postJson(run.url + ENROLL_PATH, { token, public_key: keys.publicKeyB64, hostname: 'seat-host-01', platform: 'linux' });
      if (res.status !== 200) throw new Error(`enroll failed: ${res.status} ${JSON.stringify(res.json)}`);
      const body = res.json as { agent_id: string; seat_name: string; offline_secret?: string };
      return {
        agentId: body.agent_id,
        seatName: body.seat_name,
        privateKey: createPrivateKey(keys.privateKeyPem),
        publicKeyB64: keys.publicKeyB64,
        offlineSecret: body.offline_secret,
      };
    },
    async online(agent) {
      const { conn } = await connectReady(run, agent);
      sockets.push(conn);
      return conn;
    },
    async cleanup() {
      await Promise.all(sockets.map((s) => s.close()));
      await run.cleanup();
    },
  };
}

// Tests navigate answers freely (res.json.error.code); the assertions are the type check.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Answer = { status: number; json: any };

/** One API call with a bearer token; JSON in, JSON out. */
export async function api(run: Running, token: string, path: string, body?: unknown, method?: string): Promise<Answer> {
  const res = await fetch(`${run.url}/api/v1${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
}

/** An agent event frame (seq chosen by the test). */
export function eventFrame(type: string, seq: number, body: Record<string, unknown>, ts = new Date().toISOString()) {
  return { v: PROTOCOL_VERSION, type, id: msgId(), ts, seq, body };
}

export function requestedFrame(seq: number, over: Record<string, unknown> = {}) {
  return eventFrame('unlock.requested', seq, {
    request_ref: `rq_${seq}`,
    device: SAMPLE_DEVICE,
    reason: 'copy the monthly call report',
    duration_ms: 30 * MIN,
    os_user: 'zhangsan',
    ...over,
  });
}

/** The device as an API request names it. */
export const API_DEVICE = {
  vendor_id: SAMPLE_DEVICE.vendor_id,
  product_id: SAMPLE_DEVICE.product_id,
  serial: SAMPLE_DEVICE.serial,
  hash: SAMPLE_DEVICE.hash,
  port: SAMPLE_DEVICE.port,
};

/** Sends an event and waits until it is acknowledged (committed, and the workflow listener ran). */
export async function sendEvent(conn: RawAgent, frame: { seq: number }): Promise<void> {
  const from = conn.received.length;
  conn.send(frame);
  await conn.next((m) => m.type === 'ack' && m.body.seqs.includes(frame.seq), 5_000, from);
}

export const isType =
  <T extends CollectorMessage['type']>(type: T) =>
  (m: CollectorMessage): m is Extract<CollectorMessage, { type: T }> =>
    m.type === type;
