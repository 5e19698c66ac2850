import { mkdirSync } from 'node:fs';
import { webConsole } from './web/plugin.js';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Server as TlsServer } from 'node:tls';
import { systemClock, type Clock } from '../shared/clock.js';
import { AppError, formatError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { CLOSE_CODES } from '../shared/protocol/version.js';
import type { AgentEvent } from '../shared/protocol/messages.js';
import { createChannel, createDispatcher, type ChannelStats } from './alerts/channels/index.js';
import { createAlertEngine, resolveAlertEngineConfig, type AlertEngine } from './alerts/index.js';
import { createSignedChallengeAuthenticator } from './auth/agent-authenticator.js';
import { createChallengeIssuer } from './auth/agent-challenge.js';
import { ensureApiToken } from './auth/api-token.js';
import { hashSecret } from './auth/hash-secret.js';
import { loadCollectorConfig, type CollectorConfig } from './config.js';
import { createEnrollmentService, type EnrollmentTokenOptions } from './enrollment/enrollment-service.js';
import { createAuditLog, type AuditLog } from './audit/audit-log.js';
import { loadSigningKey } from './audit/signing-key.js';
import { createApiAuthenticator } from './http/auth.js';
import { installRouteGuard, type RouteInfo } from './http/authorize.js';
import { alertRoutes, createAlertLive } from './http/routes/alert-routes.js';
import { auditRoutes } from './http/routes/audit-routes.js';
import { handoverRoutes } from './http/routes/handover-routes.js';
import { authRoutes, loginRoute } from './http/routes/auth-routes.js';
import { userRoutes } from './http/routes/user-routes.js';
import { buildHttpApp } from './http/router.js';
import { agentRoutes } from './http/routes/agent-routes.js';
import { eventRoutes } from './http/routes/event-routes.js';
import { healthRoutes } from './http/routes/health-routes.js';
import { seatRoutes } from './http/routes/seat-routes.js';
import { sensorConfigRoutes } from './http/routes/sensor-config-routes.js';
import { createSensorConfigService } from './sensors/sensor-config-service.js';
import { createSensorConfigRepo } from './store/sensor-config-repo.js';
import { createIngestQueue } from './ingest/ingest-queue.js';
import { dashboardRoutes } from './http/routes/dashboard-routes.js';
import { deviceRoutes } from './http/routes/device-routes.js';
import { exportRoutes } from './http/routes/export-routes.js';
import { openApiRoutes } from './http/routes/openapi-routes.js';
import { reportRoutes } from './http/routes/report-routes.js';
import { streamRoutes } from './http/routes/stream-routes.js';
import { publishCommittedEvents } from './live/event-items.js';
import { createLiveBus, type LiveBus } from './live/live-bus.js';
import { createSseHub, type SseHubOptions } from './live/sse-hub.js';
import { createReportRepo } from './store/report-repo.js';
import { createStatsRepo } from './store/stats-repo.js';
import { openStore, type Store } from './store/store.js';
import { COLLECTOR_VERSION } from './version.js';
import { createLoginLimiter } from './users/login-limiter.js';
import { createLoginService } from './users/login-service.js';
import { securityOptions, type SecurityOptions } from './users/security-options.js';
import { createSessionService } from './users/session-service.js';
import { createUserService, type UserService } from './users/user-service.js';
import { createAgentGateway } from './ws/agent-gateway.js';
import { policyRoutes } from './http/routes/policy-routes.js';
import { agentRevokeRoutes } from './http/routes/agent-revoke-routes.js';
import { unlockRoutes } from './http/routes/unlock-routes.js';
import { createOfflineCodeService, type OfflineCodeService } from './workflow/offline-code-service.js';
import { createMaintenanceCodeService } from './workflow/maintenance-code-service.js';
import { maintenanceRoutes } from './http/routes/maintenance-routes.js';
import { loadOrCreateOfflineMasterKey, seatOfflineSecret } from './workflow/offline-master-key.js';
import { createPolicyService, type PolicyService } from './workflow/policy-service.js';
import { DEFAULT_UNLOCK_POLICY, type UnlockPolicy } from './workflow/unlock-machine.js';
import { createUnlockService, type UnlockService } from './workflow/unlock-service.js';
import { createWorkflowEventHandler } from './workflow/workflow-events.js';
import { softwareRoutes } from './http/routes/software-routes.js';
import { createSoftwareRequestRepo } from './store/software-request-repo.js';
import { createSoftwareEventHandler } from './workflow/software-events.js';
import { createSoftwareService, type SoftwareService } from './workflow/software-service.js';
import type { SoftwarePolicyBounds } from './workflow/software-case.js';
import { acquireDataDirLock } from './backup/data-dir-lock.js';
import { createBackupScheduler, type BackupScheduleOptions } from './backup/scheduler.js';
import type { BackupResult } from './backup/backup.js';
import { checkTlsNames, resolveTlsMaterial, type TlsMaterial } from './tls/tls-material.js';

/** File name of the collector database inside the data dir. */
export const DB_FILE = 'collector.db';

/** Options of {@link createCollector}: the config keys (see config.ts for defaults) plus deps. */
export type CollectorOptions = {
  dataDir: string;
  log?: Logger;
  clock?: Clock;
  security?: Partial<SecurityOptions>;
  live?: Partial<SseHubOptions>;
  /** Unlock workflow tunables: policy bounds (default DEFAULT_UNLOCK_POLICY) and the expiry/lapse sweep (default 5 s). */
  unlock?: { policy?: Partial<UnlockPolicy>; sweepIntervalMs?: number };
  /** Software request bounds (docs/software-requests.md); default DEFAULT_SOFTWARE_POLICY_BOUNDS. */
  software?: { bounds?: Partial<SoftwarePolicyBounds> };
  /** Scheduled online backups (docs/operations.md); default off. */
  backup?: BackupScheduleOptions;
} & Partial<
  Omit<CollectorConfig, 'dataDir'>
>;

export interface Collector {
  /**
   * Loads (or on first start creates) the TLS material, listens; resolves with the base URL,
   * e.g. 'https://127.0.0.1:PORT' ('http://…' with insecureDev) and the CA fingerprint agents pin
   * (`sha256:<hex>`, null with insecureDev).
   */
  start(): Promise<{ url: string; caFingerprint: string | null }>;
  /** The CA agents pin; null with insecureDev, and until start() has loaded it. */
  readonly tls: { caPem: string; caFingerprint: string } | null;
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
  /** Takes a scheduled-style backup now (then prunes); COLLECTOR_ERR_STATE when `backup` is not configured. */
  backupNow(): Promise<BackupResult>;
  /** Live console updates: publish to topics 'alert', 'unlock', 'seat' (docs/api.md § stream). */
  readonly live: LiveBus;
  /** The tamper-evident audit trail (append inside your state-changing transaction). */
  readonly audit: AuditLog;
  readonly users: UserService;
  /** Every /api/v1 route with its access rule (the authorization matrix test walks these). */
  routes(): RouteInfo[];
  /** The alert engine (work orders); it ticks on its own once started. */
  readonly alerts: AlertEngine;
  /** Delivery counters per configured alert channel (docs/alert-channels.md). */
  alertChannelStats(): Record<string, ChannelStats>;
  /** The USB unlock workflow, offline codes and the USB policy (docs/unlock-workflow.md). */
  readonly workflow: { readonly unlock: UnlockService; readonly offline: OfflineCodeService; readonly policy: PolicyService; readonly software: SoftwareService };
}

/** Default interval of the unlock sweep (collector-side expiry bookkeeping, lapsing undecided requests). */
export const UNLOCK_SWEEP_INTERVAL_MS = 5_000;

/** Default interval of the alert engine's tick (catch-up, escalation, missed heartbeats). */
export const ALERT_TICK_INTERVAL_MS = 15_000;
/** Default time stop() gives queued alerts to reach their channels. */
export const ALERT_STOP_DEADLINE_MS = 5_000;

type State = 'created' | 'starting' | 'started' | 'stopping' | 'stopped';

/**
 * Builds an unstarted collector: validates the config, opens (and migrates) the database in
 * `dataDir`, makes sure an API token exists, and wires HTTP API, enrollment and agent gateway.
 */
export function createCollector(opts: CollectorOptions): Collector {
  const { log: givenLog, clock: givenClock, security: givenSecurity, live: liveOptions, unlock: unlockOptions, backup: backupOptions, software: softwareOptions, ...configInput } = opts;
  const config = loadCollectorConfig(configInput);
  checkTlsNames(config.tls?.names ?? []);
  const log = (givenLog ?? silentLogger()).child({ component: 'collector' });
  const clock = givenClock ?? systemClock;
  const startedAt = clock.monotonic();
  // Alert config is checked before the database is touched. Channel options hold secrets: they
  // are never logged, and their validation errors name paths only.
  const alertsConfig = config.alerts ?? {};
  const alertEngineConfig = resolveAlertEngineConfig(alertsConfig.engine ?? {});
  const dispatcherOpts = alertsConfig.dispatcher ?? {};
  const dispatcher = createDispatcher({
    channels: (alertsConfig.channels ?? []).map((c) => createChannel(c, { log, clock })),
    log,
    clock,
    ...(dispatcherOpts.maxQueue === undefined ? {} : { maxQueue: dispatcherOpts.maxQueue }),
    ...(dispatcherOpts.sendTimeoutMs === undefined ? {} : { sendTimeoutMs: dispatcherOpts.sendTimeoutMs }),
    ...(dispatcherOpts.retry === undefined ? {} : { retry: dispatcherOpts.retry }),
  });

  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // `seatguard restore` refuses while this pid file names a live process (docs/operations.md).
  const releaseDataDir = acquireDataDirLock(config.dataDir, 'open the data dir');
  const store = openStore(join(config.dataDir, DB_FILE));
  let apiTokenInfo: ReturnType<typeof ensureApiToken>;
  try {
    apiTokenInfo = ensureApiToken({ store, dataDir: config.dataDir, clock, log });
  } catch (err) {
    store.close();
    throw err;
  }

  const security = securityOptions(givenSecurity);
  let audit: AuditLog;
  try {
    // A fresh key beside existing checkpoints would make every old checkpoint unverifiable and
    // hide the loss of the real key: refuse to start (every time) until the key is restored.
    let signingKey = loadSigningKey(config.dataDir, { create: false });
    if (!signingKey && store.audit.lastCheckpoint()) {
      throw new AppError('AUDIT_ERR_KEY', formatError('AUDIT_ERR_KEY', 'the signing key in keys/ is missing but signed checkpoints exist; restore it'));
    }
    signingKey ??= loadSigningKey(config.dataDir, { create: true });
    audit = createAuditLog(store.db, { clock, log, signingKey, checkpointEvery: security.auditCheckpointEvery });
    audit.sealPreexistingEvents();
  } catch (err) {
    store.close();
    throw err;
  }
  let offlineMasterKey: Buffer;
  try {
    offlineMasterKey = loadOrCreateOfflineMasterKey(config.dataDir);
  } catch (err) {
    store.close();
    throw err;
  }
  const users = createUserService({ store, audit, clock, log, scrypt: security.scrypt });
  const sessions = createSessionService({ store, clock, idleMs: security.sessionIdleMs, absoluteMs: security.sessionAbsoluteMs });
  const login = createLoginService({
    store,
    audit,
    sessions,
    limiter: createLoginLimiter(clock, security.loginLimits),
    clock,
    log,
    scrypt: security.scrypt,
  });

  // The service audits enrollments itself (in the enrolling transaction) and refused token reuse.
  const enrollment = createEnrollmentService({ store, clock, log, audit, offlineSecret: (agentId) => seatOfflineSecret(offlineMasterKey, agentId) });
  const auditedEnrollment: typeof enrollment = {
    createToken: (o) =>
      store.transaction(() => {
        const token = enrollment.createToken(o);
        audit.append({ actor: 'system', action: 'token.enrollment_create', targetType: 'enrollment_token', targetId: hashSecret(token).slice(0, 16), detail: { ...o } });
        return token;
      }),
    enroll: (req) => enrollment.enroll(req),
  };
  const challenges = createChallengeIssuer({ clock, ttlMs: config.challengeTtlMs });
  const queue = createIngestQueue({
    store,
    clock,
    log,
    commitIntervalMs: config.commitIntervalMs,
    maxBatch: config.maxBatch,
    maxPending: config.maxPending,
  });
  const live = createLiveBus({ log });
  const sse = createSseHub({ bus: live, log, ...(liveOptions ? { options: liveOptions } : {}) });
  queue.onCommit(
    publishCommittedEvents(live, (agentId) => {
      const a = store.agents.get(agentId);
      return a && { seat_name: a.seat_name, department: a.department };
    }),
  );
  const alertLive = createAlertLive({ bus: live, store, next: dispatcher });
  const alerts = createAlertEngine({
    db: store.db,
    clock,
    log,
    dispatcher: alertLive.sink,
    config: alertEngineConfig,
    // Called only while evaluating events, after `software` below exists.
    approvedSoftware: (agentId, pkg) => software.approves(agentId, pkg),
    // Called only while evaluating events, after every service below exists.
    maintenanceCodeFlag: (agentId, event) => maintenanceCodes.flagOf(agentId, event as AgentEvent),
  });
  alertLive.attach(alerts);
  // Inside each ingest transaction: evaluate the new events, so one fsync covers events and alerts
  // (docs/alerts.md). After the commit (and its acks): deliver, and publish to the live console.
  // Synchronous, never throws, never waits on delivery, so a dead channel cannot slow ingest.
  queue.onTransaction((events) =>
    alerts.evaluateInTransaction(events.map((e) => ({ id: e.eventId, agent_id: e.agentId, seq: e.msg.seq, type: e.msg.type, ts: e.msg.ts, body: e.msg.body, received_at: e.receivedAt }))),
  );
  queue.onCommit((events) => alertLive.committed(events));
  const statsRepo = createStatsRepo(store.db);
  const reportRepo = createReportRepo(store.db);
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
      maxConnections: config.maxConnections,
      maxMessagesPerSecond: config.maxMessagesPerSecond,
      maxBufferedBytes: config.maxBufferedBytes,
    },
    // grants.sync before policy.updated: the agent drops revoked grants before anything else.
    welcomeFrames: [(agentId) => sensorConfig.frameFor(agentId), (agentId) => unlock.syncFrame(agentId), () => usbPolicy.frame()],
  });
  const unlockPolicy: UnlockPolicy = { ...DEFAULT_UNLOCK_POLICY, ...unlockOptions?.policy };
  const unlock = createUnlockService({ store, audit, channel: gateway, clock, log, policy: unlockPolicy, live });
  const offline = createOfflineCodeService({ store, audit, clock, log, policy: unlock.policy, masterKey: offlineMasterKey });
  const usbPolicy = createPolicyService({ store, audit, channel: gateway, clock, log });
  usbPolicy.ensureInitial();
  const workflowEvents = createWorkflowEventHandler({ store, audit, unlock, offline, policy: usbPolicy, log });
  // Workflow reports (unlock.requested, grant.*, offline.unlock_used, policy.applied) drive the cases once committed.
  queue.onCommit((events) => workflowEvents.handle(events));
  // Agent self-protection: maintenance codes, and the seats' reports of using them (docs/self-protection.md).
  const maintenanceCodes = createMaintenanceCodeService({ store, audit, clock, log, seatSecret: (agentId) => seatOfflineSecret(offlineMasterKey, agentId) });
  // Software install requests (docs/software-requests.md): same machine as unlocks; approvals reach the seat in its sensor.config.
  const software = createSoftwareService({
    store,
    repo: createSoftwareRequestRepo(store.db),
    audit,
    clock,
    log,
    unlockPolicy: unlock.policy,
    ...(softwareOptions?.bounds ? { bounds: softwareOptions.bounds } : {}),
    pushConfig: (agentId) => sensorConfig.pushTo(agentId),
    live,
  });
  const softwareEvents = createSoftwareEventHandler({ store, software, log });
  queue.onCommit((events) => softwareEvents.handle(events));
  // Maintenance code uses and software fulfilment commit with the events that report them (one
  // hook, one savepoint per batch), after the alert engine's hook, which reads the uses before them.
  queue.onTransaction((events) => {
    const uses = maintenanceCodes.uses.inTransaction(events);
    const fulfilled = softwareEvents.inTransaction(events);
    if (!uses || !fulfilled) return uses ?? fulfilled;
    return () => {
      uses();
      fulfilled();
    };
  });
  let unlockTimer: NodeJS.Timeout | undefined;
  const sensorConfig = createSensorConfigService({
    repo: createSensorConfigRepo(store.db),
    transaction: (fn) => store.transaction(fn),
    audit,
    channel: gateway,
    clock,
    log,
    seatAllowRules: (agentId) => software.allowRules(agentId),
  });
  let tlsMaterial: TlsMaterial | null = null;
  const http = buildHttpApp({
    log,
    https: !config.insecureDev,
    authenticator: createApiAuthenticator({ store, clock, sessions }),
    publicRoutes: [
      healthRoutes({ store, clock, version: COLLECTOR_VERSION, startedAt, agentsConnected: () => gateway.connectedCount() }),
      agentRoutes({ enrollment: auditedEnrollment, challenges, caPem: () => tlsMaterial?.caPem ?? null, limiter: createLoginLimiter(clock, security.enrollLimits) }),
      loginRoute({ login, clock }),
      openApiRoutes,
      webConsole(),
    ],
    apiV1Routes: [
      seatRoutes({ store, audit, clock }),
      eventRoutes({ store, audit }),
      authRoutes({ login, users, sessions }),
      userRoutes({ users, enrollment, store, audit, clock }),
      auditRoutes({ audit }),
      sensorConfigRoutes({ service: sensorConfig }),
      alertRoutes({ alerts, store, audit, live: alertLive.publisher }),
      handoverRoutes({ alerts, store, audit }),
      dashboardRoutes({ stats: statsRepo, clock }),
      deviceRoutes({ devices: store.devices, reports: reportRepo, audit }),
      streamRoutes({ hub: sse }),
      exportRoutes({ reports: reportRepo, devices: store.devices, audit, clock }),
      reportRoutes({ reports: reportRepo, audit, clock }),
      unlockRoutes({ unlock, offline, users: store.users }),
      softwareRoutes({ software }),
      policyRoutes({ policy: usbPolicy }),
      maintenanceRoutes({ codes: maintenanceCodes }),
      agentRevokeRoutes({ store, audit, clock, gateway }),
    ],
  });
  // Registered before fastify loads the route plugins (at ready), so it sees every route.
  const routeCatalog = installRouteGuard(http, log);
  let checkpointTimer: NodeJS.Timeout | undefined;
  let alertTimer: NodeJS.Timeout | undefined;
  http.server.on('upgrade', gateway.handleUpgrade);
  const backups = backupOptions ? createBackupScheduler({ db: store.db, dataDir: config.dataDir, options: backupOptions, clock, log }) : undefined;

  let state: State = 'created';
  let stopping: Promise<void> | undefined;

  async function doStop(): Promise<void> {
    const wasStarted = state === 'started' || state === 'starting';
    state = 'stopping';
    log.info({}, 'collector stopping');
    if (alertTimer) clearInterval(alertTimer);
    if (unlockTimer) clearInterval(unlockTimer);
    gateway.stopAccepting();
    try {
      // Commit and ack everything already received before any socket closes: no acked event is
      // lost, and no received event goes unacked unless its socket is already gone.
      queue.close();
    } catch (err) {
      log.error({ err }, 'final commit failed');
    }
    await gateway.closeAll(CLOSE_CODES.shuttingDown, 'collector shutting down', 5_000);
    // Live streams never end on their own; http.close() would wait for them.
    sse.closeAll();
    if (wasStarted) {
      // A client that opened a connection and never sent a request would hold close() open
      // indefinitely: after a short grace, cut whatever is still connected.
      const grace = setTimeout(() => http.server.closeAllConnections(), 2_000);
      grace.unref();
      await http.close();
      clearTimeout(grace);
    }
    // Alerts raised by the final commit above still get their chance to reach the channels.
    await dispatcher.stop({ deadlineMs: dispatcherOpts.stopDeadlineMs ?? ALERT_STOP_DEADLINE_MS });
    if (checkpointTimer) clearInterval(checkpointTimer);
    try {
      // Sign the head on the way out, so a tail cut off while the collector is down shows.
      audit.checkpoint();
    } catch (err) {
      log.error({ err }, 'final audit checkpoint failed');
    }
    await backups?.stop();
    store.close();
    releaseDataDir();
    state = 'stopped';
    log.info({}, 'collector stopped');
  }

  return {
    async start() {
      if (state !== 'created') throw new AppError('COLLECTOR_ERR_STATE', formatError('COLLECTOR_ERR_STATE', 'start', state));
      state = 'starting';
      if (config.insecureDev) {
        log.warn({ insecure_dev: true }, 'insecure-dev: agent traffic and console sessions are unencrypted');
      } else {
        // Before anything else starts: a collector without usable TLS material must not run at all.
        tlsMaterial = await resolveTlsMaterial({ dataDir: config.dataDir, ...(config.tls ? { tls: config.tls } : {}), log });
        (http.server as unknown as TlsServer).setSecureContext({ cert: tlsMaterial.certPem, key: tlsMaterial.keyPem });
      }
      store.agents.resetOnline();
      gateway.start();
      backups?.start();
      checkpointTimer = setInterval(() => {
        try {
          audit.maybeCheckpoint();
        } catch (err) {
          log.error({ err }, 'audit checkpoint failed');
        }
      }, security.auditCheckpointIntervalMs);
      checkpointTimer.unref();
      try {
        // Events stored while the collector was down (or after a crash between commit and
        // evaluation) are evaluated before new ones arrive; a larger backlog is left to tick().
        alerts.catchUp();
      } catch (err) {
        log.error({ err }, 'alert catch-up at start failed; retrying on tick');
      }
      alertTimer = setInterval(() => alerts.tick(), alertsConfig.tickIntervalMs ?? ALERT_TICK_INTERVAL_MS);
      alertTimer.unref();
      const sweepUnlocks = () => {
        try {
          unlock.sweep();
          software.sweep();
        } catch (err) {
          log.error({ err }, 'unlock sweep failed');
        }
      };
      try {
        // Workflow events committed but not applied before a crash, then grants that expired while down.
        workflowEvents.recover();
        softwareEvents.recover();
        maintenanceCodes.uses.recover();
      } catch (err) {
        log.error({ err }, 'workflow event recovery failed');
      }
      sweepUnlocks();
      unlockTimer = setInterval(sweepUnlocks, unlockOptions?.sweepIntervalMs ?? UNLOCK_SWEEP_INTERVAL_MS);
      unlockTimer.unref();
      await http.listen({ host: config.host, port: config.port });
      state = 'started';
      const addr = http.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.port;
      const host = config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host;
      const url = `${config.insecureDev ? 'http' : 'https'}://${host}:${port}`;
      const caFingerprint = tlsMaterial?.caFingerprint ?? null;
      log.info(
        { url, api_token_file: apiTokenInfo.file, version: COLLECTOR_VERSION, ca_fingerprint: caFingerprint, ca_file: tlsMaterial?.caFile ?? null },
        'collector listening',
      );
      return { url, caFingerprint };
    },
    stop() {
      stopping ??= doStop();
      return stopping;
    },
    get tls() {
      return tlsMaterial && { caPem: tlsMaterial.caPem, caFingerprint: tlsMaterial.caFingerprint };
    },
    createEnrollmentToken: (o) => auditedEnrollment.createToken(o),
    apiToken: apiTokenInfo.token ?? '',
    apiTokenFile: apiTokenInfo.file,
    store,
    config,
    http,
    stats: () => ({ agentsConnected: gateway.connectedCount(), pendingEvents: queue.pending() }),
    backupNow: () =>
      backups ? backups.runNow() : Promise.reject(new AppError('COLLECTOR_ERR_STATE', formatError('COLLECTOR_ERR_STATE', 'back up', 'without a backup dir'))),
    audit,
    users,
    routes: routeCatalog,
    alerts,
    alertChannelStats: () => dispatcher.stats(),
    workflow: { unlock, offline, policy: usbPolicy, software },
    live,
  };
}
