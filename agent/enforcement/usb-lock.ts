import type { Clock } from '../../shared/clock.js';
import { deviceKey, type UsbDevice } from '../../shared/domain/usb-core.js';
import type { Logger } from '../../shared/logger.js';
import type { AgentEventType, EventBody, LockState } from '../../shared/protocol/messages.js';
import type { UsbChange, UsbControllerState, UsbDeviceState, UsbPlatform, UsbWatch } from '../platform/platform.js';
import { aggregateLockState, type AggregateLock } from './lock-state.js';
import { isStorage, planDevice, type DevicePlan } from './plan.js';
import type { PolicyDecision, UsbPolicy } from './policy.js';

/** Records one event (in the agent: Outbox.append). May throw; enforcement logs and carries on. */
export type EmitFn = <T extends AgentEventType>(type: T, body: EventBody<T>) => void;

/** Dependencies of {@link createUsbLock}. */
export interface UsbLockDeps {
  platform: UsbPlatform;
  policy: UsbPolicy;
  emit: EmitFn;
  log: Logger;
  clock: Clock;
  /** Full rescan + controller re-lock period in ms, catching lost events and tampering. Default 10 000; 0 disables. */
  resyncIntervalMs?: number;
}

/** The lock as seen now. */
export interface LockSnapshot {
  state: LockState;
  detail: string;
  controllers: UsbControllerState[];
  /** Devices currently tracked. */
  devices: number;
}

/** The enforcement loop of one seat. */
export interface UsbLock {
  /**
   * Watches, locks every controller, enforces every present device, then replays what changed
   * meanwhile. `onLocked` runs once the controllers are locked, before any device event is emitted.
   */
  start(onLocked?: (s: LockSnapshot) => void): Promise<LockSnapshot>;
  /** Stops watching. SECURITY: never unblocks anything and never restores controller defaults. */
  stop(): Promise<void>;
  state(): LockSnapshot;
  /** Re-locks controllers and re-enforces every device (e.g. after a grant or policy change). */
  resync(reason: string): Promise<void>;
}

interface Tracked {
  info: UsbDevice;
  identity: string;
  /** What was last reported for the device; a change is reported again. */
  signature: string | null;
  storageOpen: boolean;
}

const MAX_TYPES = 32;
const REASON_MAX = 512;
/** Default full rescan period of the lock, ms. */
export const DEFAULT_RESYNC_INTERVAL_MS = 10_000;

