import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import type { AgentEventType, EventBody, LockState } from '../shared/protocol/messages.js';
import { AGENT_VERSION, type AgentConfig } from './config.js';
import { createDefaultPolicy } from './enforcement/default-policy.js';
import type { UsbPolicy } from './enforcement/policy.js';
import { createUsbLock, type LockSnapshot } from './enforcement/usb-lock.js';
import type { Platform } from './platform/platform.js';
import type { Outbox } from './store/outbox.js';
import type { CollectorClient } from './transport/collector-client.js';

/** Dependencies of {@link createAgent}; all injected so tests can drive them. */
export interface AgentDeps {
  platform: Platform;
  outbox: Outbox;
  log: Logger;
  clock: Clock;
  config: Pick<AgentConfig, 'resyncIntervalMs' | 'flushTimeoutMs'>;
  /** Default: the built-in policy (storage blocked, everything else allowed). */
  policy?: UsbPolicy;
  /** The collector link; may also be attached later with connect() (after enrollment). */
  client?: CollectorClient;
  /** Parts that ride on enforcement (the unlock workflow: agent/grants/agent-unlock.ts). */
  extensions?: AgentExtension[];
  /** Extra agent.started fields (self-protection: code hash, rebaseline; agent/selfprotect). */
  startedFields?: () => Pick<EventBody<'agent.started'>, 'code_sha256' | 'rebaselined_by'>;
  /** How often the outbox's dropped summary is turned into an `outbox.dropped` event. Default 60 s. */
  dropReportIntervalMs?: number;
}

/**
 * A component that follows enforcement: it sees every event the lock records (after it is queued),
 * starts once the lock runs (before the collector link) and may ask for a re-enforcement pass.
 */
export interface AgentExtension {
  observe?(type: AgentEventType, body: unknown): void;
  start?(ctx: { resync(reason: string): Promise<void> }): Promise<void>;
  /** Called on stop, before agent.stopping is recorded. Must not unblock anything. */
  stop?(): Promise<void>;
}

/** Self-protection fields of agent.stopping: whether a maintenance code authorized the stop. */
export type StoppingFields = Omit<EventBody<'agent.stopping'>, 'reason'>;

/** One running seat agent. */
export interface Agent {
  /** Starts enforcement (the lock never waits for the network), then the client if there is one. */
  start(): Promise<LockSnapshot>;
  /** Attaches and starts the collector client once the identity is known. */
  connect(client: CollectorClient): void;
  /** Records agent.stopping, tries to deliver it within flushTimeoutMs, stops. Never unblocks USB. */
  stop(reason?: string, fields?: StoppingFields): Promise<void>;
  lockState(): LockState;
  snapshot(): LockSnapshot;
  /** Re-locks controllers and re-enforces every device (after a grant or policy change). */
  resync(reason: string): Promise<void>;
}

/** Wires platform → enforcement → outbox → collector client. Returns an unstarted agent. */
export function createAgent(deps: AgentDeps): Agent {
  const { outbox, platform } = deps;
  const log = deps.log.child({ component: 'agent' });
  const extensions = deps.extensions ?? [];
  function observe<T extends AgentEventType>(type: T, body: EventBody<T>): void {
    for (const ext of extensions) {
      try {
        ext.observe?.(type, body);
      } catch (err) {
        log.error({ err, msg_type: type }, 'agent extension failed to observe an event');
      }
    }
  }
  const lock = createUsbLock({
    platform: platform.usb,
    policy: deps.policy ?? createDefaultPolicy(),
    // Every event is committed to the outbox before anything else happens with it; extensions see
    // it even when the append failed, since the device state it describes is real either way.
    emit: (type, body) => {
      try {
        outbox.append(type, body);
      } finally {
        observe(type, body);
      }
    },
    log: deps.log,
    clock: deps.clock,
    resyncIntervalMs: deps.config.resyncIntervalMs,
  });
  let client: CollectorClient | null = null;
  let state: 'created' | 'started' | 'stopped' = 'created';
  let dropReportTimer: NodeJS.Timeout | null = null;

  // The outbox decides whether there is anything to report (and holds back while a report is
  // queued); this only gives it regular chances, the first right after start so that drops
  // summarized before a restart are reported at once.
  function reportDropped(): void {
    try {
      for (const e of outbox.reportDropped()) log.warn({ seq: e.seq }, 'outbox bounds dropped low-severity events; reported as outbox.dropped');
    } catch (err) {
      log.error({ err }, 'could not report dropped outbox events');
    }
  }

  function recordStarted(s: LockSnapshot): void {
    try {
      outbox.append('agent.started', { agent_version: AGENT_VERSION, platform: platform.name, lock_state: s.state, detail: s.detail.slice(0, 512), ...deps.startedFields?.() });
    } catch (err) {
      log.error({ err }, 'could not record agent.started');
    }
  }

  function connect(c: CollectorClient): void {
    if (client || state === 'stopped') return;
    client = c;
    c.start();
  }

  return {
    async start() {
      if (state !== 'created') return lock.state();
      state = 'started';
      const snap = await lock.start(recordStarted);
      reportDropped();
      dropReportTimer = setInterval(reportDropped, deps.dropReportIntervalMs ?? 60_000);
      dropReportTimer.unref();
      for (const ext of extensions) {
        try {
          await ext.start?.({ resync: (reason) => lock.resync(reason) });
        } catch (err) {
          log.error({ err }, 'agent extension failed to start');
        }
      }
      log.info({ lock_state: snap.state, detail: snap.detail, devices: snap.devices, platform: platform.name }, 'agent started');
      if (deps.client) connect(deps.client);
      return snap;
    },

    connect,

    async stop(reason = 'graceful stop', fields: StoppingFields = {}) {
      if (state === 'stopped') return;
      const wasStarted = state === 'started';
      state = 'stopped';
      if (dropReportTimer) clearInterval(dropReportTimer);
      for (const ext of extensions) {
        try {
          await ext.stop?.();
        } catch (err) {
          log.error({ err }, 'agent extension failed to stop');
        }
      }
      await lock.stop();
      if (wasStarted) {
        try {
          outbox.append('agent.stopping', { reason: reason.slice(0, 256), ...fields });
        } catch (err) {
          log.error({ err }, 'could not record agent.stopping');
        }
      }
      if (client) {
        const delivered = await client.flush(deps.config.flushTimeoutMs);
        if (!delivered) log.info({ depth: outbox.depth() }, 'stopping with undelivered events; they are sent after restart');
        await client.stop();
      }
      log.info({ reason }, 'agent stopped');
    },

    lockState: () => lock.state().state,
    snapshot: () => lock.state(),
    resync: (reason) => lock.resync(reason),
  };
}
