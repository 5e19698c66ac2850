import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Clock } from '../../shared/clock.js';
import { ERRORS, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { AGENT_WS_PATH, CLOSE_CODES, MAX_FRAME_BYTES } from '../../shared/protocol/version.js';
import type { AgentAuthenticator } from '../auth/agent-authenticator.js';
import type { IngestQueue } from '../ingest/ingest-queue.js';
import type { Store } from '../store/store.js';
import { createAgentSession, type AgentSession, type SessionOptions } from './session.js';

export interface AgentGatewayDeps {
  store: Store;
  queue: IngestQueue;
  authenticator: AgentAuthenticator;
  clock: Clock;
  log: Logger;
  options: SessionOptions & { pingIntervalMs: number; maxConnections?: number };
  /** Builders of the frames sent right after `welcome`, in order; a null is skipped. */
  welcomeFrames?: ReadonlyArray<(agentId: string) => string | null>;
}

/** The agent WebSocket endpoint: authenticates at `upgrade`, one live session per agent. */
export interface AgentGateway {
  /** The HTTP server's 'upgrade' listener. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Starts the ping/terminate liveness timer. */
  start(): void;
  /** Refuses new upgrades (503) from now on. */
  stopAccepting(): void;
  /** Closes every session with `code`, waits for the sockets (terminating after `timeoutMs`). */
  closeAll(code: number, reason: string, timeoutMs: number): Promise<void>;
  /** Sessions that completed hello. */
  connectedCount(): number;
  /** Sends one frame to the agent's session if it completed hello; false when it is not connected. */
  sendToAgent(agentId: string, frame: string): boolean;
  /** Sends one frame to every session that completed hello; returns how many got it. */
  broadcast(frame: string): number;
  /** Closes every open socket of the agent (also one still before hello) with `code`; returns how many. */
  disconnect(agentId: string, code: number, reason: string): number;
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

function refuse(socket: Duplex, status: number, code: ErrorCode): void {
  const body = JSON.stringify({ error: { code, message: ERRORS[code].replace(/ ?%s/g, '') } });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Builds the gateway; attach `handleUpgrade` to the HTTP server and call `start()` for pings. */
export function createAgentGateway(deps: AgentGatewayDeps): AgentGateway {
  const { store, queue, authenticator, clock, options } = deps;
  const log = deps.log.child({ component: 'agent-gateway' });
  // noServer: the HTTP server's upgrade listener authenticates first; verifyClient is not used.
  // The transport limit is 4x the protocol limit: a frame up to 4x gets a PROTO_ERR_TOO_LARGE error
  // frame from the decoder and the session goes on; anything bigger is cut off by ws (close 1009)
  // before it is buffered.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES * 4, perMessageDeflate: false });
  const sessions = new Map<string, AgentSession>();
  const all = new Set<AgentSession>();
  let accepting = true;
  let pingTimer: NodeJS.Timeout | undefined;

  wss.on('error', (err) => log.error({ err }, 'websocket server error'));

  function welcomeFrames(agentId: string): string[] {
    const out: string[] = [];
    for (const build of deps.welcomeFrames ?? []) {
      try {
        const frame = build(agentId);
        if (frame !== null) out.push(frame);
      } catch (err) {
        // One failing builder must not cost the agent the other frames.
        log.error({ err, agent_id: agentId }, 'post-welcome frame failed');
      }
    }
    return out;
  }

  function onClosed(s: AgentSession): void {
    all.delete(s);
    if (sessions.get(s.agentId) === s) {
      sessions.delete(s.agentId);
      try {
        store.agents.markOffline(s.agentId, new Date(clock.now()).toISOString());
      } catch (err) {
        log.error({ err, agent_id: s.agentId }, 'could not mark agent offline');
      }
    }
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const onSocketError = (err: Error) => log.debug({ err }, 'upgrade socket error');
    socket.on('error', onSocketError);
    try {
      const path = (req.url ?? '').split('?', 1)[0];
      if (path !== AGENT_WS_PATH) return refuse(socket, 404, 'API_ERR_NOT_FOUND');
      if (!accepting) return refuse(socket, 503, 'COLLECTOR_ERR_STATE');
      // Checked before the signature: a flood of upgrades costs no crypto once the cap is reached.
      if (options.maxConnections !== undefined && all.size >= options.maxConnections) {
        log.warn({ connections: all.size }, 'agent upgrade refused: connection cap reached');
        return refuse(socket, 503, 'PROTO_ERR_RATE');
      }
      const auth = authenticator.authenticate(req);
      if (!auth.ok) {
        log.warn(
          { code: auth.code, reason: auth.reason, agent_id: auth.agentId ?? null, remote: req.socket.remoteAddress ?? null },
          'agent upgrade refused',
        );
        return refuse(socket, auth.status, auth.code);
      }
      socket.removeListener('error', onSocketError);
      wss.handleUpgrade(req, socket, head, (ws) => {
        if (!accepting) {
          ws.close(CLOSE_CODES.shuttingDown, 'shutting down');
          return;
        }
        // The handshake completes after authentication; a revocation committed in between must
        // still win, or the revoked agent would keep a socket the revoke route never saw.
        if (store.agents.get(auth.agentId)?.revoked_at != null) {
          log.warn({ agent_id: auth.agentId }, 'agent revoked during its upgrade; closing');
          ws.close(CLOSE_CODES.revoked, 'agent revoked');
          return;
        }
        const session = createAgentSession({
          ws,
          agentId: auth.agentId,
          store,
          queue,
          clock,
          log,
          options,
          onClosed,
          welcomeFrames,
        });
        all.add(session);
        const previous = sessions.get(auth.agentId);
        sessions.set(auth.agentId, session);
        if (previous) {
          log.info({ agent_id: auth.agentId }, 'agent reconnected; replacing previous session');
          previous.close(CLOSE_CODES.replaced, 'replaced by a newer connection');
        }
        log.info({ agent_id: auth.agentId }, 'agent connected');
      });
    } catch (err) {
      log.error({ err }, 'upgrade handler failed');
      socket.destroy();
    }
  }

  return {
    handleUpgrade,
    start() {
      pingTimer ??= setInterval(() => {
        for (const s of all) s.pingTick();
      }, options.pingIntervalMs);
      pingTimer.unref();
    },
    stopAccepting() {
      accepting = false;
    },
    async closeAll(code, reason, timeoutMs) {
      if (pingTimer) clearInterval(pingTimer);
      pingTimer = undefined;
      const waiting = [...all];
      for (const s of waiting) s.close(code, reason);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const s of all) s.terminate();
          resolve();
        }, timeoutMs);
      });
      await Promise.race([Promise.all(waiting.map((s) => s.closed)), timeout]);
      if (timer) clearTimeout(timer);
      // After terminate() the close events still arrive asynchronously; wait for them.
      await Promise.all(waiting.map((s) => s.closed));
      wss.close();
    },
    connectedCount: () => {
      let n = 0;
      for (const s of sessions.values()) if (s.ready()) n++;
      return n;
    },
    sendToAgent(agentId, frame) {
      const s = sessions.get(agentId);
      // Before hello the agent gets the same state in the frames sent after welcome.
      return s !== undefined && s.ready() && s.send(frame);
    },
    broadcast(frame) {
      let n = 0;
      for (const s of sessions.values()) if (s.ready() && s.send(frame)) n++;
      return n;
    },
    disconnect(agentId, code, reason) {
      let n = 0;
      for (const s of all) {
        if (s.agentId !== agentId || !s.open()) continue;
        s.close(code, reason);
        n++;
      }
      if (n > 0) log.info({ agent_id: agentId, code, sockets: n }, 'agent disconnected');
      return n;
    },
  };
}
