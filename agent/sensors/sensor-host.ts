import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../shared/clock.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import type { Logger } from '../../shared/logger.js';
import type { EventBody } from '../../shared/protocol/messages.js';
import { builtinSensorConfig, type CheckedSensorConfig } from '../../shared/protocol/sensor-config-check.js';
import type { SensorConfigBody, SensorIntervals } from '../../shared/protocol/sensor-config-messages.js';
import type { SensorEventType } from '../../shared/protocol/sensor-messages.js';
import type { InstalledPackage, SensorPlatform } from '../platform/sensors.js';
import { createJsonFileBaselineStore, type BaselineStore } from './baseline-store.js';
import { createFirmwareSensor, type FirmwareSensor } from './firmware-sensor.js';
import type { FirmwareBaseline } from './firmware-state.js';
import { createNetworkSensor, type NetworkSensor, type OfflinePolicy } from './network-sensor.js';
import { createSerialQueue } from './periodic.js';
import { createProcessSensor, type ProcessSensor } from './process-sensor.js';
import { FIRMWARE_BASELINE_CHECK, SOFTWARE_BASELINE_CHECK, STORED_SENSOR_CONFIG_CHECK, checkSensorConfig } from './sensor-checks.js';
import { createSoftwareSensor, type SoftwareSensor } from './software-sensor.js';

/** Every event the host (and its sensors) may emit. */
export type SensorHostEventType = SensorEventType | 'sensor.config_applied';

/** Hands an event to the agent core (outbox). A throw is logged; the host carries on. */
export type SensorHostEmit = <T extends SensorHostEventType>(type: T, body: EventBody<T>) => void | Promise<void>;

export interface SensorHostDeps {
  sensors: SensorPlatform;
  emit: SensorHostEmit;
  log: Logger;
  clock: Clock;
  /** The agent state directory; the host keeps its files in `<stateDir>/sensors/` (mode 0700). */
  stateDir: string;
  /** Periods used when the configuration names none (tests shrink them); else the sensor defaults. */
  defaultIntervals?: SensorIntervals;
  /** Quiet time after a package-database change before rescanning (default 2 s). */
  softwareDebounceMs?: number;
  /** Connect timeout of the offline probe (default 3 s). */
  reachabilityTimeoutMs?: number;
  /** PIDs never killed (default: 0, 1 and the agent itself). */
  protectedPids?: readonly number[];
}

export type ApplyResult = { ok: true; version: number; changed: boolean } | { ok: false; errors: string[] };

export interface SensorHostStatus {
  version: number;
  softwareMode: SensorConfigBody['software_mode'];
  /** Where the configuration in force came from. */
  source: 'builtin' | 'stored' | 'collector';
  started: boolean;
}

/** Runs the four compliance sensors under one configuration pushed by the collector. */
export interface SensorHost {
  /** Loads the stored configuration (else the built-in one) and starts every sensor; never throws. */
  start(): Promise<void>;
  /** Stops every sensor and waits for runs in progress. Idempotent. */
  stop(): Promise<void>;
  /**
   * Checks an untrusted `sensor.config` body, stores it and applies it, then re-evaluates. A refused
   * configuration changes nothing. Resolves after the re-evaluation; never throws.
   */
  applyConfig(body: unknown): Promise<ApplyResult>;
  status(): SensorHostStatus;
}

/** Sub-directory of the agent state dir with the host's files. */
export const SENSOR_STATE_SUBDIR = 'sensors';
export const SENSOR_CONFIG_FILE = 'sensor-config.json';

type Kind = 'firmware' | 'software' | 'process' | 'network';
const INTERVAL_KEY: Record<Kind, keyof SensorIntervals> = {
  firmware: 'firmware_ms',
  software: 'software_ms',
  process: 'process_ms',
  network: 'network_ms',
};

// Key order of a stored or resent configuration must not make an identical one look new.
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function summary(c: SensorConfigBody): string {
  const offline = c.must_be_offline && c.reachability_target ? `offline target ${c.reachability_target.host}:${c.reachability_target.port}` : 'online allowed';
  return `${c.software_mode}; ${c.software_policy.allow.length} allow rules, ${c.software_policy.deny.length} deny rules, default ${c.software_policy.default}; ${c.network_plan.length} planned interfaces; ${offline}`;
}

