import type { Static } from 'typebox';
import type { Clock } from '../../shared/clock.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { interfaceType, type UsbDevice } from '../../shared/domain/usb-core.js';
import type { Logger } from '../../shared/logger.js';
import type { AgentEventType, EventBody } from '../../shared/protocol/messages.js';
import type { GrantSpec } from '../../shared/protocol/unlock-messages.js';
import { isStorage } from '../enforcement/plan.js';
import type { PolicyDecision, UsbPolicy } from '../enforcement/policy.js';
import type { EmitFn } from '../enforcement/usb-lock.js';
import type { UsbDeviceState } from '../platform/platform.js';
import type { BootClock } from './boot-clock.js';
import { grantMatches, remainingMs, type GrantDeviceMatch, type GrantEndReason, type StoredGrant } from './grant.js';
import type { GrantStore } from './grant-store.js';

/** A grant as the collector sends it (unlock.granted body, grants.sync item). */
export type GrantSpecBody = Static<typeof GrantSpec>;

/** Dependencies of {@link createGrantManager}. */
export interface GrantManagerDeps {
  store: GrantStore;
  /** What decides for every device no grant covers (the rules policy). */
  base: UsbPolicy;
  emit: EmitFn;
  /** Wall clock (`now()`); only used for the collector's expires_at and event times. */
  clock: Clock;
  /** The clock deadlines count on (CLOCK_MONOTONIC + boot id). */
  bootClock: BootClock;
  /** Reads a device back after a relock, to report which interfaces are closed. */
  readDevice: (port: string) => Promise<UsbDeviceState | null>;
  log: Logger;
  /** Longest wait between two expiry checks, so a wall clock moved forward is noticed. Default 1 000 ms. */
  checkIntervalMs?: number;
}

/** One active grant as shown to the seat (IPC list) and to tests. */
export interface GrantView {
  grant: StoredGrant;
  remainingMs: number;
  /** Port the grant is in use on now, or null. */
  boundPort: string | null;
}

/** Input of a grant created at the seat (offline code). */
export interface LocalGrantInput {
  grantId: string;
  device: GrantDeviceMatch;
  durationMs: number;
  executor: string;
}

/** The grant table in action: a UsbPolicy wrapper plus the expiry, removal and revocation logic. */
export interface GrantManager {
  /** Grants first (all interfaces of a granted device, storage included), then the base policy. */
  readonly policy: UsbPolicy;
  /** Binds to the running lock; reports grants that ended while the agent was down; starts the timer. */
  start(resync: (reason: string) => Promise<void>): Promise<void>;
  /** Stops the timer. SECURITY: never unauthorizes or authorizes anything. */
  stop(): Promise<void>;
  /** unlock.granted: `sentAtWall` is the envelope's ts (the collector's clock when it sent it). */
  receive(spec: GrantSpecBody, sentAtWall: number): Promise<void>;
  /** unlock.revoked: ends the grant now (and refuses it should it arrive later). */
  revoke(grantId: string, reason: string): Promise<void>;
  /** grants.sync: drops collector grants not listed (revoked while offline), adds missing ones. */
  sync(specs: readonly GrantSpecBody[], sentAtWall: number): Promise<void>;
  /** A grant created at the seat (offline code). Counts on the monotonic clock only from now. */
  addLocal(input: LocalGrantInput): Promise<StoredGrant>;
  /** Sees every event enforcement records: tracks devices, reports grant.applied, ends on removal. */
  observe(type: AgentEventType, body: unknown): void;
  /** Warns and ends what is due now (the timer calls it; tests call it after moving the clocks). */
  check(): Promise<void>;
  list(): GrantView[];
  /** Resolves when every queued relock/report has finished. */
  idle(): Promise<void>;
}

/** The grant.ended body; at most 32 interfaces, as the schema allows. */
function endedBody(grantId: string, reason: GrantEndReason, relocked: string[]): EventBody<'grant.ended'> {
  return { grant_id: grantId, reason, relocked_interfaces: relocked.slice(0, 32) };
}

const DAY_MS = 86_400_000;
/** Tombstones outlive the grant's expiry by this much (longer than any grant may last). */
const TOMBSTONE_KEEP_MS = 8 * DAY_MS;
// setTimeout takes at most a signed 32-bit delay.
const MAX_TIMER_MS = 2_147_483_647;

