import { fileURLToPath } from 'node:url';
import type { AgentEventType, EventBody } from '../../shared/protocol/messages.js';
import { loadDeviceFixtures, type FakeDeviceSpec } from '../../agent/platform/fake/device-spec.js';
import { join } from 'node:path';
import { systemClock } from '../../shared/clock.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { createAgent, type Agent } from '../../agent/agent.js';
import { AGENT_VERSION } from '../../agent/config.js';
import { ensureIdentity, type AgentIdentity } from '../../agent/identity.js';
import { FakeUsbPlatform } from '../../agent/platform/fake/fake-platform.js';
import { createOutbox, type Outbox } from '../../agent/store/outbox.js';
import { createCollectorClient } from '../../agent/transport/collector-client.js';
import { establishCollectorCa } from '../../agent/transport/ca-pin.js';
import { createAgentUnlock, type AgentUnlock } from '../../agent/grants/agent-unlock.js';
import type { BootClock } from '../../agent/grants/boot-clock.js';
import { createIpcServer, type IpcServer } from '../../agent/ipc/ipc-server.js';

/** Folder of the recorded device fixtures (test/fixtures/devices). */
export const DEVICE_FIXTURE_DIR = fileURLToPath(new URL('../fixtures/devices', import.meta.url));

let cache: Map<string, FakeDeviceSpec> | null = null;

/** One device fixture by file name without ".json" (e.g. "sandisk-ultra-fit"); a fresh copy each call. */
export function deviceFixture(name: string): FakeDeviceSpec {
  cache ??= loadDeviceFixtures(DEVICE_FIXTURE_DIR);
  const spec = cache.get(name);
  if (!spec) throw new Error(`no device fixture ${name}`);
  return structuredClone(spec);
}

export interface RecordedEvent<T extends AgentEventType = AgentEventType> {
  type: T;
  body: EventBody<T>;
}

/** An emit function that records events in memory, for enforcement tests that need no outbox. */
export function recordingEmitter(): {
  events: RecordedEvent[];
  emit: <T extends AgentEventType>(type: T, body: EventBody<T>) => void;
  ofType: <T extends AgentEventType>(type: T) => Array<EventBody<T>>;
} {
  const events: RecordedEvent[] = [];
  return {
    events,
    emit: (type, body) => {
      events.push({ type, body } as RecordedEvent);
    },
    ofType: <T extends AgentEventType>(type: T) => events.filter((e) => e.type === type).map((e) => e.body as EventBody<T>),
  };
}

// ---------------------------------------------------------------------------------------------
// A whole agent in-process: fake platform, real SQLite outbox, real identity and ws client.


export interface InProcessAgent {
  agent: Agent;
  platform: FakeUsbPlatform;
  outbox: Outbox;
  identity: AgentIdentity;
  /** The unlock workflow pieces (grants, rules policy, offline codes), when started with `unlock`. */
  unlock: AgentUnlock | null;
  /** The seat socket (STATE/agent.sock), when started with `unlock.ipc`. */
  socketPath: string | null;
  /** Stops the agent and closes the outbox. */
  stop(): Promise<void>;
}

/** Options of the unlock workflow in an in-process agent. */
export interface InProcessUnlockOptions {
  /** Default: the real CLOCK_MONOTONIC + boot id. */
  bootClock?: BootClock;
  /** Longest wait between two expiry checks. Default 1 000 ms. */
  checkIntervalMs?: number;
  /** Also listen on STATE/agent.sock for the seat CLI. */
  ipc?: boolean;
}

/**
 * Enrolls (first time, with `token`) or reuses the identity in `stateDir`, then starts an agent on a
 * fresh FakeUsbPlatform with test tunables (backoff 10 ms, no periodic resync).
 */
export async function startInProcessAgent(opts: {
  collectorUrl: string;
  stateDir: string;
  token?: string;
  seatName?: string;
  platform?: FakeUsbPlatform;
  log?: Logger;
  /** Wire the unlock workflow (grant policy, collector commands, optional seat socket). */
  unlock?: InProcessUnlockOptions;
  /** Outbox in memory instead of STATE/outbox.db (benchmarks with thousands of seats). */
  memoryOutbox?: boolean;
  /** The collector CA pin for an https URL (first start; later starts use STATE/collector-ca.pem). */
  caFingerprint?: string;
}): Promise<InProcessAgent> {
  const log = opts.log ?? silentLogger();
  const ca = opts.collectorUrl.startsWith('https:')
    ? await establishCollectorCa({ collectorUrl: opts.collectorUrl, stateDir: opts.stateDir, pin: opts.caFingerprint ?? null, log })
    : null;
  const identity = await ensureIdentity({
    ca,
    stateDir: opts.stateDir,
    collectorUrl: opts.collectorUrl,
    enrollToken: opts.token ?? null,
    hostname: opts.seatName ?? 'seat-test',
    platform: 'fake',
    seatName: opts.seatName ?? null,
    log,
  });
  const platform = opts.platform ?? new FakeUsbPlatform();
  const outbox = createOutbox({ path: opts.memoryOutbox ? ':memory:' : join(opts.stateDir, 'outbox.db') });
  const unlock = opts.unlock
    ? createAgentUnlock({
        stateDir: opts.memoryOutbox ? null : opts.stateDir,
        platform,
        emit: (type, body) => void outbox.append(type, body),
        clock: systemClock,
        log,
        ...(opts.unlock.bootClock ? { bootClock: opts.unlock.bootClock } : {}),
        ...(opts.unlock.checkIntervalMs === undefined ? {} : { checkIntervalMs: opts.unlock.checkIntervalMs }),
      })
    : null;
  if (unlock && identity.offlineSecret) unlock.setOfflineSecret({ agentId: identity.agentId, secret: identity.offlineSecret });
  const agent = createAgent({
    platform: { name: 'fake', usb: platform },
    outbox,
    log,
    clock: systemClock,
    config: { resyncIntervalMs: 0, flushTimeoutMs: 1_000 },
    ...(unlock ? { policy: unlock.policy, extensions: [unlock] } : {}),
  });
  await agent.start();
  let ipc: IpcServer | null = null;
  const socketPath = unlock && opts.unlock?.ipc ? join(opts.stateDir, 'agent.sock') : null;
  if (unlock && socketPath) {
    ipc = createIpcServer({ socketPath, handle: (req) => unlock.handleSeatRequest(req), log, monotonicMs: () => systemClock.monotonic() });
    await ipc.start();
  }
  agent.connect(
    createCollectorClient({
      collectorUrl: opts.collectorUrl,
      ca,
      identity,
      outbox,
      log,
      hello: { agent_version: AGENT_VERSION, platform: 'fake', hostname: opts.seatName ?? 'seat-test' },
      lockState: () => agent.lockState(),
      backoffBaseMs: 10,
      backoffCapMs: 100,
      ...(unlock ? { onMessage: (msg) => unlock.onCollectorMessage(msg) } : {}),
    }),
  );
  return {
    agent,
    platform,
    outbox,
    identity,
    unlock,
    socketPath,
    async stop() {
      await ipc?.stop();
      await agent.stop('test teardown');
      unlock?.close();
      outbox.close();
    },
  };
}
