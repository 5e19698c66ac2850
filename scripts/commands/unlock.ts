import type { Command } from 'commander';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { readLine, type TextSink } from './user.js';

/**
 * `seatguard unlock list|show|approve|reject|revoke|execute --url URL --user U`: the unlock
 * workflow from a terminal, through the collector's HTTP API. The password comes from
 * SEATGUARD_PASSWORD or the first line of stdin; the CLI logs in (client 'cli'), uses the bearer
 * session for its one call and logs out again.
 */

export interface UnlockCliIo {
  out: TextSink;
  err: TextSink;
  /** Password source when SEATGUARD_PASSWORD is not set (one line). */
  stdin?: NodeJS.ReadableStream;
  env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes: 0 done, 1 refused by the collector (the error code is printed), 2 usage, login or network error. */
export const UNLOCK_EXIT = { ok: 0, refused: 1, usage: 2 } as const;

export interface ConnectOptions {
  url: string;
  user: string;
  json?: boolean;
}

export type UnlockCliCall =
  | { action: 'list'; state?: string; agent?: string; limit?: number }
  | { action: 'show'; id: string }
  | { action: 'approve'; id: string; note?: string; allowReinsert?: boolean; anyPort?: boolean }
  | { action: 'execute'; id: string; allowReinsert?: boolean; anyPort?: boolean }
  | { action: 'reject' | 'revoke'; id: string; reason: string };

interface Answer {
  status: number;
  body: unknown;
}

// Everything printed comes from the API and ultimately from seats and browsers: no terminal escapes.
const clean = (v: unknown, max = 128): string => (v === null || v === undefined ? '-' : sanitizeText(String(v), max));

function field(o: unknown, ...path: string[]): unknown {
  let cur: unknown = o;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

async function request(base: string, path: string, init: { method?: string; token?: string; body?: unknown }): Promise<Answer> {
  const res = await fetch(new URL(path, base), {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    redirect: 'error',
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? (JSON.parse(text) as unknown) : null;
  } catch {
    body = { error: { code: 'API_ERR_INTERNAL', message: 'the collector answered something that is not JSON' } };
  }
  return { status: res.status, body };
}

function refusal(io: UnlockCliIo, a: Answer): number {
  io.err.write(`${clean(field(a.body, 'error', 'code'), 64)}: ${clean(field(a.body, 'error', 'message'), 300)} (HTTP ${a.status})\n`);
  return UNLOCK_EXIT.refused;
}

function caseLine(r: unknown): string {
  const dev = `${clean(field(r, 'device', 'vendor_id'))}:${clean(field(r, 'device', 'product_id'))} ${clean(field(r, 'device', 'serial'))}`;
  const until = field(r, 'grant', 'expires_at');
  return [
    clean(field(r, 'id'), 64),
    clean(field(r, 'state'), 16),
    clean(field(r, 'agent_id'), 64),
    dev,
    clean(field(r, 'requested_at'), 32),
    until === undefined || until === null ? '-' : `until ${clean(until, 32)}`,
    clean(field(r, 'reason'), 80),
  ].join('\t');
}

function printCase(io: UnlockCliIo, r: unknown): void {
  io.out.write(`${caseLine(r)}\n`);
}

function printShow(io: UnlockCliIo, body: unknown): void {
  const r = field(body, 'request');
  io.out.write(`${caseLine(r)}\n`);
  io.out.write(`requested by ${clean(field(r, 'requested_by'))}; approvals ${clean(field(r, 'approvals', 'length'))}/${clean(field(r, 'approvals_required'))}\n`);
  const grant = field(r, 'grant');
  if (grant) {
    io.out.write(
      `grant ${clean(field(grant, 'id'))} executor ${clean(field(grant, 'executor'))} ${clean(field(grant, 'starts_at'))} → ${clean(field(grant, 'expires_at'))}` +
        ` applied ${clean(field(grant, 'applied_at'))} relocked ${clean(field(grant, 'relocked_at'))}\n`,
    );
  }
  const trail = field(body, 'trail');
  for (const t of Array.isArray(trail) ? trail : []) {
    io.out.write(`  ${clean(field(t, 'ts'), 32)}\t${clean(field(t, 'action'), 64)}\t${clean(field(t, 'actor'), 128)}\n`);
  }
}

async function password(io: UnlockCliIo): Promise<string | null> {
  const fromEnv = io.env.SEATGUARD_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!io.stdin) return null;
  if ((io.stdin as { isTTY?: boolean }).isTTY) io.err.write('Password: ');
  const line = await readLine(io.stdin);
  return line === '' ? null : line;
}

function pathOf(call: UnlockCliCall): { path: string; body?: unknown } {
  const id = 'id' in call ? encodeURIComponent(call.id) : '';
  switch (call.action) {
    case 'list': {
      const q = new URLSearchParams();
      if (call.state !== undefined) q.set('state', call.state);
      if (call.agent !== undefined) q.set('agent_id', call.agent);
      if (call.limit !== undefined) q.set('limit', String(call.limit));
      const qs = q.toString();
      return { path: `/api/v1/unlock-requests${qs ? `?${qs}` : ''}` };
    }
    case 'show':
      return { path: `/api/v1/unlock-requests/${id}` };
    case 'approve':
      return {
        path: `/api/v1/unlock-requests/${id}/approve`,
        body: {
          note: call.note ?? '',
          ...(call.allowReinsert === undefined ? {} : { allow_reinsert: call.allowReinsert }),
          ...(call.anyPort === undefined ? {} : { any_port: call.anyPort }),
        },
      };
    case 'execute':
      return {
        path: `/api/v1/unlock-requests/${id}/execute`,
        body: {
          ...(call.allowReinsert === undefined ? {} : { allow_reinsert: call.allowReinsert }),
          ...(call.anyPort === undefined ? {} : { any_port: call.anyPort }),
        },
      };
    case 'reject':
    case 'revoke':
      return { path: `/api/v1/unlock-requests/${id}/${call.action}`, body: { reason: call.reason } };
  }
}

/** Runs one unlock CLI call against the collector at `opts.url`; returns the exit code. */
export async function runUnlockCli(opts: ConnectOptions, call: UnlockCliCall, io: UnlockCliIo): Promise<number> {
  let base: URL;
  try {
    base = new URL(opts.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    io.err.write(`seatguard unlock: --url must be an http(s) URL, e.g. http://127.0.0.1:8443\n`);
    return UNLOCK_EXIT.usage;
  }
  let pw: string | null;
  try {
    pw = await password(io);
  } catch (err) {
    io.err.write(`seatguard unlock: could not read the password: ${err instanceof Error ? err.message : String(err)}\n`);
    return UNLOCK_EXIT.usage;
  }
  if (pw === null) {
    io.err.write('seatguard unlock: set SEATGUARD_PASSWORD or give the password on stdin\n');
    return UNLOCK_EXIT.usage;
  }
  try {
    const login = await request(base.href, '/api/v1/auth/login', { body: { username: opts.user, password: pw, client: 'cli' } });
    const token = field(login.body, 'token');
    if (login.status !== 200 || typeof token !== 'string') {
      refusal(io, login);
      return UNLOCK_EXIT.usage;
    }
    try {
      const { path, body } = pathOf(call);
      const a = await request(base.href, path, { token, ...(body === undefined ? {} : { body }) });
      if (a.status < 200 || a.status >= 300) return refusal(io, a);
      if (opts.json === true) io.out.write(`${JSON.stringify(a.body, null, 2)}\n`);
      else if (call.action === 'list') {
        const rows = field(a.body, 'requests');
        for (const r of Array.isArray(rows) ? rows : []) printCase(io, r);
        io.out.write(`${clean(field(a.body, 'total'))} request(s)\n`);
      } else if (call.action === 'show') printShow(io, a.body);
      else printCase(io, a.body);
      return UNLOCK_EXIT.ok;
    } finally {
      // Best effort: the session also expires on its own.
      await request(base.href, '/api/v1/auth/logout', { token, body: {} }).catch(() => undefined);
    }
  } catch (err) {
    io.err.write(`seatguard unlock: cannot reach ${base.origin}: ${err instanceof Error ? err.message : String(err)}\n`);
    return UNLOCK_EXIT.usage;
  }
}

/** Registers `seatguard unlock list|show|approve|reject|revoke|execute`. */
export function registerUnlockCommand(program: Command): Command {
  const io = (): UnlockCliIo => ({ out: process.stdout, err: process.stderr, stdin: process.stdin, env: process.env });
  const unlock = program.command('unlock').description('USB unlock requests: list, show, approve, reject, execute, revoke (via the collector API)');
  const common = (c: Command) =>
    c
      .requiredOption('--url <url>', 'collector base URL, e.g. http://127.0.0.1:8443')
      .requiredOption('--user <name>', 'user name (password from SEATGUARD_PASSWORD or stdin)')
      .option('--json', 'print the API answer as JSON');
  const run = async (o: ConnectOptions, call: UnlockCliCall) => {
    process.exitCode = await runUnlockCli({ url: o.url, user: o.user, ...(o.json === undefined ? {} : { json: o.json }) }, call, io());
  };
  common(unlock.command('list').description('list requests (newest first)'))
    .option('--state <state>', 'pending|approved|active|rejected|cancelled|lapsed|ended')
    .option('--agent <agent_id>', 'only this seat')
    .option('--limit <n>', 'at most n (1-500)', (v) => Number.parseInt(v, 10))
    .action(async (o: ConnectOptions & { state?: string; agent?: string; limit?: number }) => {
      await run(o, {
        action: 'list',
        ...(o.state === undefined ? {} : { state: o.state }),
        ...(o.agent === undefined ? {} : { agent: o.agent }),
        ...(o.limit === undefined ? {} : { limit: o.limit }),
      });
    });
  common(unlock.command('show').argument('<id>', 'request id').description('one request with its audit trail')).action(
    async (id: string, o: ConnectOptions) => run(o, { action: 'show', id }),
  );
  common(unlock.command('approve').argument('<id>', 'request id').description('approve (a maintainer approval starts the grant at once)'))
    .option('--note <text>', 'approval note')
    .option('--allow-reinsert', 'keep the grant after the device is removed, until expiry')
    .option('--any-port', 'match the device on any port')
    .action(async (id: string, o: ConnectOptions & { note?: string; allowReinsert?: boolean; anyPort?: boolean }) =>
      run(o, {
        action: 'approve',
        id,
        ...(o.note === undefined ? {} : { note: o.note }),
        ...(o.allowReinsert === undefined ? {} : { allowReinsert: o.allowReinsert }),
        ...(o.anyPort === undefined ? {} : { anyPort: o.anyPort }),
      }),
    );
  common(unlock.command('execute').argument('<id>', 'request id').description('execute an approved request (maintainer): the grant starts now'))
    .option('--allow-reinsert', 'keep the grant after the device is removed, until expiry')
    .option('--any-port', 'match the device on any port')
    .action(async (id: string, o: ConnectOptions & { allowReinsert?: boolean; anyPort?: boolean }) =>
      run(o, {
        action: 'execute',
        id,
        ...(o.allowReinsert === undefined ? {} : { allowReinsert: o.allowReinsert }),
        ...(o.anyPort === undefined ? {} : { anyPort: o.anyPort }),
      }),
    );
  for (const action of ['reject', 'revoke'] as const) {
    common(unlock.command(action).argument('<id>', 'request id').description(action === 'reject' ? 'reject a request' : 'end an active grant now'))
      .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
      .action(async (id: string, o: ConnectOptions & { reason: string }) => run(o, { action, id, reason: o.reason }));
  }
  return unlock;
}