function versionOf(body: unknown): number {
  if (body === null || typeof body !== 'object') return 0;
  const v = (body as Record<string, unknown>).version;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Builds the (unstarted) sensor host: firmware, software (package-database watch), process (audit
 * or enforce, as configured) and network sensors, all re-configured by `applyConfig`. The last
 * applied configuration is stored in the state dir so a restarted agent that cannot reach the
 * collector keeps enforcing it.
 */
export function createSensorHost(deps: SensorHostDeps): SensorHost {
  const log = deps.log.child({ component: 'sensor-host' });
  const dir = join(deps.stateDir, SENSOR_STATE_SUBDIR);
  const configStore = createJsonFileBaselineStore(join(dir, SENSOR_CONFIG_FILE), STORED_SENSOR_CONFIG_CHECK);
  const firmwareBaseline: BaselineStore<FirmwareBaseline> = createJsonFileBaselineStore(join(dir, 'firmware-baseline.json'), FIRMWARE_BASELINE_CHECK);
  const softwareBaseline: BaselineStore<InstalledPackage[]> = createJsonFileBaselineStore(join(dir, 'software-baseline.json'), SOFTWARE_BASELINE_CHECK);
  const serial = createSerialQueue();

  let active: CheckedSensorConfig = builtin();
  let source: SensorHostStatus['source'] = 'builtin';
  let state: 'created' | 'started' | 'stopped' = 'created';
  let firmware: FirmwareSensor | null = null;
  let software: SoftwareSensor | null = null;
  let processes: ProcessSensor | null = null;
  let network: NetworkSensor | null = null;
  const runningIntervals = new Map<Kind, number | undefined>();

  function builtin(): CheckedSensorConfig {
    const r = checkSensorConfig(builtinSensorConfig());
    // The built-in configuration is a constant checked by the unit tests; failing here is a bug.
    if (!r.ok) throw new Error(`built-in sensor config is invalid: ${r.errors.join('; ')}`);
    return r.value;
  }

  async function emit<T extends SensorHostEventType>(type: T, body: EventBody<T>): Promise<void> {
    try {
      await deps.emit(type, body);
    } catch (err) {
      log.error({ err, msg_type: type }, 'sensor host could not emit event');
    }
  }

  const sensorEmit = <T extends SensorEventType>(type: T, body: EventBody<T>) => deps.emit(type, body);

  function intervalOf(kind: Kind, c: SensorConfigBody): number | undefined {
    const key = INTERVAL_KEY[kind];
    return c.intervals?.[key] ?? deps.defaultIntervals?.[key];
  }

  function offlineOf(c: SensorConfigBody): OfflinePolicy | null {
    if (!c.must_be_offline || c.reachability_target === null) return null;
    const t = { host: c.reachability_target.host, port: c.reachability_target.port };
    return deps.reachabilityTimeoutMs === undefined ? t : { ...t, timeoutMs: deps.reachabilityTimeoutMs };
  }

  const opt = <K extends string, V>(key: K, v: V | undefined) => (v === undefined ? {} : ({ [key]: v } as { [P in K]: V }));

  function build(kind: Kind, c: CheckedSensorConfig): FirmwareSensor | SoftwareSensor | ProcessSensor | NetworkSensor {
    const intervalMs = intervalOf(kind, c.config);
    runningIntervals.set(kind, intervalMs);
    const base = { emit: sensorEmit, log: deps.log, ...opt('intervalMs', intervalMs) };
    switch (kind) {
      case 'firmware':
        return (firmware = createFirmwareSensor({ ...base, probe: deps.sensors.firmware, baseline: firmwareBaseline }));
      case 'software':
        return (software = createSoftwareSensor({
          ...base,
          inventory: deps.sensors.software,
          policy: c.policy,
          baseline: softwareBaseline,
          ...opt('debounceMs', deps.softwareDebounceMs),
        }));
      case 'process':
        return (processes = createProcessSensor({ ...base, lister: deps.sensors.processes, policy: c.policy, ...opt('protectedPids', deps.protectedPids) }));
      case 'network':
        return (network = createNetworkSensor({ ...base, probe: deps.sensors.network, plan: c.config.network_plan, offline: offlineOf(c.config) }));
    }
  }

  const current = (kind: Kind) => ({ firmware, software, process: processes, network })[kind];

  async function loadStored(): Promise<void> {
    const stored = await configStore.load();
    if (!stored) {
      log.info({}, 'no stored sensor config; using the built-in one until the collector sends one');
      return;
    }
    const r = checkSensorConfig(stored.config);
    if (!r.ok) {
      log.error({ errors: r.errors }, 'stored sensor config is invalid; using the built-in one');
      return;
    }
    active = r.value;
    source = 'stored';
    log.info({ version: r.value.config.version, software_mode: r.value.config.software_mode }, 'stored sensor config loaded');
  }

  async function startAll(): Promise<void> {
    const kinds: Kind[] = ['firmware', 'software', 'process', 'network'];
    await Promise.all(kinds.map((k) => build(k, active).start()));
  }

  async function reconfigure(next: CheckedSensorConfig): Promise<void> {
    // A changed period needs a fresh runner (the runners take it at creation): that runner then
    // reports its start state again, which is noisy but never loses a finding.
    for (const kind of ['firmware', 'software', 'process', 'network'] as const) {
      if (intervalOf(kind, next.config) === runningIntervals.get(kind)) continue;
      await current(kind)?.stop();
      log.info({ sensor: kind, interval_ms: intervalOf(kind, next.config) ?? null }, 'sensor restarted for a new period');
      await build(kind, next).start();
    }
    await software?.setPolicy(next.policy);
    processes?.setPolicy(next.policy);
    try {
      network?.setPlan(next.config.network_plan);
    } catch (err) {
      // Already validated by checkSensorConfig; a refusal here would be a schema drift.
      log.error({ err }, 'network plan refused by the network sensor');
    }
    network?.setOffline(offlineOf(next.config));
  }

  async function apply(body: unknown): Promise<ApplyResult> {
    const r = checkSensorConfig(body);
    if (!r.ok) {
      log.warn({ version: versionOf(body), errors: r.errors }, 'sensor config refused; keeping the previous one');
      await emit('sensor.config_applied', {
        version: versionOf(body),
        ok: false,
        software_mode: active.config.software_mode,
        active_version: active.config.version,
        detail: sanitizeText(`refused: ${r.errors.join('; ')}`, 512),
      });
      return { ok: false, errors: r.errors };
    }
    const next = r.value;
    if (canonical(next.config) === canonical(active.config)) {
      source = 'collector';
      return { ok: true, version: next.config.version, changed: false };
    }
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await configStore.save({ saved_at: new Date(deps.clock.now()).toISOString(), config: next.config });
    } catch (err) {
      // Still applied: the collector's word is newer than the disk; only a restart would lose it.
      log.error({ err: asError(err) }, 'could not store the sensor config; applying it in memory only');
    }
    const previous = active;
    active = next;
    source = 'collector';
    if (state === 'started') await reconfigure(next);
    log.info(
      { version: next.config.version, previous_version: previous.config.version, software_mode: next.config.software_mode },
      'sensor config applied',
    );
    await emit('sensor.config_applied', {
      version: next.config.version,
      ok: true,
      software_mode: next.config.software_mode,
      active_version: next.config.version,
      detail: sanitizeText(summary(next.config), 512),
    });
    // Re-evaluate at once: a switch to enforce must not wait for the next period to kill.
    if (state === 'started') await Promise.all([processes?.scanNow(), network?.checkNow()]);
    return { ok: true, version: next.config.version, changed: true };
  }

  return {
    start: () =>
      serial(async () => {
        if (state !== 'created') return;
        try {
          await mkdir(dir, { recursive: true, mode: 0o700 });
        } catch (err) {
          log.error({ err: asError(err) }, 'could not create the sensor state dir; baselines will not persist');
        }
        if (source === 'builtin') await loadStored();
        state = 'started';
        await startAll();
        log.info({ version: active.config.version, software_mode: active.config.software_mode, source }, 'sensor host started');
      }),
    async stop() {
      await serial(async () => {
        if (state === 'stopped') return;
        const wasStarted = state === 'started';
        state = 'stopped';
        if (!wasStarted) return;
        await Promise.all([firmware?.stop(), software?.stop(), processes?.stop(), network?.stop()]);
        log.info({}, 'sensor host stopped');
      });
    },
    applyConfig: (body) =>
      serial(async () => {
        if (state === 'stopped') return { ok: false as const, errors: ['sensor host is stopped'] };
        try {
          return await apply(body);
        } catch (err) {
          log.error({ err: asError(err) }, 'applying the sensor config failed');
          return { ok: false as const, errors: [asError(err).message] };
        }
      }),
    status: () => ({ version: active.config.version, softwareMode: active.config.software_mode, source, started: state === 'started' }),
  };
}
