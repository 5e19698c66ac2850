import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Command } from 'commander';
import { CERT_UNTRUSTED_CODES, httpRequestText } from '../../agent/transport/http-json.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { readLine, type TextSink } from './user.js';

/**
 * What the admin CLIs over the collector API (`seatguard unlock`, `software`, `maintenance-code`)
 * share: the password source, trust in the collector's certificate, one bearer session per command
 * (login as client 'cli', the call, logout), exit codes and sanitized printing.
 */

export interface AdminCliIo {
  out: TextSink;
  err: TextSink;
  /** Password source when SEATGUARD_PASSWORD is not set (one line). */
  stdin?: NodeJS.ReadableStream;
  env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes: 0 done, 1 refused by the collector (the error code is printed), 2 usage, login, TLS or network error. */
export const ADMIN_EXIT = { ok: 0, refused: 1, usage: 2 } as const;

export interface ConnectOptions {
  url: string;
  user: string;
  json?: boolean;
  /**
   * PEM file of the CA to trust for an https URL, e.g. the collector's DATA/tls/ca.pem. It is then
   * the only trust anchor; without it the system's root certificates (and NODE_EXTRA_CA_CERTS) are used.
   */
  ca?: string;
}

export interface Answer {
  status: number;
  body: unknown;
}

/** One API call inside the session: GET without a body, POST with one. */
export type ApiCall = (path: string, body?: unknown) => Promise<Answer>;

/** An answer larger than this is refused (the biggest list page is 500 cases). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
const TIMEOUT_MS = 30_000;

// Everything printed comes from the API and ultimately from seats and browsers: no terminal escapes.
/** A value from the API as one line of safe text ('-' for null/undefined), at most `max` characters. */
export const clean = (v: unknown, max = 128): string => (v === null || v === undefined ? '-' : sanitizeText(String(v), max));

/** `o.a.b…` when every step is an object, else undefined. */
export function field(o: unknown, ...path: string[]): unknown {
  let cur: unknown = o;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

// JSON.stringify escapes C0 controls but leaves C1 (0x9b is CSI on some terminals), bidi overrides
// and line separators as they are: escape those too, the output stays the same JSON.
const JSON_UNSAFE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]/g;

/** The API answer as indented JSON that cannot carry terminal control sequences. */
export function safeJson(body: unknown): string {
  return JSON.stringify(body, null, 2).replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Prints the collector's `{ error: { code, message } }`; returns the "refused" exit code. */
export function refusal(io: AdminCliIo, a: Answer): number {
  io.err.write(`${clean(field(a.body, 'error', 'code'), 64)}: ${clean(field(a.body, 'error', 'message'), 300)} (HTTP ${a.status})\n`);
  return ADMIN_EXIT.refused;
}

async function readPassword(io: AdminCliIo): Promise<string | null> {
  const fromEnv = io.env.SEATGUARD_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!io.stdin) return null;
  if ((io.stdin as { isTTY?: boolean }).isTTY) io.err.write('Password: ');
  const line = await readLine(io.stdin);
  return line === '' ? null : line;
}

function caller(base: URL, ca: string | null): (path: string, init: { token?: string; body?: unknown }) => Promise<Answer> {
  return async (path, init) => {
    const res = await httpRequestText(new URL(path, base).href, {
      method: init.body === undefined ? 'GET' : 'POST',
      ...(init.body === undefined ? {} : { body: init.body }),
      ...(init.token === undefined ? {} : { headers: { authorization: `Bearer ${init.token}` } }),
      // SECURITY: always a verifying request; the system roots stand in when no --ca is given.
      ca: ca ?? rootCertificates.join('\n'),
      maxBytes: MAX_ANSWER_BYTES,
      timeoutMs: TIMEOUT_MS,
    });
    let body: unknown = null;
    try {
      body = res.text ? (JSON.parse(res.text) as unknown) : null;
    } catch {
      body = { error: { code: 'API_ERR_INTERNAL', message: 'the collector answered something that is not JSON' } };
    }
    return { status: res.status, body };
  };
}

/**
 * The PEM trust anchors for `base`: the --ca file alone; else the system roots plus
 * NODE_EXTRA_CA_CERTS (as Node's own https would use); null = the system roots. A number is the
 * exit code after a usage error was printed.
 */
function trustFor(name: string, opts: ConnectOptions, base: URL, io: AdminCliIo): string | null | number {
  if (opts.ca === undefined) {
    const extra = io.env.NODE_EXTRA_CA_CERTS;
    if (extra === undefined || extra === '' || base.protocol !== 'https:') return null;
    try {
      return [...rootCertificates, readFileSync(extra, 'utf8')].join('\n');
    } catch {
      return null;
    }
  }
  if (base.protocol !== 'https:') {
    io.err.write(`${name}: --ca applies to https URLs only\n`);
    return ADMIN_EXIT.usage;
  }
  let pem: string;
  try {
    pem = readFileSync(opts.ca, 'utf8');
  } catch (err) {
    io.err.write(`${name}: cannot read --ca ${opts.ca}: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
    return ADMIN_EXIT.usage;
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    io.err.write(`${name}: --ca ${opts.ca} holds no PEM certificate\n`);
    return ADMIN_EXIT.usage;
  }
  return pem;
}

/**
 * Logs in as `opts.user`, runs `fn` with the bearer session and logs out again (also when `fn`
 * throws). `name` prefixes the messages ("seatguard software"). Returns the exit code.
 */
export async function withSession(name: string, opts: ConnectOptions, io: AdminCliIo, fn: (call: ApiCall) => Promise<number>): Promise<number> {
  let base: URL;
  try {
    base = new URL(opts.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    io.err.write(`${name}: --url must be an http(s) URL, e.g. https://127.0.0.1:8443\n`);
    return ADMIN_EXIT.usage;
  }
  const ca = trustFor(name, opts, base, io);
  if (typeof ca === 'number') return ca;
  let pw: string | null;
  try {
    pw = await readPassword(io);
  } catch (err) {
    io.err.write(`${name}: could not read the password: ${err instanceof Error ? err.message : String(err)}\n`);
    return ADMIN_EXIT.usage;
  }
  if (pw === null) {
    io.err.write(`${name}: set SEATGUARD_PASSWORD or give the password on stdin\n`);
    return ADMIN_EXIT.usage;
  }
  const send = caller(base, ca);
  try {
    const login = await send('/api/v1/auth/login', { body: { username: opts.user, password: pw, client: 'cli' } });
    const token = field(login.body, 'token');
    if (login.status !== 200 || typeof token !== 'string') {
      refusal(io, login);
      return ADMIN_EXIT.usage;
    }
    try {
      return await fn((path, body) => send(path, { token, ...(body === undefined ? {} : { body }) }));
    } finally {
      // Best effort: the session also expires on its own.
      await send('/api/v1/auth/logout', { token, body: {} }).catch(() => undefined);
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const hint = typeof code === 'string' && CERT_UNTRUSTED_CODES.has(code) ? ' (trust the collector CA with --ca DATA/tls/ca.pem)' : '';
    io.err.write(`${name}: cannot reach ${base.origin}: ${clean(err instanceof Error ? err.message : String(err), 300)}${hint}\n`);
    return ADMIN_EXIT.usage;
  }
}

/** Makes one call and prints the refusal (exit 1), or the JSON (--json) or `print`'s lines (exit 0). */
export async function callAndPrint(call: ApiCall, io: AdminCliIo, json: boolean | undefined, path: string, body: unknown, print: (body: unknown) => void): Promise<number> {
  const a = await call(path, body);
  if (a.status < 200 || a.status >= 300) return refusal(io, a);
  if (json === true) io.out.write(`${safeJson(a.body)}\n`);
  else print(a.body);
  return ADMIN_EXIT.ok;
}

/** The options every admin CLI subcommand takes: --url, --user, --ca, --json. */
export function connectOptions(c: Command): Command {
  return c
    .requiredOption('--url <url>', 'collector base URL, e.g. https://127.0.0.1:8443')
    .requiredOption('--user <name>', 'user name (password from SEATGUARD_PASSWORD or stdin)')
    .option('--ca <file>', "PEM CA to trust for https (the collector's DATA/tls/ca.pem); default: the system roots")
    .option('--json', 'print the API answer as JSON');
}

/** ConnectOptions from parsed commander options (undefined options left out). */
export function connectOf(o: { url: string; user: string; json?: boolean; ca?: string }): ConnectOptions {
  return { url: o.url, user: o.user, ...(o.json === undefined ? {} : { json: o.json }), ...(o.ca === undefined ? {} : { ca: o.ca }) };
}

/** The process's streams and environment (only the command actions touch process.*). */
export const processIo = (): AdminCliIo => ({ out: process.stdout, err: process.stderr, stdin: process.stdin, env: process.env });

/** `base` with the defined list filters as a query string (agent → agent_id, as the API names it). */
export function listPath(base: string, f: { state?: string | undefined; agent?: string | undefined; limit?: number | undefined; offset?: number | undefined }): string {
  const q = new URLSearchParams();
  if (f.state !== undefined) q.set('state', f.state);
  if (f.agent !== undefined) q.set('agent_id', f.agent);
  if (f.limit !== undefined) q.set('limit', String(f.limit));
  if (f.offset !== undefined) q.set('offset', String(f.offset));
  const qs = q.toString();
  return `${base}${qs ? `?${qs}` : ''}`;
}
