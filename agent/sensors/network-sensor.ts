import { sanitizeText } from '../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { NetInterfaceBody, NetworkPlan, SensorEventBody } from '../../shared/protocol/sensor-messages.js';
import type { NetInterface, NetworkProbe, ReachabilityTarget } from '../platform/sensors.js';
import { createPeriodicTask, createSerialQueue } from './periodic.js';
import { NETWORK_PLAN_CHECK } from './sensor-checks.js';
import { reportSensorError, type Sensor, type SensorBaseDeps } from './sensor.js';

/** Default period between network checks: 30 s. */
export const NETWORK_INTERVAL_MS = 30_000;
/** Default reachability connect timeout: 3 s. */
export const REACHABILITY_TIMEOUT_MS = 3_000;

/** "This seat must be offline": the TCP target that must NOT answer. */
export interface OfflinePolicy extends ReachabilityTarget {
  timeoutMs?: number;
}

export interface NetworkSensorDeps extends SensorBaseDeps {
  probe: NetworkProbe;
  intervalMs?: number;
  /** Expected plan; empty means "every non-loopback interface is managed, no expectations". */
  plan?: NetworkPlan;
  /** When set, each check tries this target and reports a violation if it answers. */
  offline?: OfflinePolicy | null;
}

export interface NetworkSensor extends Sensor {
  checkNow(): Promise<void>;
  /** Validates and applies a plan from the collector (throws NET_ERR_PLAN on bad input). */
  setPlan(plan: unknown): void;
  setOffline(offline: OfflinePolicy | null): void;
}

/** Validates an untrusted plan. */
export function parseNetworkPlan(input: unknown): NetworkPlan {
  if (!NETWORK_PLAN_CHECK.check(input)) throw new AppError('NET_ERR_PLAN', formatError('NET_ERR_PLAN', NETWORK_PLAN_CHECK.errors(input).join('; ')));
  return input;
}

const IPV4 = /^[0-9]{1,3}(\.[0-9]{1,3}){3}$/;
const IPV6 = /^[0-9a-f:.]+$/;

function body(i: NetInterface): NetInterfaceBody {
  return {
    mac: i.mac,
    ipv4: i.ipv4 === null ? null : i.ipv4.filter((a) => IPV4.test(a)).slice(0, 32),
    ipv6: i.ipv6 === null ? null : i.ipv6.filter((a) => IPV6.test(a)).slice(0, 32),
  };
}

type Problem = SensorEventBody<'network.plan_mismatch'>['problems'][number];

function planProblems(entry: NetworkPlan[number], actual: NetInterface | undefined): Problem[] {
  if (!actual) return ['missing'];
  const out: Problem[] = [];
  // Only definite contradictions count: an address list the source cannot read (null) is no evidence.
  if (entry.ipv4 !== undefined && actual.ipv4 !== null && !actual.ipv4.includes(entry.ipv4)) out.push('ipv4');
  // A planned MAC against an interface without one is a mismatch too.
  if (entry.mac !== undefined && actual.mac !== entry.mac) out.push('mac');
  return out;
}

/**
 * Watches managed interfaces for IP/MAC changes (`network.changed`), compares them with the expected
 * plan (`network.plan_mismatch`, raised and resolved) and, when the seat must be offline, probes a
 * TCP target (`network.reachability`, on every state change; reachable is a violation).
 */
export function createNetworkSensor(deps: NetworkSensorDeps): NetworkSensor {
  const log = deps.log.child({ component: 'network-sensor' });
  let plan: NetworkPlan = deps.plan ? parseNetworkPlan(deps.plan) : [];
  let offline: OfflinePolicy | null = deps.offline ?? null;
  let previous: Map<string, string> | null = null;
  let previousBodies = new Map<string, NetInterfaceBody>();
  const mismatch = new Map<string, string>();
  let lastReach: string | null = null;
  const serial = createSerialQueue();
  const errorHook = deps.onError ? { onError: deps.onError } : {};
  const onError = (err: Error) => reportSensorError({ log, ...errorHook }, err, 'network sensor run failed');

  async function runOnce(): Promise<void> {
    const ifaces = await deps.probe.interfaces();
    const byName = new Map(ifaces.map((i) => [i.name, i]));
    // Without a plan every non-loopback interface is managed, including ones that just disappeared.
    const managed =
      plan.length > 0
        ? new Set(plan.map((p) => p.iface))
        : new Set([...ifaces.filter((i) => !i.internal).map((i) => i.name), ...(previous?.keys() ?? [])]);

    // Change detection against the previous check (the first check is the baseline).
    const bodies = new Map<string, NetInterfaceBody>();
    const prints = new Map<string, string>();
    for (const name of managed) {
      const i = byName.get(name);
      if (!i) continue;
      const b = body(i);
      bodies.set(name, b);
      prints.set(name, JSON.stringify(b));
    }
    if (previous) {
      const names = new Set([...previous.keys(), ...prints.keys()]);
      for (const name of [...names].sort()) {
        if (!managed.has(name)) continue;
        if (previous.get(name) === prints.get(name)) continue;
        log.info({ iface: name }, 'network interface changed');
        await deps.emit('network.changed', {
          iface: sanitizeText(name, 32),
          previous: previousBodies.get(name) ?? null,
          current: bodies.get(name) ?? null,
        });
      }
    }
    previous = prints;
    previousBodies = bodies;

    // Plan comparison: raised when the problem set changes, resolved when it empties.
    for (const entry of plan) {
      const actual = byName.get(entry.iface);
      const problems = planProblems(entry, actual);
      const key = problems.join(',');
      const before = mismatch.get(entry.iface) ?? '';
      if (key === before) continue;
      await deps.emit('network.plan_mismatch', {
        iface: entry.iface,
        expected: { ipv4: entry.ipv4 ?? null, mac: entry.mac ?? null },
        actual: actual ? body(actual) : null,
        problems,
        resolved: problems.length === 0,
      });
      if (problems.length === 0) mismatch.delete(entry.iface);
      else mismatch.set(entry.iface, key);
    }
    for (const k of mismatch.keys()) if (!plan.some((p) => p.iface === k)) mismatch.delete(k);

    if (offline) {
      const r = await deps.probe.checkReachability(offline, offline.timeoutMs ?? REACHABILITY_TIMEOUT_MS);
      const state = r.reachable === true ? 'reachable' : r.reachable === false ? 'unreachable' : 'unknown';
      const target = `${offline.host}:${offline.port}`;
      if (`${target}|${state}` !== lastReach) {
        if (state === 'reachable') log.warn({ target }, 'offline seat can reach the network');
        await deps.emit('network.reachability', {
          target: sanitizeText(target, 300),
          state,
          expected: 'offline',
          violation: state === 'reachable',
          detail: sanitizeText(r.detail, 256),
        });
        lastReach = `${target}|${state}`;
      }
    } else {
      lastReach = null;
    }
  }

  const run = () => serial(runOnce);
  const task = createPeriodicTask({ intervalMs: deps.intervalMs ?? NETWORK_INTERVAL_MS, run, onError });

  async function checkNow(): Promise<void> {
    try {
      await run();
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  return {
    async start() {
      await checkNow();
      task.start(deps.intervalMs ?? NETWORK_INTERVAL_MS);
    },
    async stop() {
      await task.stop();
      await serial(() => Promise.resolve());
    },
    checkNow,
    setPlan(p) {
      plan = parseNetworkPlan(p);
      // A new plan may manage other interfaces: start change detection afresh.
      previous = null;
      task.trigger();
    },
    setOffline(o) {
      offline = o;
      task.trigger();
    },
  };
}