/** Creates the grant manager and restores the table: grants that cannot be trusted any more end here. */
export function createGrantManager(deps: GrantManagerDeps): GrantManager {
  const { store, base, clock, bootClock } = deps;
  const log = deps.log.child({ component: 'grants' });
  const checkIntervalMs = deps.checkIntervalMs ?? 1_000;

  const active = new Map<string, StoredGrant>();
  /** grant id → port it is in use on. */
  const binding = new Map<string, string>();
  /** Attached devices by port, from the events enforcement records. */
  const attached = new Map<string, UsbDevice>();
  const endedAtLoad: Array<{ grant: StoredGrant; reason: GrantEndReason }> = [];
  let resync: ((reason: string) => Promise<void>) | null = null;
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let chain: Promise<void> = Promise.resolve();
  /** Relock reports waiting for start(). */
  const deferred: Array<() => Promise<void>> = [];

  const nowMono = () => bootClock.monotonicMs();
  const nowWall = () => clock.now();
  const left = (g: StoredGrant) => remainingMs(g, nowMono(), nowWall());

  function emit<T extends AgentEventType>(type: T, body: EventBody<T>): void {
    try {
      deps.emit(type, body);
    } catch (err) {
      log.error({ err, msg_type: type }, 'could not record grant event');
    }
  }

  // ---------------------------------------------------------------- restore

  {
    const bootNow = bootClock.bootId();
    for (const g of store.active()) {
      const sameBoot = g.bootId !== null && g.bootId === bootNow;
      let reason: GrantEndReason | null = null;
      // SECURITY: after a reboot the monotonic deadline means nothing, and the wall clock alone can
      // be rolled back by the seat user: the grant cannot be proven valid, so it ends (fail closed).
      if (!sameBoot) reason = nowWall() >= g.expiresAtWall ? 'agent_restart_after_expiry' : 'expired_offline';
      else if (left(g) <= 0) reason = 'agent_restart_after_expiry';
      if (reason) {
        store.end(g.grantId, reason, nowWall(), Math.max(g.expiresAtWall, nowWall()) + TOMBSTONE_KEEP_MS);
        endedAtLoad.push({ grant: g, reason });
      } else {
        active.set(g.grantId, g);
      }
    }
    store.prune(nowWall());
    if (active.size > 0 || endedAtLoad.length > 0) {
      log.info({ restored: active.size, ended: endedAtLoad.length }, 'grant table restored');
    }
  }

  // ---------------------------------------------------------------- policy

  const policy: UsbPolicy = {
    name: `grants+${base.name}`,
    decide(device, ctx): PolicyDecision {
      for (const g of active.values()) {
        // Expired but not yet processed by the timer: already closed here (fail safe).
        if (left(g) <= 0) continue;
        const bound = binding.get(g.grantId) ?? null;
        if (!grantMatches(g, device.info, bound)) continue;
        binding.set(g.grantId, device.port);
        return { target: 'allow', rule: ruleText(g) };
      }
      return base.decide(device, ctx);
    },
  };

  function ruleText(g: StoredGrant): string {
    const who = sanitizeText(g.executor, 64);
    return g.source === 'offline'
      ? `unlock grant ${g.grantId} (offline code)`
      : `unlock grant ${g.grantId} (request ${g.requestId}, executor ${who})`;
  }

  // ---------------------------------------------------------------- helpers

  function enqueue(task: () => Promise<void>): Promise<void> {
    const next = chain.then(task).catch((err: unknown) => log.error({ err }, 'grant task failed'));
    chain = next;
    return next;
  }

  function presentPort(g: StoredGrant): string | null {
    const bound = binding.get(g.grantId);
    if (bound !== undefined) return bound;
    for (const [port, d] of attached) if (grantMatches(g, d)) return port;
    return null;
  }

  /** Ends a grant in the table at once (the policy stops matching it), then relocks and reports. */
  function end(g: StoredGrant, reason: GrantEndReason): Promise<void> {
    if (!active.has(g.grantId)) return Promise.resolve();
    const port = presentPort(g);
    active.delete(g.grantId);
    binding.delete(g.grantId);
    try {
      store.end(g.grantId, reason, nowWall(), Math.max(g.expiresAtWall, nowWall()) + TOMBSTONE_KEEP_MS);
    } catch (err) {
      // The grant is already gone from memory, so this process relocks; a restart could restore it
      // until its deadline, which is logged loudly here.
      log.error({ err, grant_id: g.grantId }, 'could not record the end of a grant');
    }
    log.info({ grant_id: g.grantId, reason, port }, 'grant ended');
    if (reason === 'removed') {
      // Nothing to relock: the device is gone.
      emit('grant.ended', endedBody(g.grantId, reason, []));
      return Promise.resolve();
    }
    const task = () => relockAndReport(g, reason, port);
    if (!resync) {
      deferred.push(task);
      return Promise.resolve();
    }
    return enqueue(task);
  }

  async function relockAndReport(g: StoredGrant, reason: GrantEndReason, port: string | null): Promise<void> {
    if (resync) await resync(`grant ${reason}`);
    let relocked: string[] = [];
    if (port !== null) {
      let d: UsbDeviceState | null = null;
      try {
        d = await deps.readDevice(port);
      } catch (err) {
        log.warn({ err, port }, 'could not read the device back after a relock');
      }
      if (d && grantMatches({ device: g.device, anyPort: true }, d.info)) {
        const storage = d.interfaces.filter((i) => isStorage(i));
        const open = storage.filter((i) => i.authorized !== false);
        if (open.length > 0) log.error({ grant_id: g.grantId, port, open: open.length }, 'grant ended but storage is still authorized');
        relocked = storage.filter((i) => i.authorized === false).map((i) => interfaceType(i.cls, i.subclass, i.protocol));
      }
    }
    emit('grant.ended', endedBody(g.grantId, reason, relocked));
  }

  function requestResync(reason: string): Promise<void> {
    return resync ? enqueue(() => (resync as (r: string) => Promise<void>)(reason)) : Promise.resolve();
  }

  function schedule(): void {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!running || active.size === 0) return;
    let next = checkIntervalMs;
    for (const g of active.values()) {
      const r = left(g);
      next = Math.min(next, r);
      if (!g.warned && g.warnBeforeMs > 0) next = Math.min(next, r - g.warnBeforeMs);
    }
    timer = setTimeout(() => void check(), Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(next))));
    timer.unref();
  }

  function check(): Promise<void> {
    const ends: Array<Promise<void>> = [];
    for (const g of [...active.values()]) {
      const r = left(g);
      if (r <= 0) {
        ends.push(end(g, 'expired'));
        continue;
      }
      if (!g.warned && g.warnBeforeMs > 0 && r <= g.warnBeforeMs) {
        g.warned = true;
        try {
          store.put(g);
        } catch (err) {
          log.warn({ err, grant_id: g.grantId }, 'could not record the grant warning');
        }
        log.warn({ grant_id: g.grantId, expires_in_ms: Math.floor(r) }, 'grant ends soon');
        emit('grant.warning', { grant_id: g.grantId, expires_in_ms: Math.max(0, Math.floor(r)) });
      }
    }
    schedule();
    return Promise.all(ends).then(() => undefined);
  }

  function toStored(spec: GrantSpecBody, sentAtWall: number): StoredGrant {
    const expiresAtWall = Date.parse(spec.expires_at);
    // Measured from receipt on the agent's own monotonic clock; the collector's send time only
    // shortens it (a grant delivered late, e.g. in grants.sync, keeps only what is left).
    const duration = Math.min(spec.duration_ms, expiresAtWall - sentAtWall);
    return {
      grantId: spec.grant_id,
      requestId: spec.request_id,
      source: 'collector',
      device: { ...spec.device },
      anyPort: spec.any_port,
      allowReinsert: spec.allow_reinsert,
      executor: spec.executor,
      expiresAtWall,
      deadlineMono: nowMono() + duration,
      bootId: bootClock.bootId(),
      warnBeforeMs: spec.warn_before_ms,
      warned: false,
      receivedAtWall: nowWall(),
    };
  }

  /** Stores a new grant (throws GRANT_ERR_STORE before anything is reported or opened). */
  function activate(g: StoredGrant): void {
    store.put(g);
    active.set(g.grantId, g);
  }

  /** After activate(): arms the timer, and opens the device now if it is attached. */
  function enforce(g: StoredGrant): Promise<void> {
    schedule();
    if (left(g) <= 0) return end(g, 'expired');
    return presentPort(g) !== null ? requestResync('grant') : Promise.resolve();
  }

  function receiveOne(spec: GrantSpecBody, sentAtWall: number): Promise<void> {
    if (store.isEnded(spec.grant_id)) {
      log.info({ grant_id: spec.grant_id }, 'ignoring a grant that already ended');
      return Promise.resolve();
    }
    const fresh = toStored(spec, sentAtWall);
    const existing = active.get(spec.grant_id);
    if (existing) {
      // A repeat (sync after reconnect) may shorten a grant, never extend it.
      if (fresh.deadlineMono < existing.deadlineMono || fresh.expiresAtWall < existing.expiresAtWall) {
        existing.deadlineMono = Math.min(existing.deadlineMono, fresh.deadlineMono);
        existing.expiresAtWall = Math.min(existing.expiresAtWall, fresh.expiresAtWall);
        store.put(existing);
        schedule();
      }
      return Promise.resolve();
    }
    activate(fresh);
    log.info({ grant_id: fresh.grantId, request_id: fresh.requestId, expires_in_ms: Math.floor(left(fresh)) }, 'grant accepted');
    emit('grant.accepted', {
      grant_id: fresh.grantId,
      expires_in_ms: Math.max(0, Math.floor(left(fresh))),
      device_present: presentPort(fresh) !== null,
    });
    return enforce(fresh);
  }

  // ---------------------------------------------------------------- API

  return {
    policy,

    async start(fn) {
      if (running) return;
      running = true;
      resync = fn;
      for (const { grant, reason } of endedAtLoad.splice(0)) {
        const port = presentPort(grant);
        log.info({ grant_id: grant.grantId, reason }, 'grant ended while the agent was down');
        void enqueue(() => relockAndReport(grant, reason, port));
      }
      for (const task of deferred.splice(0)) void enqueue(task);
      schedule();
      await chain;
    },

    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      await chain;
    },

    receive(spec, sentAtWall) {
      return receiveOne(spec, sentAtWall);
    },

    revoke(grantId, reason) {
      const g = active.get(grantId);
      log.info({ grant_id: grantId, known: g !== undefined, reason: sanitizeText(reason, 200) }, 'grant revoked by the collector');
      if (g) return end(g, 'revoked');
      // Unknown here (never arrived, or already ended): remember it so it cannot arrive later.
      if (!store.isEnded(grantId)) store.end(grantId, 'revoked', nowWall(), nowWall() + TOMBSTONE_KEEP_MS);
      return Promise.resolve();
    },

    async sync(specs, sentAtWall) {
      const listed = new Set(specs.map((s) => s.grant_id));
      const work: Array<Promise<void>> = [];
      for (const g of [...active.values()]) {
        // Offline grants are the seat's own: the collector learns of them from offline.unlock_used
        // and may revoke them by id, but it never lists them.
        if (g.source === 'collector' && !listed.has(g.grantId)) work.push(end(g, 'revoked'));
      }
      for (const s of specs) work.push(receiveOne(s, sentAtWall));
      await Promise.all(work);
    },

    addLocal(input) {
      const g: StoredGrant = {
        grantId: input.grantId,
        requestId: input.grantId,
        source: 'offline',
        device: { ...input.device },
        anyPort: false,
        allowReinsert: false,
        executor: input.executor,
        expiresAtWall: nowWall() + input.durationMs,
        deadlineMono: nowMono() + input.durationMs,
        bootId: bootClock.bootId(),
        warnBeforeMs: Math.min(300_000, Math.floor(input.durationMs / 5)),
        warned: false,
        receivedAtWall: nowWall(),
      };
      activate(g);
      log.info({ grant_id: g.grantId, duration_ms: input.durationMs }, 'offline grant created');
      return enforce(g).then(() => g);
    },

    observe(type, body) {
      switch (type) {
        case 'usb.inserted':
        case 'usb.blocked': {
          const d = (body as EventBody<'usb.inserted'>).device;
          attached.set(d.port, d);
          return;
        }
        case 'usb.allowed': {
          const b = body as EventBody<'usb.allowed'>;
          attached.set(b.device.port, b.device);
          for (const g of active.values()) {
            if (binding.get(g.grantId) !== b.device.port || !grantMatches(g, b.device, b.device.port)) continue;
            log.info({ grant_id: g.grantId, port: b.device.port }, 'grant applied: storage authorized');
            emit('grant.applied', { grant_id: g.grantId, device: b.device, authorized_interfaces: b.allowed_interfaces.slice(0, 32) });
            return;
          }
          return;
        }
        case 'usb.removed': {
          const d = (body as EventBody<'usb.removed'>).device;
          attached.delete(d.port);
          for (const g of [...active.values()]) {
            const bound = binding.get(g.grantId);
            const wasIt = bound === d.port || (bound === undefined && grantMatches(g, d));
            if (!wasIt) continue;
            binding.delete(g.grantId);
            if (g.allowReinsert) log.info({ grant_id: g.grantId, port: d.port }, 'granted device removed; grant kept for re-insertion');
            else void end(g, 'removed');
          }
          return;
        }
        default:
          return;
      }
    },

    check,

    list() {
      return [...active.values()].map((g) => ({ grant: g, remainingMs: Math.max(0, Math.floor(left(g))), boundPort: binding.get(g.grantId) ?? null }));
    },

    idle: () => chain,
  };
}
