import { PROTOCOL_VERSION } from '../../../../shared/protocol/version.js';
import type { CollectorOptions } from '../../../../collector/collector.js';
import { connectReady, enroll, msgId, SAMPLE_DEVICE, startCollector, type RawAgent, type Running, type TestAgent } from '../harness.js';

/** Cheap scrypt for test accounts (the minimum the password module accepts). */
const TEST_SCRYPT = { N: 1024, r: 8, p: 1 };

// Tests navigate answers freely (res.json.devices[0].seat_count); the assertions are the type check.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface ApiAnswer {
  status: number;
  json: Json;
  text: string;
  headers: Headers;
  bytes: Uint8Array;
}

export interface Seat {
  agent: TestAgent;
  conn: RawAgent;
  /** Sends usb.* / other event frames with the next seqs; resolves when all are acked. */
  send(...frames: Array<(seq: number) => Record<string, unknown>>): Promise<void>;
}

export interface ConsoleApi {
  run: Running;
  /** GET/POST `/api/v1${path}` (or an absolute path starting with /api/) with a bearer token (default: the bootstrap officer token). */
  api(path: string, opts?: { token?: string; method?: string; body?: unknown }): Promise<ApiAnswer>;
  /** A user with these roles (departments default all) and an API token acting as it. */
  user(username: string, roles: string[], departments?: string[] | '*', displayName?: string): Promise<{ id: string; token: string }>;
  /** Enrolls and connects a seat. */
  seat(opts?: { department?: string; seatName?: string }): Promise<Seat>;
  cleanup(): Promise<void>;
}

/** A real collector (temp dir, 127.0.0.1:0, real SQLite) plus helpers to drive it like the console does. */
export async function startConsoleApi(opts: Partial<CollectorOptions> = {}): Promise<ConsoleApi> {
  const run = await startCollector({ security: { scrypt: TEST_SCRYPT }, ...opts });
  const conns: RawAgent[] = [];
  let seatNo = 0;
  return {
    run,
    async api(path, o = {}) {
      const url = path.startsWith('/api/') ? run.url + path : `${run.url}/api/v1${path}`;
      const headers: Record<string, string> = { authorization: `Bearer ${o.token ?? run.collector.apiToken}` };
      if (o.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(url, {
        method: o.method ?? (o.body === undefined ? 'GET' : 'POST'),
        headers,
        ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
      });
      const bytes = new Uint8Array(await res.arrayBuffer());
      // fetch's text() would eat a leading BOM; decode explicitly so tests see every byte.
      const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
      let json: Json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text, headers: res.headers, bytes };
    },
    async user(username, roles, departments = '*', displayName) {
      const u = await run.collector.users.create(
        { username, password: 'correct-horse-battery', roles, departments, ...(displayName === undefined ? {} : { displayName }) },
        'test-setup',
      );
      const { token } = run.collector.users.createApiToken(u.id, `${username}-token`, 'test-setup');
      return { id: u.id, token };
    },
    async seat(o = {}) {
      seatNo++;
      const enrollToken = run.collector.createEnrollmentToken(o.department === undefined ? {} : { department: o.department });
      const agent = await enroll(run.url, enrollToken, { hostname: `seat-host-${seatNo}`, seat_name: o.seatName ?? `SEAT-${String(seatNo).padStart(2, '0')}` });
      const { conn } = await connectReady(run, agent);
      conns.push(conn);
      let seq = 0;
      return {
        agent,
        conn,
        async send(...frames) {
          const seqs = frames.map((f) => {
            const s = ++seq;
            conn.send(f(s));
            return s;
          });
          const last = seqs.at(-1);
          if (last === undefined) return;
          await conn.next((m) => m.type === 'ack' && m.body.seqs.includes(last));
        },
      };
    },
    async cleanup() {
      await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
      await run.cleanup();
    },
  };
}

export type Device = Record<string, unknown>;

/** A device like SAMPLE_DEVICE with other strings. */
export function device(over: Partial<Record<string, unknown>>): Device {
  return { ...SAMPLE_DEVICE, ...over };
}

export const blocked = (dev: Device = SAMPLE_DEVICE) => (seq: number) => ({
  v: PROTOCOL_VERSION,
  type: 'usb.blocked',
  id: msgId(),
  ts: new Date().toISOString(),
  seq,
  body: { device: dev, blocked_interfaces: ['08:06:50'], allowed_interfaces: [], reason: 'default block' },
});

export const inserted = (dev: Device = SAMPLE_DEVICE) => (seq: number) => ({
  v: PROTOCOL_VERSION,
  type: 'usb.inserted',
  id: msgId(),
  ts: new Date().toISOString(),
  seq,
  body: { device: dev, present_at_start: false },
});
