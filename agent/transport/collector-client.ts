import type { KeyObject } from 'node:crypto';
import type { Static } from 'typebox';
import WebSocket from 'ws';
import type { Clock } from '../../shared/clock.js';
import { systemClock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import { AGENT_CHALLENGE_PATH, AUTH_HEADERS, signChallenge } from '../../shared/protocol/agent-auth.js';
import { decodeCollectorMessage } from '../../shared/protocol/agent-decode.js';
import { agentControlMessage } from '../../shared/protocol/encode.js';
import type { CollectorMessage, LockState } from '../../shared/protocol/messages.js';
import { AGENT_WS_PATH, CLOSE_CODES, MAX_FRAME_BYTES } from '../../shared/protocol/version.js';
import { generatedCheck } from '../generated-checks.js';
import type { Outbox } from '../store/outbox.js';
import { backoffDelay } from './backoff.js';
import type { Challenge } from './challenge-schema.js';
import { presentedCaFingerprint } from './ca-pin.js';
import { CERT_UNTRUSTED_CODES, httpRequestJson, HttpRequestError } from './http-json.js';

/**
 * The agent's link to the collector: challenge → signed WebSocket upgrade → hello/welcome → stream
 * the outbox in seq order with a bounded in-flight window, delete on ack, heartbeat, reconnect with
 * full-jitter backoff. Network failures are expected and never thrown; the outbox keeps every
 * event until the collector has committed it (at-least-once; the collector dedupes on seq).
 */
export interface CollectorClientOptions {
  /** http(s)://host:port of the collector. */
  collectorUrl: string;
  /**
   * The pinned collector CA (PEM): the only trust anchor for https/wss, host name checked. Required
   * for an https URL; ignored for http (insecure-dev).
   */
  ca?: { pem: string; fingerprint: string } | null;
  identity: { agentId: string; privateKey: KeyObject };
  outbox: Outbox;
  log: Logger;
  clock?: Clock;
  hello: { agent_version: string; platform: 'linux' | 'windows' | 'fake'; hostname: string };
  /** Current lock state for heartbeats. */
  lockState: () => LockState;
  /** Seconds the agent has been running, for heartbeats. Default: since the client was created. */
  uptimeS?: () => number;
  /** Reconnect backoff base, ms. Default 1 000. */
  backoffBaseMs?: number;
  /** Reconnect backoff cap, ms. Default 60 000. */
  backoffCapMs?: number;
  /** Events sent but not yet acknowledged, at most. Default 500. */
  sendWindow?: number;
  /** Challenge request and WebSocket handshake timeout, ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** Random source in [0, 1) for jitter (tests pin it). Default Math.random. */
  random?: () => number;
  /**
   * Collector commands (unlock.granted, unlock.revoked, grants.sync, policy.updated), in arrival
   * order, only after welcome on an authenticated session. Exceptions are logged, never thrown.
   */
  onMessage?: (msg: CollectorCommand) => void;
}

/** Collector → agent messages the client does not handle itself. */
export type CollectorCommand = Exclude<CollectorMessage, { type: 'welcome' | 'ack' | 'slow_down' | 'error' }>;

export interface ClientStatus {
  /** Socket open and welcome received. */
  ready: boolean;
  /** Consecutive failed connection attempts. */
  failures: number;
  inFlight: number;
  lastError: string | null;
}

export interface CollectorClient {
  start(): void;
  /** Closes the connection and stops reconnecting. Unsent events stay in the outbox. */
  stop(): Promise<void>;
  status(): ClientStatus;
  /** Resolves true once the outbox is empty, false when `timeoutMs` passes first. */
  flush(timeoutMs: number): Promise<boolean>;
}

const checkChallenge = generatedCheck<Static<typeof Challenge>>('auth_challenge', 'challenge answer');

type Session = {
  ws: WebSocket;
  welcomed: boolean;
  /** seq → envelope id of frames sent and not yet acknowledged. */
  inFlight: Map<number, string>;
  sentThrough: number;
  pausedUntil: number;
  heartbeat: NodeJS.Timeout | null;
  resume: NodeJS.Timeout | null;
  lastSeen: number;
};

/** Creates the client (unstarted). */
export function createCollectorClient(opts: CollectorClientOptions): CollectorClient {
  const clock = opts.clock ?? systemClock;
  const log = opts.log.child({ component: 'collector-client', agent_id: opts.identity.agentId });
  const base = opts.backoffBaseMs ?? 1_000;
  const cap = opts.backoffCapMs ?? 60_000;
  const window = opts.sendWindow ?? 500;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
  const random = opts.random ?? Math.random;
  const createdAt = clock.monotonic();
  const uptimeS = opts.uptimeS ?? (() => Math.max(0, Math.floor((clock.monotonic() - createdAt) / 1000)));
  const httpBase = opts.collectorUrl.replace(/\/+$/, '');
  const wsUrl = `${httpBase.replace(/^http/, 'ws')}${AGENT_WS_PATH}`;
  const { outbox } = opts;

  let started = false;
  let stopped = false;
  let session: Session | null = null;
  let failures = 0;
  // Set by close code 4403: the collector revoked this agent's key. Only re-enrollment (a new
  // identity, so a new client) fixes that; until then the agent retries at the backoff cap only.
  let revoked = false;
  let lastError: string | null = null;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let notBefore = 0;
  let pumpScheduled = false;
  let unsubscribe: (() => void) | null = null;
  let connecting: AbortController | null = null;
  const flushWaiters = new Set<() => void>();

  function noteFailure(reason: string, err?: unknown): void {
    failures++;
    lastError = reason;
    // Expected while the collector is down: quiet at first, loud once it persists (house-style §1.6).
    const level = failures >= 5 ? 'warn' : 'info';
    log[level]({ err, failures, reason }, 'collector connection failed');
  }

  function scheduleReconnect(): void {
    if (stopped || reconnectTimer) return;
    // Full jitter: a collector restart must not get every seat back in the same millisecond.
    const jittered = revoked ? Math.floor(cap / 2 + random() * (cap / 2)) : backoffDelay(failures, base, cap, random);
    const delay = Math.max(jittered, notBefore - clock.now());
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      void connect();
    }, delay);
  }

  const caPem = httpBase.startsWith('https:') ? (opts.ca?.pem ?? null) : null;

  async function fetchNonce(signal: AbortSignal): Promise<string> {
    const res = await httpRequestJson(`${httpBase}${AGENT_CHALLENGE_PATH}?agent_id=${encodeURIComponent(opts.identity.agentId)}`, {
      ca: caPem,
      signal,
      timeoutMs: connectTimeoutMs,
      maxBytes: 4_096,
    });
    if (res.status !== 200) throw new Error(`challenge HTTP ${res.status}`);
    if (!checkChallenge.check(res.json)) throw new Error('challenge response has an unexpected shape');
    return res.json.nonce;
  }

  let caMismatchLogged = '';
  /**
   * The collector's certificate does not lead to the pinned CA: fail closed (nothing was sent) and
   * say loudly which CA it presents, so an operator can tell a replaced CA from an impostor.
   */
  function reportUntrusted(err: HttpRequestError): void {
    const pinned = opts.ca?.fingerprint ?? 'none';
    void presentedCaFingerprint(httpBase).then((offered) => {
      const key = `${offered ?? 'unknown'}`;
      const level = caMismatchLogged === key ? 'warn' : 'error';
      caMismatchLogged = key;
      log[level](
        { code: 'AGENT_ERR_CA_PIN', tls_error: err.code, presented_ca_fingerprint: offered, pinned_ca_fingerprint: pinned },
        `collector presents CA ${offered ?? '(unknown)'}, this agent pinned ${pinned}: refusing to connect (re-enroll the seat if the collector CA was replaced)`,
      );
    });
  }

  async function connect(): Promise<void> {
    if (stopped || session) return;
    const ac = new AbortController();
    connecting = ac;
    const timeout = setTimeout(() => ac.abort(), connectTimeoutMs);
    let nonce: string;
    try {
      nonce = await fetchNonce(ac.signal);
    } catch (err) {
      if (!stopped) {
        if (err instanceof HttpRequestError && err.code && CERT_UNTRUSTED_CODES.has(err.code)) reportUntrusted(err);
        noteFailure('challenge failed', err);
        scheduleReconnect();
      }
      return;
    } finally {
      clearTimeout(timeout);
      connecting = null;
    }
    if (stopped) return;
    const ws = new WebSocket(wsUrl, {
      headers: {
        [AUTH_HEADERS.agentId]: opts.identity.agentId,
        [AUTH_HEADERS.nonce]: nonce,
        [AUTH_HEADERS.signature]: signChallenge(opts.identity.privateKey, opts.identity.agentId, nonce),
      },
      handshakeTimeout: connectTimeoutMs,
      maxPayload: MAX_FRAME_BYTES * 4,
      perMessageDeflate: false,
      ...(caPem ? { ca: caPem, rejectUnauthorized: true } : {}),
    });
    const s: Session = { ws, welcomed: false, inFlight: new Map(), sentThrough: 0, pausedUntil: 0, heartbeat: null, resume: null, lastSeen: clock.monotonic() };
    session = s;
    ws.on('open', () => {
      log.debug('collector socket open; sending hello');
      send(s, agentControlMessage('hello', { agent_id: opts.identity.agentId, ...opts.hello, last_seq: outbox.lastSeq() }, clock.now()));
    });
    ws.on('message', (data: WebSocket.RawData) => {
      s.lastSeen = clock.monotonic();
      try {
        onFrame(s, toText(data));
      } catch (err) {
        log.error({ err }, 'collector frame handler failed');
      }
    });
    const seen = () => {
      s.lastSeen = clock.monotonic();
    };
    ws.on('pong', seen);
    ws.on('ping', seen);
    ws.on('error', (err) => {
      lastError = err.message;
      log.debug({ err }, 'collector socket error');
      // 403 at the upgrade (ws words it so): the collector refuses this agent's key, revoked or
      // unknown. Same as a 4403 close: only re-enrollment helps, so retry only at the cap.
      if (err.message === 'Unexpected server response: 403' && !revoked) {
        revoked = true;
        log.error({ status: 403, retry_ms: cap }, 'collector refuses this agent (revoked or unknown); it must be re-enrolled (retrying only at the backoff cap)');
      }
    });
    ws.on('close', (code, reason) => {
      if (s.heartbeat) clearInterval(s.heartbeat);
      if (s.resume) clearTimeout(s.resume);
      if (session === s) session = null;
      if (code === CLOSE_CODES.revoked) {
        revoked = true;
        lastError = 'revoked by the collector; re-enroll this seat';
        log.error({ code, retry_ms: cap }, 'collector revoked this agent; it must be re-enrolled (retrying only at the backoff cap)');
      } else if (!s.welcomed) noteFailure(`closed before welcome (${code})`);
      else log.info({ code, reason: reason.toString('utf8').slice(0, 120) }, 'collector connection closed');
      scheduleReconnect();
    });
  }

  function send(s: Session, frame: string): void {
    if (s.ws.readyState !== WebSocket.OPEN) return;
    s.ws.send(frame, (err) => {
      if (err) log.debug({ err }, 'collector send failed');
    });
  }

  function onFrame(s: Session, raw: string): void {
    const decoded = decodeCollectorMessage(raw);
    if (decoded.ok === 'ignored') {
      // Forward compatibility: a newer collector may send commands this agent does not know.
      log.debug({ msg_type: decoded.type }, 'ignoring unknown collector message');
      return;
    }
    if (!decoded.ok) {
      log.warn({ code: decoded.code, detail: decoded.detail }, 'invalid collector frame');
      return;
    }
    const msg: CollectorMessage = decoded.msg;
    switch (msg.type) {
      case 'welcome':
        return onWelcome(s, msg);
      case 'ack':
        return onAck(s, msg.body.seqs);
      case 'slow_down':
        s.pausedUntil = clock.monotonic() + msg.body.retry_after_ms;
        notBefore = clock.now() + msg.body.retry_after_ms;
        log.warn({ retry_after_ms: msg.body.retry_after_ms }, 'collector asked to slow down');
        if (s.resume) clearTimeout(s.resume);
        s.resume = null;
        pump(s);
        return;
      case 'error':
        return onError(s, msg.body);
      default:
        return onCommand(s, msg);
    }
  }

  function onCommand(s: Session, msg: CollectorCommand): void {
    if (!s.welcomed) {
      log.warn({ msg_type: msg.type }, 'collector command before welcome; ignored');
      return;
    }
    log.debug({ msg_type: msg.type }, 'collector command received');
    try {
      opts.onMessage?.(msg);
    } catch (err) {
      log.error({ err, msg_type: msg.type }, 'collector command handler failed');
    }
  }

  function onWelcome(s: Session, msg: Extract<CollectorMessage, { type: 'welcome' }>): void {
    if (s.welcomed) return;
    if (msg.body.agent_id !== opts.identity.agentId) {
      log.error({ welcome_agent_id: msg.body.agent_id }, 'collector welcomed another agent id; closing');
      s.ws.close(1008, 'agent id mismatch');
      return;
    }
    s.welcomed = true;
    failures = 0;
    revoked = false;
    lastError = null;
    const dropped = outbox.dropThrough(msg.body.last_seq);
    if (msg.body.last_seq > outbox.lastSeq()) {
      // The collector has seqs this outbox never assigned (state dir restored from an old copy?):
      // new events would be taken for duplicates. An operator must look at this seat.
      log.error({ last_seq: msg.body.last_seq, agent_last_seq: outbox.lastSeq() }, 'collector is ahead of the outbox sequence');
    }
    s.sentThrough = msg.body.last_seq;
    log.info({ last_seq: msg.body.last_seq, dropped, depth: outbox.depth() }, 'collector session ready');
    const every = msg.body.heartbeat_interval_ms;
    s.heartbeat = setInterval(() => heartbeat(s, every), every);
    s.heartbeat.unref();
    // One at once: the seat's lock state is known the moment it connects, not an interval later.
    heartbeat(s, every);
    pump(s);
    notifyFlush();
  }

  function onAck(s: Session, seqs: number[]): void {
    for (const seq of seqs) s.inFlight.delete(seq);
    outbox.ack(seqs);
    log.debug({ acked: seqs.length }, 'collector acknowledged events');
    pump(s);
    notifyFlush();
  }

  function onError(s: Session, body: Extract<CollectorMessage, { type: 'error' }>['body']): void {
    log.warn({ code: body.code, ref_id: body.ref_id ?? null, detail: body.detail.slice(0, 200) }, 'collector reported an error');
    if (body.code !== 'PROTO_ERR_INTERNAL' || body.ref_id === undefined) return;
    // The collector could not store this event: send it again later (it stays in the outbox).
    for (const [seq, id] of s.inFlight) {
      if (id !== body.ref_id) continue;
      s.inFlight.delete(seq);
      const retry = setTimeout(() => {
        if (session !== s || s.inFlight.has(seq)) return;
        const [entry] = outbox.pending(seq, 1);
        if (entry?.seq !== seq) return;
        s.inFlight.set(seq, entry.id);
        send(s, entry.frame);
      }, backoffDelay(0, base, cap, random) + base);
      retry.unref();
    }
  }

  function heartbeat(s: Session, every: number): void {
    // No frame and no pong for three intervals: the link is dead even if TCP has not noticed.
    if (clock.monotonic() - s.lastSeen > every * 3) {
      log.warn({ silent_ms: Math.round(clock.monotonic() - s.lastSeen) }, 'collector silent; reconnecting');
      s.ws.terminate();
      return;
    }
    send(s, agentControlMessage('heartbeat', { uptime_s: uptimeS(), outbox_depth: outbox.depth(), lock_state: opts.lockState() }, clock.now()));
    if (s.ws.readyState === WebSocket.OPEN) s.ws.ping();
  }

  function pump(s: Session): void {
    if (session !== s || !s.welcomed || s.ws.readyState !== WebSocket.OPEN) return;
    const pausedFor = s.pausedUntil - clock.monotonic();
    if (pausedFor > 0) {
      // Timers run on the event loop's cached time, which can lag the monotonic clock under load:
      // a resume that fires "early" re-arms itself instead of leaving the queue stalled.
      s.resume ??= setTimeout(() => {
        s.resume = null;
        pump(s);
      }, Math.ceil(pausedFor) + 1);
      return;
    }
    const room = window - s.inFlight.size;
    if (room <= 0) return;
    for (const e of outbox.pending(s.sentThrough + 1, room)) {
      s.inFlight.set(e.seq, e.id);
      s.sentThrough = e.seq;
      send(s, e.frame);
    }
  }

  function schedulePump(): void {
    if (pumpScheduled) return;
    pumpScheduled = true;
    // Coalesce a burst of appends into one read of the outbox.
    queueMicrotask(() => {
      pumpScheduled = false;
      if (session) pump(session);
    });
  }

  function notifyFlush(): void {
    if (outbox.depth() !== 0) return;
    for (const w of flushWaiters) w();
    flushWaiters.clear();
  }

  return {
    start() {
      if (started) return;
      started = true;
      unsubscribe = outbox.onAppend(schedulePump);
      void connect();
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe?.();
      if (reconnectTimer) clearTimeout(reconnectTimer);
      reconnectTimer = null;
      connecting?.abort();
      const s = session;
      if (!s || s.ws.readyState === WebSocket.CLOSED) return;
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => s.ws.terminate(), 1_000);
        s.ws.once('close', () => {
          clearTimeout(force);
          resolve();
        });
        if (s.ws.readyState === WebSocket.CONNECTING) s.ws.terminate();
        else s.ws.close(1000, 'agent stopping');
      });
      for (const w of flushWaiters) w();
      flushWaiters.clear();
    },

    status() {
      return { ready: session?.welcomed ?? false, failures, inFlight: session?.inFlight.size ?? 0, lastError };
    },

    flush(timeoutMs) {
      if (outbox.depth() === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          resolve(outbox.depth() === 0);
        };
        const timer = setTimeout(() => {
          flushWaiters.delete(done);
          resolve(outbox.depth() === 0);
        }, timeoutMs);
        flushWaiters.add(done);
      });
    },
  };
}

function toText(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
