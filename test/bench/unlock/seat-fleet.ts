import { systemClock } from '../../../shared/clock.js';
import { silentLogger } from '../../../shared/logger.js';
import { createAgent, type Agent } from '../../../agent/agent.js';
import { AGENT_VERSION } from '../../../agent/config.js';
import { createAgentUnlock, type AgentUnlock } from '../../../agent/grants/agent-unlock.js';
import { enrollAgent } from '../../../agent/identity.js';
import { FakeUsbPlatform } from '../../../agent/platform/fake/fake-platform.js';
import { createOutbox, type Outbox } from '../../../agent/store/outbox.js';
import { createCollectorClient, type CollectorClient } from '../../../agent/transport/collector-client.js';

/**
 * Simulated seats for the unlock benchmark: each is the real agent (enforcement loop, unlock
 * workflow, ws client, Ed25519 identity) on its own fake platform, with the outbox and the grant
 * table in memory. The platform reports when a storage interface gets authorized.
 */
export interface BenchSeat {
  name: string;
  agentId: string;
  platform: FakeUsbPlatform;
  agent: Agent;
  client: CollectorClient;
  unlock: AgentUnlock;
  outbox: Outbox;
  /** performance.now() of the first authorization of each interface. */
  authorizedAt: Map<string, number>;
  /** Called on every interface authorization. */
  onAuthorized: ((iface: string, at: number) => void) | null;
}

async function startOne(collectorUrl: string, token: string, name: string): Promise<BenchSeat> {
  const log = silentLogger();
  const e = await enrollAgent({ collectorUrl, token, hostname: name, platform: 'fake', seatName: name });
  const platform = new FakeUsbPlatform();
  const outbox = createOutbox({ path: ':memory:' });
  const unlock = createAgentUnlock({ stateDir: null, platform, emit: (type, body) => void outbox.append(type, body), clock: systemClock, log });
  const agent = createAgent({
    platform: { name: 'fake', usb: platform },
    outbox,
    log,
    clock: systemClock,
    config: { resyncIntervalMs: 0, flushTimeoutMs: 500 },
    policy: unlock.policy,
    extensions: [unlock],
  });
  const seat: BenchSeat = {
    name,
    agentId: e.agentId,
    platform,
    agent,
    client: null as unknown as CollectorClient,
    unlock,
    outbox,
    authorizedAt: new Map(),
    onAuthorized: null,
  };
  // The measurement point: the moment the (fake) kernel attribute is written.
  const authorize = platform.authorizeInterface.bind(platform);
  platform.authorizeInterface = async (iface: string) => {
    await authorize(iface);
    const at = performance.now();
    if (!seat.authorizedAt.has(iface)) seat.authorizedAt.set(iface, at);
    seat.onAuthorized?.(iface, at);
  };
  await agent.start();
  seat.client = createCollectorClient({
    collectorUrl,
    identity: { agentId: e.agentId, privateKey: e.privateKey },
    outbox,
    log,
    hello: { agent_version: AGENT_VERSION, platform: 'fake', hostname: name },
    lockState: () => agent.lockState(),
    backoffBaseMs: 500,
    backoffCapMs: 10_000,
    onMessage: (msg) => unlock.onCollectorMessage(msg),
  });
  agent.connect(seat.client);
  return seat;
}

/** Enrolls and connects `tokens.length` seats, `concurrency` at a time; resolves when all are welcomed. */
export async function startFleet(collectorUrl: string, tokens: readonly string[], runId: string, concurrency = 50): Promise<BenchSeat[]> {
  const seats: BenchSeat[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= tokens.length) return;
        seats.push(await startOne(collectorUrl, tokens[i] as string, `bench-${runId}-${String(i).padStart(5, '0')}`));
      }
    }),
  );
  const deadline = Date.now() + 120_000;
  while (seats.some((s) => !s.client.status().ready)) {
    if (Date.now() > deadline) throw new Error(`${seats.filter((s) => !s.client.status().ready).length} seats never connected`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return seats;
}

/** Stops every seat (no unblocking) and frees its databases. */
export async function stopFleet(seats: readonly BenchSeat[]): Promise<void> {
  await Promise.all(seats.map((s) => s.agent.stop('benchmark finished').catch(() => undefined)));
  for (const s of seats) {
    s.unlock.close();
    s.outbox.close();
  }
}
