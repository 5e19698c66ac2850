import type { WebSocket, RawData } from 'ws';
import type { Clock } from '../../shared/clock.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { decodeAgentMessage } from '../../shared/protocol/decode.js';
import { collectorMessage } from '../../shared/protocol/encode.js';
import type { ProtocolErrorCode } from '../../shared/protocol/codes.js';
import type { AgentMessage } from '../../shared/protocol/messages.js';
import { CLOSE_CODES } from '../../shared/protocol/version.js';
import type { AckSink, IngestQueue } from '../ingest/ingest-queue.js';
import { errorFrame } from './frames.js';
import type { Store } from '../store/store.js';

export interface SessionOptions {
  heartbeatIntervalMs: number;
  helloTimeoutMs: number;
  maxProtocolErrors: number;
  /** Token bucket per connection; undefined = unlimited. */
  maxMessagesPerSecond?: number;
  /** Unsent bytes (ws bufferedAmount) beyond which the agent is told to slow down; undefined = unlimited. */
  maxBufferedBytes?: number;
}

export interface SessionDeps {
  ws: WebSocket;
  /** The agent authenticated at upgrade; every frame on this socket speaks for it alone. */
  agentId: string;
  store: Store;
  queue: IngestQueue;
  clock: Clock;
  log: Logger;
  options: SessionOptions;
  /** Called once when the socket is gone, whatever the reason. */
  onClosed(session: AgentSession): void;
  /** Frames sent right after `welcome`, in order (grants.sync, policy.updated, sensor config…). */
  welcomeFrames?: (agentId: string) => readonly string[];
}

