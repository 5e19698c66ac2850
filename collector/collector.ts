import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { systemClock, type Clock } from '../shared/clock.js';
import { AppError, formatError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { CLOSE_CODES } from '../shared/protocol/version.js';
import { createSignedChallengeAuthenticator } from './auth/agent-authenticator.js';
import { createChallengeIssuer } from './auth/agent-challenge.js';
import { ensureApiToken } from './auth/api-token.js';
import { loadCollectorConfig, type CollectorConfig } from './config.js';
import { createEnrollmentService, type EnrollmentTokenOptions } from './enrollment/enrollment-service.js';
import { createApiAuthenticator } from './http/auth.js';
import { buildHttpApp } from './http/router.js';
import { agentRoutes } from './http/routes/agent-routes.js';
import { eventRoutes } from './http/routes/event-routes.js';
import { healthRoutes } from './http/routes/health-routes.js';
import { seatRoutes } from './http/routes/seat-routes.js';
import { createIngestQueue } from './ingest/ingest-queue.js';
import { openStore, type Store } from './store/store.js';
import { COLLECTOR_VERSION } from './version.js';
import { createAgentGateway } from './ws/agent-gateway.js';

/** File name of the collector database inside the data dir. */
export const DB_FILE = 'collector.db';

/** Options of {@link createCollector}: the config keys (see config.ts for defaults) plus deps. */
export type CollectorOptions = { dataDir: string; log?: Logger; clock?: Clock } & Partial<Omit<CollectorConfig, 'dataDir'>>;

export interface Collector {
  /** Listens; resolves with the base URL, e.g. 'http://127.0.0.1:PORT'. */
  start(): Promise<{ url: string }>;
  /** Graceful: refuse new agents, commit and ack what is pending, close sockets (4503), close the DB. */
  stop(): Promise<void>;
  /** Creates a single-use enrollment token (default TTL 24 h); returns the plaintext. */
  createEnrollmentToken(o?: EnrollmentTokenOptions): string;
  /** The API bearer token from DATA/api-token; '' when that file was removed after first start. */
  readonly apiToken: string;
  readonly apiTokenFile: string;
  readonly store: Store;
  readonly config: Readonly<CollectorConfig>;
  /** The fastify instance (tests may use inject()). */
  readonly http: FastifyInstance;
  stats(): { agentsConnected: number; pendingEvents: number };
}

type State = 'created' | 'starting' | 'started' | 'stopping' | 'stopped';

/**
 * Builds an unstarted collector: validates the config, opens (and migrates) the database in
 * `dataDir`, makes sure an API token exists, and wires HTTP API, enrollment and agent gateway.
 */
export function createCollector(opts: CollectorOptions): Collector {
  const { log: givenLog, clock: givenClock, ...configInput } = opts;
  const config = loadCollectorConfig(configInput);
  const log = (givenLog ?? silentLogger()).child({ component: 'collector' });
  const clock = givenClock ?? systemClock;
  const startedAt = clock.monotonic();

  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const store = openStore(join(config.dataDir, DB_FILE));
  let apiTokenInfo: ReturnType<typeof ensureApiToken>;
  try {
    apiTokenInfo = ensureApiToken({ store, dataDir: config.dataDir, clock, log });
  } catch (err) {
    store.close();
    throw err;
  }

  const enrollment = createEnrollmentService({ store, clock, log });
  const challenges = createChallengeIssuer({ clock, ttlMs: config.challengeTtlMs });
  const queue = createIngestQueue({
    store,
    clock,
    log,
    commitIntervalMs: config.commitIntervalMs,
    maxBatch: config.maxBatch,
    maxPending: config.maxPending,
  });
  const gateway = createAgentGateway({
    store,
    queue,
    authenticator: createSignedChallengeAuthenticator({ store, challenges }),
    clock,
    log,
    options: {
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      helloTimeoutMs: config.helloTimeoutMs,
      maxProtocolErrors: config.maxProtocolErrors,
      pingIntervalMs: config.pingIntervalMs,
    },
  });
  const http = buildHttpApp({
    log,
    authenticator: createApiAuthenticator({ store, clock }),
    publicRoutes: [
      healthRoutes({ store, clock, version: COLLECTOR_VERSION, startedAt, agentsConnected: () => gateway.connectedCount() }),
      agentRoutes({ enrollment, challenges }),
    ],
    apiV1Routes: [seatRoutes({ store }), eventRoutes({ store })],
  });
  http.server.on('upgrade', gateway.handleUpgrade);

  let state: State = 'created';
  let stopping: Promise<void> | undefined;

  async function doStop(): Promise<void> {
    const wasStarted = state === 'started' || state === 'starting';
    state = 'stopping';
    log.info({}, 'collector stopping');
    gateway.stopAccepting();
    try {
      // Commit and ack everything already received before any socket closes: no acked event is
      // lost, and no received event goes unacked unless its socket is already gone.
      queue.close();
    } catch (err) {
      log.error({ err }, 'final commit failed');
    }
    await gateway.closeAll(CLOSE_CODES.shuttingDown, 'collector shutting down', 5_000);
    if (wasStarted) await http.close();
    store.close();
    state = 'stopped';
    log.info({}, 'collector stopped');
  }

  return {
    async start() {
      if (state !== 'created') throw new AppError('COLLECTOR_ERR_STATE', formatError('COLLECTOR_ERR_STATE', 'start', state));
      state = 'starting';
      store.agents.resetOnline();
      gateway.start();
      await http.listen({ host: config.host, port: config.port });
      state = 'started';
      const addr = http.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.port;
      const host = config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host;
      const url = `http://${host}:${port}`;
      log.info({ url, api_token_file: apiTokenInfo.file, version: COLLECTOR_VERSION }, 'collector listening');
      return { url };
    },
    stop() {
      stopping ??= doStop();
      return stopping;
    },
    createEnrollmentToken: (o) => enrollment.createToken(o),
    apiToken: apiTokenInfo.token ?? '',
    apiTokenFile: apiTokenInfo.file,
    store,
    config,
    http,
    stats: () => ({ agentsConnected: gateway.connectedCount(), pendingEvents: queue.pending() }),
  };
}
