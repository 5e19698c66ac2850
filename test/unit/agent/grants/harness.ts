import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import type { AgentEventType } from '../../../../shared/protocol/messages.js';
import { createUsbLock, type UsbLock } from '../../../../agent/enforcement/usb-lock.js';
import { ManualBootClock } from '../../../../agent/grants/boot-clock.js';
import { createGrantManager, type GrantManager, type GrantSpecBody } from '../../../../agent/grants/grant-manager.js';
import { openGrantStore, type GrantStore } from '../../../../agent/grants/grant-store.js';
import { fakeDeviceHash, type FakeDeviceSpec } from '../../../../agent/platform/fake/device-spec.js';
import { FakeUsbPlatform } from '../../../../agent/platform/fake/fake-platform.js';
import { createRulesPolicy } from '../../../../agent/policy/rules-policy.js';
import { deviceFixture, recordingEmitter } from '../../../helpers/fake-agent.js';

/** 2026-01-15 09:30:00 UTC: the collector's and the seat's wall clock at the start of each test. */
export const T0 = Date.UTC(2026, 0, 15, 9, 30, 0);
export const MIN = 60_000;

/** The SanDisk fixture with a given serial. */
export function stick(serial = '4C530001130820116055'): FakeDeviceSpec {
  return { ...deviceFixture('sandisk-ultra-fit'), serial };
}

/** A grant for `spec` on `port`, issued at T0 for `durationMin`, sent at T0. */
export function grantFor(spec: FakeDeviceSpec, port: string | null, over: Partial<GrantSpecBody> = {}, durationMin = 30): GrantSpecBody {
  return {
    grant_id: 'grt_1',
    request_id: 'req_1',
    device: { vendor_id: spec.vendor_id, product_id: spec.product_id, serial: spec.serial ?? null, hash: fakeDeviceHash(spec), port },
    any_port: false,
    allow_reinsert: false,
    issued_at: new Date(T0).toISOString(),
    expires_at: new Date(T0 + durationMin * MIN).toISOString(),
    duration_ms: durationMin * MIN,
    warn_before_ms: 5 * MIN,
    executor: 'usr_maint',
    ...over,
  };
}

export interface Seat {
  platform: FakeUsbPlatform;
  lock: UsbLock;
  grants: GrantManager;
  wall: ManualClock;
  boot: ManualBootClock;
  store: GrantStore;
  rec: ReturnType<typeof recordingEmitter>;
  /** Every grant.* event body of a type. */
  ended(): Array<{ grant_id: string; reason: string; relocked_interfaces: string[] }>;
  storageAuthorized(port: string): boolean | undefined;
  stop(): Promise<void>;
}

export interface SeatOptions {
  platform?: FakeUsbPlatform;
  store?: GrantStore;
  wall?: ManualClock;
  boot?: ManualBootClock;
}

/**
 * One seat: fake platform → usb lock with the grant policy (over the default rules) → recorded
 * events, observed by the grant manager as createAgent wires it. Nothing runs on timers the test
 * does not control: expiry is driven with grants.check() after moving the clocks.
 */
export async function startSeat(opts: SeatOptions = {}): Promise<Seat> {
  const platform = opts.platform ?? new FakeUsbPlatform();
  const wall = opts.wall ?? new ManualClock(T0);
  const boot = opts.boot ?? new ManualBootClock();
  const store = opts.store ?? openGrantStore(':memory:');
  const rec = recordingEmitter();
  const log = silentLogger();
  const rules = createRulesPolicy({ stateDir: null, clock: wall, log });
  const emit = <T extends AgentEventType>(type: T, body: Parameters<typeof rec.emit<T>>[1]) => {
    rec.emit(type, body);
    grants.observe(type, body);
  };
  const grants: GrantManager = createGrantManager({
    store,
    base: rules.policy,
    emit,
    clock: wall,
    bootClock: boot,
    readDevice: (p) => platform.readDevice(p),
    log,
    checkIntervalMs: 3_600_000,
  });
  const lock = createUsbLock({ platform, policy: grants.policy, emit, log, clock: wall, resyncIntervalMs: 0 });
  await lock.start();
  await grants.start((r) => lock.resync(r));
  return {
    platform,
    lock,
    grants,
    wall,
    boot,
    store,
    rec,
    ended: () => rec.ofType('grant.ended') as Array<{ grant_id: string; reason: string; relocked_interfaces: string[] }>,
    storageAuthorized: (port) => platform.interfaceState(`${port}:1.0`)?.authorized,
    async stop() {
      await grants.stop();
      await lock.stop();
    },
  };
}

/** Lets queued work (fake uevents, the lock's queue, grant relocks) run; assertions still use eventually(). */
export async function settle(seat: Seat): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setImmediate(r));
    await seat.grants.idle();
  }
}
