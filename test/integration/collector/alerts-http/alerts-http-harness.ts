import { PROTOCOL_VERSION } from '../../../../shared/protocol/version.js';
import type { CollectorOptions } from '../../../../collector/collector.js';
import { eventually } from '../../../helpers/eventually.js';
import { connectReady, enroll, msgId, SAMPLE_DEVICE, startCollector, type RawAgent, type Running, type TestAgent } from '../harness.js';

/** Cheap scrypt for test accounts (the minimum the password module accepts). */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 };

export interface ApiUser {
  id: string;
  username: string;
  token: string;
}

// Tests navigate answers freely (res.json.alerts[0].count); the assertions are the type check.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface AlertsHttp {
  run: Running;
  /** Calls /api/v1`path` with `token` (default: the bootstrap token, role officer). */
  api(method: string, path: string, opts?: { token?: string; body?: unknown }): Promise<{ status: number; json: Json; text: string; headers: Headers }>;
  /** A user with these roles (and departments, default all) and an API token acting as it. */
  user(username: string, roles: string[], departments?: string[] | '*'): Promise<ApiUser>;
  /** Enrolls a seat (optionally in a department), connects it and waits for welcome. */
  seat(opts?: { department?: string; seatName?: string }): Promise<{ agent: TestAgent; conn: RawAgent; nextSeq: () => number }>;
  cleanup(): Promise<void>;
}

/** A real collector (temp dir, 127.0.0.1:0) with test-speed timers and the given alert options. */
export async function startAlertsHttp(opts: Partial<CollectorOptions> = {}): Promise<AlertsHttp> {
  const run = await startCollector({ security: { scrypt: TEST_SCRYPT }, ...opts });
  const conns: RawAgent[] = [];
  let seatNo = 0;
  return {
    run,
    async api(method, path, o = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${o.token ?? run.collector.apiToken}` };
      if (o.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${run.url}/api/v1${path}`, { method, headers, ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }) });
      const text = await res.text();
      let json: Json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text, headers: res.headers };
    },
    async user(username, roles, departments = '*') {
      const u = await run.collector.users.create({ username, password: 'correct-horse-battery', roles, departments }, 'usr_service');
      const { token } = run.collector.users.createApiToken(u.id, `${username}-token`, 'usr_service');
      return { id: u.id, username, token };
    },
    async seat(o = {}) {
      seatNo++;
      const enrollToken = run.collector.createEnrollmentToken(o.department === undefined ? {} : { department: o.department });
      const agent = await enroll(run.url, enrollToken, { hostname: `seat-host-${seatNo}`, seat_name: o.seatName ?? `SEAT-${seatNo}` });
      const { conn } = await connectReady(run, agent);
      conns.push(conn);
      let seq = 0;
      return { agent, conn, nextSeq: () => ++seq };
    },
    async cleanup() {
      await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
      await run.cleanup();
    },
  };
}

/** A `usb.blocked` event frame (mass storage by default: a `high` alert). */
export function blockedFrame(seq: number, device: Record<string, unknown> = SAMPLE_DEVICE) {
  return {
    v: PROTOCOL_VERSION,
    type: 'usb.blocked',
    id: msgId(),
    ts: new Date().toISOString(),
    seq,
    body: { device, blocked_interfaces: ['08:06:50'], allowed_interfaces: [], reason: 'default block' },
  };
}

/** Sends a usb.blocked event and waits until the collector acked it (it is committed then). */
export async function sendBlocked(s: { conn: RawAgent; nextSeq: () => number }, device?: Record<string, unknown>): Promise<number> {
  const seq = s.nextSeq();
  s.conn.send(blockedFrame(seq, device));
  await eventually(() => s.conn.ackedSeqs().includes(seq), 5_000);
  return seq;
}