/** Creates the enforcement loop (unstarted). */
export function createUsbLock(deps: UsbLockDeps): UsbLock {
  const { platform, policy, clock } = deps;
  const log = deps.log.child({ component: 'usb-lock' });
  const resyncIntervalMs = deps.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS;

  const known = new Map<string, Tracked>();
  const controllers = new Map<string, UsbControllerState>();
  let lock: AggregateLock = { state: 'unknown', detail: 'not started' };
  let lockReported = false;
  let buffer: UsbChange[] | null = null;
  let watch: UsbWatch | null = null;
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let chain: Promise<void> = Promise.resolve();

  // Every platform interaction runs through one queue so a scan, a live event and a resync never
  // interleave their reads and writes for the same device.
  function enqueue(task: () => Promise<void>): Promise<void> {
    const next = chain.then(task).catch((err: unknown) => log.error({ err }, 'usb enforcement task failed'));
    chain = next;
    return next;
  }

  function emit<T extends AgentEventType>(type: T, body: EventBody<T>): void {
    try {
      deps.emit(type, body);
    } catch (err) {
      // Reporting must never stop enforcement; the event is lost and the operator sees this line.
      log.error({ err, msg_type: type }, 'could not record usb event');
    }
  }

  function snapshot(): LockSnapshot {
    return { state: lock.state, detail: lock.detail, controllers: [...controllers.values()], devices: known.size };
  }

  function refreshLockState(): void {
    const open = [...known.entries()].filter(([, t]) => t.storageOpen).map(([p]) => p);
    const next = aggregateLockState([...controllers.values()], open);
    if (lockReported && next.state === lock.state) {
      lock = next;
      return;
    }
    lock = next;
    lockReported = true;
    const level = next.state === 'locked' ? 'info' : 'warn';
    log[level]({ lock_state: next.state, detail: next.detail }, 'usb lock state changed');
    emit('lock.state', { state: next.state, controllers: lockControllersBody(), detail: next.detail });
  }

  function lockControllersBody(): EventBody<'lock.state'>['controllers'] {
    // The protocol caps the list and the name shape; anything odd is left out of the report only.
    return [...controllers.values()]
      .filter((c) => /^usb[0-9]{1,3}$/.test(c.name))
      .slice(0, 64)
      .map((c) => ({
        name: c.name,
        interface_authorized_default:
          c.interfaceAuthorizedDefault !== null && c.interfaceAuthorizedDefault >= -1 && c.interfaceAuthorizedDefault <= 2
            ? c.interfaceAuthorizedDefault
            : null,
      }));
  }

  async function lockOne(name: string): Promise<void> {
    try {
      const after = await platform.lockController(name);
      controllers.set(name, after);
      if (after.interfaceAuthorizedDefault !== 0) {
        log.warn({ controller: name, value: after.interfaceAuthorizedDefault }, 'usb controller did not lock');
      }
    } catch (err) {
      controllers.set(name, { name, interfaceAuthorizedDefault: null });
      log.warn({ err, controller: name }, 'usb controller lock failed');
    }
  }

  async function lockAll(): Promise<void> {
    let list: UsbControllerState[];
    try {
      list = await platform.listControllers();
    } catch (err) {
      log.error({ err }, 'could not list usb controllers');
      // Keep the names but mark them unreadable: nothing can be vouched for now.
      for (const c of controllers.values()) controllers.set(c.name, { name: c.name, interfaceAuthorizedDefault: null });
      return;
    }
    controllers.clear();
    for (const c of list) controllers.set(c.name, c);
    // Report tampering before fixing it: a controller found open after start is a security fact.
    if (lockReported && list.some((c) => c.interfaceAuthorizedDefault !== 0)) refreshLockState();
    for (const c of list) if (c.interfaceAuthorizedDefault !== 0) await lockOne(c.name);
  }

  function decide(device: UsbDeviceState, presentAtStart: boolean): { decision: PolicyDecision | null; failReason?: string } {
    if (!device.descriptorsReadable) return { decision: null };
    try {
      return { decision: policy.decide(device, { presentAtStart, now: clock.now() }) };
    } catch (err) {
      log.error({ err, port: device.port, policy: policy.name }, 'usb policy failed; blocking the device');
      return { decision: null, failReason: 'policy error' };
    }
  }

  async function apply(device: UsbDeviceState, plan: DevicePlan): Promise<{ authorized: Set<string>; storageOpen: boolean; deauthorizedStorage: number }> {
    const authorized = new Set<string>();
    let storageOpen = false;
    let deauthorizedStorage = 0;
    if (plan.reject) {
      try {
        await platform.rejectDevice(device.port);
        log.info({ port: device.port }, 'usb device rejected');
        return { authorized, storageOpen, deauthorizedStorage };
      } catch (err) {
        log.warn({ err, port: device.port }, 'usb device reject failed; deauthorizing its interfaces');
      }
    }
    for (const p of plan.interfaces) {
      const name = p.iface.name;
      let isAuthorized = p.iface.authorized === true;
      if (p.action === 'authorize') {
        try {
          await platform.authorizeInterface(name);
          isAuthorized = true;
        } catch (err) {
          log.warn({ err, port: device.port, iface: name }, 'usb interface authorize failed');
        }
      } else if (p.action === 'deauthorize') {
        try {
          await platform.deauthorizeInterface(name);
          isAuthorized = false;
          if (isStorage(p.iface)) deauthorizedStorage++;
        } catch (err) {
          log.error({ err, port: device.port, iface: name }, 'usb interface deauthorize failed');
          // SECURITY: a write that failed leaves the state unknown; count it as open.
          if (p.iface.authorized !== false) isAuthorized = true;
        }
      }
      if (isAuthorized) authorized.add(name);
      if (isAuthorized && p.want === 'block' && isStorage(p.iface)) storageOpen = true;
    }
    return { authorized, storageOpen, deauthorizedStorage };
  }

  async function enforceDevice(port: string, presentAtStart: boolean): Promise<void> {
    let device: UsbDeviceState | null;
    try {
      device = await platform.readDevice(port);
    } catch (err) {
      log.warn({ err, port }, 'usb device read failed');
      return;
    }
    if (!device) return; // gone already; its removal arrives as its own change
    const identity = `${device.info.vendor_id}:${device.info.product_id}:${device.info.serial ?? ''}`;
    let tracked = known.get(port);
    if (tracked && tracked.identity !== identity) {
      // Another device sits on the port: the removal event was lost.
      reportRemoved(port, tracked);
      tracked = undefined;
    }
    const isNew = tracked === undefined;
    if (isNew) {
      log.info({ port, device_key: deviceKey(device.info), present_at_start: presentAtStart }, 'usb device attached');
      emit('usb.inserted', { device: device.info, present_at_start: presentAtStart });
    }
    const { decision, failReason } = decide(device, presentAtStart);
    const plan = planDevice(device, decision, failReason);
    const result = await apply(device, plan);

    const blocked = plan.interfaces.filter((p) => !result.authorized.has(p.iface.name)).map((p) => p.type);
    const allowed = plan.interfaces.filter((p) => result.authorized.has(p.iface.name)).map((p) => p.type);
    // A device seen before its interfaces exist (device uevent first) has nothing to report yet; the
    // interface events that follow re-run this and report the full picture.
    const wantsBlock = plan.reject || (plan.interfaces.length > 0 && (plan.failClosed || plan.interfaces.some((p) => p.want === 'block')));
    const storageAllowed = plan.interfaces.some((p) => isStorage(p.iface) && p.want === 'allow' && result.authorized.has(p.iface.name));
    const signature = `${plan.reject}|${plan.failClosed}|${blocked.join(',')}|${allowed.join(',')}`;
    const changed = isNew || tracked?.signature !== signature;
    const reblocked = !isNew && result.deauthorizedStorage > 0;

    const reason = (reblocked && !changed ? `re-blocked after an outside change: ${plan.reason}` : plan.reason).slice(0, REASON_MAX);
    if (wantsBlock && (changed || reblocked)) {
      log.info({ port, blocked: blocked.length, fail_closed: plan.failClosed }, 'usb device blocked');
      emit('usb.blocked', { device: device.info, blocked_interfaces: blocked.slice(0, MAX_TYPES), allowed_interfaces: allowed.slice(0, MAX_TYPES), reason });
    } else if (storageAllowed && changed) {
      log.info({ port }, 'usb storage allowed by policy');
      emit('usb.allowed', { device: device.info, allowed_interfaces: allowed.slice(0, MAX_TYPES), reason });
    }
    const wasOpen = tracked?.storageOpen ?? false;
    known.set(port, { info: device.info, identity, signature, storageOpen: result.storageOpen });
    if (wasOpen !== result.storageOpen) refreshLockState();
  }

  function reportRemoved(port: string, tracked: Tracked): void {
    known.delete(port);
    log.info({ port }, 'usb device detached');
    emit('usb.removed', { device: tracked.info });
    if (tracked.storageOpen) refreshLockState();
  }

  async function reconcile(): Promise<void> {
    await lockAll();
    refreshLockState();
    let ports: string[];
    try {
      ports = await platform.listDevices();
    } catch (err) {
      log.error({ err }, 'could not list usb devices');
      return;
    }
    const present = new Set(ports);
    for (const [port, t] of [...known.entries()]) if (!present.has(port)) reportRemoved(port, t);
    for (const port of ports) await enforceDevice(port, false);
  }

  async function handleChange(c: UsbChange): Promise<void> {
    switch (c.kind) {
      case 'device-added':
      case 'interface-added':
        return enforceDevice(c.port, false);
      case 'device-removed': {
        const t = known.get(c.port);
        if (t) reportRemoved(c.port, t);
        return;
      }
      case 'controller-added':
        // SECURITY: a dock or Thunderbolt controller arrives with the kernel default (open); close it first.
        await lockOne(c.name);
        refreshLockState();
        return;
      case 'resync':
        log.info({ reason: c.reason }, 'usb resync requested by the platform');
        return reconcile();
    }
  }

  function onChange(c: UsbChange): void {
    if (!running) return;
    if (buffer) buffer.push(c);
    else void enqueue(() => handleChange(c));
  }

  function onError(err: Error): void {
    log.warn({ err }, 'usb watcher reported an error; rescanning');
    if (running && !buffer) void enqueue(reconcile);
  }

  return {
    async start(onLocked) {
      if (running) return snapshot();
      running = true;
      buffer = [];
      await enqueue(async () => {
        try {
          watch = await platform.watch(onChange, onError);
        } catch (err) {
          // Without events the periodic resync still finds devices; the gate blocks storage meanwhile.
          log.error({ err }, 'usb watcher could not start; relying on periodic resync');
        }
        await lockAll();
        lock = aggregateLockState([...controllers.values()]);
        onLocked?.(snapshot());
        refreshLockState();
        let ports: string[] = [];
        try {
          ports = await platform.listDevices();
        } catch (err) {
          log.error({ err }, 'could not list usb devices');
        }
        for (const port of ports) await enforceDevice(port, true);
        // Replay what happened during the scan, in order; most of it is already reflected and is idempotent.
        while (buffer && buffer.length > 0) {
          const c = buffer.shift() as UsbChange;
          await handleChange(c);
        }
        buffer = null;
      });
      if (resyncIntervalMs > 0 && running) {
        timer = setInterval(() => void enqueue(reconcile), resyncIntervalMs);
        timer.unref();
      }
      log.info({ lock_state: lock.state, devices: known.size }, 'usb lock started');
      return snapshot();
    },

    async stop() {
      if (!running) return;
      running = false;
      if (timer) clearInterval(timer);
      timer = null;
      buffer = null;
      const w = watch;
      watch = null;
      if (w) {
        try {
          await w.stop();
        } catch (err) {
          log.warn({ err }, 'usb watcher stop failed');
        }
      }
      await chain;
      log.info('usb lock stopped (devices stay as enforced)');
    },

    state: snapshot,

    resync(reason) {
      if (!running) return Promise.resolve();
      log.info({ reason }, 'usb resync requested');
      return enqueue(reconcile);
    },
  };
}