/** One authenticated agent connection: hello/welcome, events into the ingest queue, acks back. */
export interface AgentSession extends AckSink {
  readonly agentId: string;
  /** True once hello was accepted. */
  ready(): boolean;
  /** Sends a collector frame if the socket is open; returns whether it was handed to the socket. */
  send(frame: string): boolean;
  /** Liveness round: terminates the socket if the previous ping got no pong, then pings again. */
  pingTick(): void;
  close(code: number, reason: string): void;
  /** False once a close was started (by either side) or the socket is gone. */
  open(): boolean;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  terminate(): void;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Wires one accepted socket: frame decoding, the hello state machine, acks and liveness. */
export function createAgentSession(deps: SessionDeps): AgentSession {
  const { ws, agentId, store, queue, clock, options } = deps;
  const log = deps.log.child({ component: 'agent-session', agent_id: agentId });
  let helloDone = false;
  let alive = true;
  let errors = 0;
  let acceptingEvents = true;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));

  const send = (frame: string): boolean => {
    if (ws.readyState !== ws.OPEN) return false;
    ws.send(frame);
    return true;
  };
  const now = () => clock.now();

  const helloTimer = setTimeout(() => {
    if (!helloDone) {
      log.warn({}, 'agent sent no hello in time');
      session.close(CLOSE_CODES.protocolError, 'hello timeout');
    }
  }, options.helloTimeoutMs);

  function protocolError(code: ProtocolErrorCode, detail: string, refId?: string): void {
    errors++;
    log.warn({ code, ref_id: refId ?? null, errors }, 'agent protocol error');
    send(errorFrame(code, detail, refId, now()));
    if (errors >= options.maxProtocolErrors) session.close(CLOSE_CODES.protocolError, 'too many protocol errors');
  }

  function onHello(msg: Extract<AgentMessage, { type: 'hello' }>): void {
    if (msg.body.agent_id !== agentId) {
      // Events of agent A can never be sent as B: the identity is the one proven at upgrade.
      log.warn({ code: 'PROTO_ERR_INVALID_MESSAGE', ref_id: msg.id }, 'hello agent_id does not match authenticated agent');
      send(errorFrame('PROTO_ERR_INVALID_MESSAGE', 'hello.agent_id does not match the authenticated agent', msg.id, now()));
      session.close(CLOSE_CODES.protocolError, 'agent_id mismatch');
      return;
    }
    helloDone = true;
    clearTimeout(helloTimer);
    const at = new Date(now()).toISOString();
    store.agents.markOnline(agentId, at, {
      hostname: sanitizeText(msg.body.hostname, 253),
      agent_version: sanitizeText(msg.body.agent_version, 32),
    });
    const row = store.agents.get(agentId);
    const lastSeq = row?.last_seq ?? 0;
    if (msg.body.last_seq < lastSeq) {
      log.warn({ agent_last_seq: msg.body.last_seq, last_seq: lastSeq }, 'agent sequence is behind the collector');
    }
    send(collectorMessage('welcome', {
      agent_id: agentId,
      last_seq: lastSeq,
      heartbeat_interval_ms: options.heartbeatIntervalMs,
      server_time: at,
    }, now()));
    if (deps.welcomeFrames) {
      try {
        for (const frame of deps.welcomeFrames(agentId)) send(frame);
      } catch (err) {
        // The session stays up; the agent keeps enforcing its last grants and policy.
        log.error({ err }, 'could not send the post-welcome frames');
      }
    }
    log.info({ last_seq: lastSeq, agent_last_seq: msg.body.last_seq }, 'agent session ready');
  }

  function onFrame(buf: Buffer): void {
    const decoded = decodeAgentMessage(buf);
    if (!decoded.ok) {
      protocolError(decoded.code, decoded.detail, decoded.ref_id);
      return;
    }
    const msg = decoded.msg;
    if (!helloDone) {
      if (msg.type === 'hello') onHello(msg);
      else protocolError('PROTO_ERR_NOT_EXPECTED', formatError('PROTO_ERR_NOT_EXPECTED', msg.type), msg.id);
      return;
    }
    switch (msg.type) {
      case 'hello':
        protocolError('PROTO_ERR_NOT_EXPECTED', formatError('PROTO_ERR_NOT_EXPECTED', 'hello'), msg.id);
        return;
      case 'heartbeat':
        queue.pushHeartbeat(agentId, msg.body.lock_state, msg.body.outbox_depth);
        return;
      default: {
        // Shutting down or overloaded: drop without ack; the agent keeps the event and resends.
        if (!acceptingEvents) return;
        const r = queue.pushEvent(session, agentId, msg);
        if (r === 'full') {
          log.warn({ pending: queue.pending() }, 'ingest queue full; asking agent to slow down');
          overloaded(5_000);
        } else if (r === 'queued') {
          log.debug({ msg_type: msg.type, seq: msg.seq }, 'event queued');
        }
      }
    }
  }

  // Overload ends the connection: slow_down says when to come back, and nothing more is read or
  // queued from it. Its unacked events stay in the agent's outbox and are resent after reconnect.
  let throttled = false;
  function overloaded(retryAfterMs: number): void {
    throttled = true;
    acceptingEvents = false;
    send(collectorMessage('slow_down', { retry_after_ms: retryAfterMs }, now()));
    session.close(CLOSE_CODES.overloaded, 'overloaded');
  }
  const rate = options.maxMessagesPerSecond;
  let tokens = rate ?? 0;
  let refilledAt = clock.monotonic();
  function overCaps(): boolean {
    if (options.maxBufferedBytes !== undefined && ws.bufferedAmount > options.maxBufferedBytes) {
      log.warn({ buffered: ws.bufferedAmount }, 'agent does not read its acks; asking it to slow down');
      overloaded(5_000);
      return true;
    }
    if (rate === undefined) return false;
    const t = clock.monotonic();
    tokens = Math.min(rate, tokens + ((t - refilledAt) * rate) / 1_000);
    refilledAt = t;
    if (tokens >= 1) {
      tokens -= 1;
      return false;
    }
    log.warn({ rate }, 'agent exceeds its message rate; asking it to slow down');
    // Come back when the bucket is full again, at least one second.
    overloaded(Math.max(1_000, Math.ceil(((rate - tokens) / rate) * 1_000)));
    return true;
  }

  ws.on('message', (data) => {
    alive = true;
    if (throttled || overCaps()) return;
    try {
      onFrame(toBuffer(data));
    } catch (err) {
      // Nothing an agent sends may crash the collector.
      log.error({ err }, 'agent frame handler failed');
      try {
        send(errorFrame('PROTO_ERR_INTERNAL', 'internal error; resend later', undefined, now()));
      } catch {
        /* the socket is already gone */
      }
    }
  });
  ws.on('pong', () => {
    alive = true;
  });
  ws.on('error', (err) => {
    log.warn({ err }, 'agent socket error');
  });
  ws.on('close', (code) => {
    clearTimeout(helloTimer);
    acceptingEvents = false;
    log.info({ code }, 'agent socket closed');
    try {
      deps.onClosed(session);
    } catch (err) {
      log.error({ err }, 'session close handler failed');
    }
    resolveClosed();
  });

  const session: AgentSession = {
    agentId,
    ready: () => helloDone,
    send,
    closed,
    committed(seqs) {
      const unique = [...new Set(seqs)].sort((a, b) => a - b);
      send(collectorMessage('ack', { seqs: unique }, now()));
    },
    failed(ids) {
      for (const id of ids) {
        send(errorFrame('PROTO_ERR_INTERNAL', 'event not stored; resend it', id, now()));
      }
      // Nothing from this socket may be stored past the failed events (see IngestQueue): close it;
      // the agent reconnects and resends from the collector's last stored seq.
      acceptingEvents = false;
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(CLOSE_CODES.storeFailed, 'events not stored; reconnect and resend');
    },
    pingTick() {
      if (!alive) {
        log.warn({}, 'agent missed a pong; terminating');
        ws.terminate();
        return;
      }
      alive = false;
      if (ws.readyState === ws.OPEN) ws.ping();
    },
    close(code, reason) {
      acceptingEvents = false;
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
    },
    open: () => ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING,
    terminate: () => ws.terminate(),
  };
  return session;
}
