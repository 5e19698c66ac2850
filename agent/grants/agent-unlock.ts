import { join } from 'node:path';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import type { AgentEventType, CollectorMessage } from '../../shared/protocol/messages.js';
import type { UsbPolicy } from '../enforcement/policy.js';
import type { EmitFn } from '../enforcement/usb-lock.js';
import type { IpcRequest, IpcResponse } from '../ipc/ipc-protocol.js';
import { createSeatService } from '../ipc/seat-service.js';
import type { UsbPlatform } from '../platform/platform.js';
import { handlePolicyUpdated } from '../policy/policy-updates.js';
import { createRulesPolicy, type RulesPolicy } from '../policy/rules-policy.js';
import { systemBootClock, type BootClock } from './boot-clock.js';
import { createGrantManager, type GrantManager } from './grant-manager.js';
import { GRANTS_FILE, openGrantStore, type GrantStore } from './grant-store.js';
import { createOfflineUnlock, type OfflineSecret, type OfflineUnlock } from './offline-unlock.js';

/**
 * The agent side of the unlock workflow in one piece: the rules policy, the grant table wrapped
 * around it, offline codes and the seat request handler, plus the hooks createAgent and the
 * collector client call. Built before the agent (its policy goes into the lock), started after it.
 */
export interface AgentUnlockDeps {
  /** State dir for grants.db and policy.json; null keeps both in memory (simulations, benchmarks). */
  stateDir: string | null;
  platform: UsbPlatform;
  /** Records an event (the outbox). */
  emit: EmitFn;
  clock: Clock;
  /** Default: CLOCK_MONOTONIC + /proc boot id. */
  bootClock?: BootClock;
  log: Logger;
  /** Longest wait between two expiry checks. Default 1 000 ms. */
  checkIntervalMs?: number;
}

export interface AgentUnlock {
  /** The policy for createAgent: grants first, then the USBGuard rules. */
  readonly policy: UsbPolicy;
  readonly rules: RulesPolicy;
  readonly grants: GrantManager;
  readonly offline: OfflineUnlock;
  /** AgentExtension: sees every event enforcement records. */
  observe(type: AgentEventType, body: unknown): void;
  /** AgentExtension: called once enforcement runs. */
  start(ctx: { resync(reason: string): Promise<void> }): Promise<void>;
  /** AgentExtension: stops timers; never changes what is authorized. */
  stop(): Promise<void>;
  /** The collector client's onMessage hook: unlock.granted/revoked, grants.sync, policy.updated. */
  onCollectorMessage(msg: CollectorMessage): void;
  /** Resolves when every collector command received so far has been handled. */
  settled(): Promise<void>;
  /** Known after enrollment (identity.ts reads it from the enrollment answer). */
  setOfflineSecret(secret: OfflineSecret | null): void;
  /** The handler for the local socket (agent/ipc). */
  handleSeatRequest(req: IpcRequest): Promise<IpcResponse>;
  /** Closes grants.db (after stop). */
  close(): void;
}

/**
 * SECURITY: an unusable grants.db must not stop enforcement. The agent then keeps grants in memory
 * only, so a restart forgets them, which can only close devices (fail closed); it is logged as an error.
 */
function openStoreOrMemory(path: string, log: Logger): GrantStore {
  try {
    return openGrantStore(path);
  } catch (err) {
    if (path === ':memory:') throw err;
    log.error({ err }, 'grant store unusable; grants are kept in memory and end at the next restart');
    return openGrantStore(':memory:');
  }
}

/** Opens the grant table (in memory if grants.db is unusable) and builds the pieces. */
export function createAgentUnlock(deps: AgentUnlockDeps): AgentUnlock {
  const log = deps.log.child({ component: 'unlock' });
  const bootClock = deps.bootClock ?? systemBootClock();
  const store = openStoreOrMemory(deps.stateDir ? join(deps.stateDir, GRANTS_FILE) : ':memory:', log);
  const rules = createRulesPolicy({ stateDir: deps.stateDir, clock: deps.clock, log: deps.log });
  const grants = createGrantManager({
    store,
    base: rules.policy,
    emit: deps.emit,
    clock: deps.clock,
    bootClock,
    readDevice: (port) => deps.platform.readDevice(port),
    log: deps.log,
    ...(deps.checkIntervalMs === undefined ? {} : { checkIntervalMs: deps.checkIntervalMs }),
  });
  let secret: OfflineSecret | null = null;
  const offline = createOfflineUnlock({ secret: () => secret, monotonicMs: () => bootClock.monotonicMs() });
  const seat = createSeatService({ platform: deps.platform, grants, offline, emit: deps.emit, log: deps.log });
  let resync: (reason: string) => Promise<void> = () => Promise.resolve();
  let commands: Promise<void> = Promise.resolve();

  async function handle(msg: CollectorMessage): Promise<void> {
    const sentAt = Date.parse(msg.ts);
    switch (msg.type) {
      case 'unlock.granted':
        return grants.receive(msg.body, sentAt);
      case 'unlock.revoked':
        return grants.revoke(msg.body.grant_id, msg.body.reason);
      case 'grants.sync':
        return grants.sync(msg.body.grants, sentAt);
      case 'policy.updated':
        return handlePolicyUpdated(msg.body, { rules, emit: deps.emit, resync: (r) => resync(r), log });
      default:
        return;
    }
  }

  return {
    policy: grants.policy,
    rules,
    grants,
    offline,
    observe: (type, body) => grants.observe(type, body),
    async start(ctx) {
      resync = (r) => ctx.resync(r);
      await grants.start(resync);
    },
    stop: () => grants.stop(),
    onCollectorMessage(msg) {
      // In arrival order: a grants.sync must not overtake the unlock.revoked sent before it.
      commands = commands.then(() => handle(msg)).catch((err: unknown) => log.error({ err, msg_type: msg.type }, 'collector command failed'));
    },
    settled: () => commands.then(() => grants.idle()),
    setOfflineSecret(s) {
      secret = s;
    },
    handleSeatRequest: (req) => seat(req),
    close: () => store.close(),
  };
}
