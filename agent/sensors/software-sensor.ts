import { sanitizeText } from '../../shared/domain/sanitize.js';
import { evaluateSoftware, type CompiledSoftwarePolicy } from '../../shared/domain/software-policy-core.js';
import type { InstalledPackage, InventoryWatch, PackageSource, SoftwareInventory } from '../platform/sensors.js';
import type { BaselineStore } from './baseline-store.js';
import { defaultCompiledPolicy } from './default-policy.js';
import { createPeriodicTask, createSerialQueue } from './periodic.js';
import { reportSensorError, type Sensor, type SensorBaseDeps } from './sensor.js';
import { chunkBySize, diffInventory, packageKey, packageRef } from './software-diff.js';

/** Default safety-net rescan period (the directory watch normally triggers scans): 1 hour. */
export const SOFTWARE_INTERVAL_MS = 60 * 60_000;
/** Default quiet time after the last package-database event before rescanning: 2 s (dpkg writes in bursts). */
export const SOFTWARE_DEBOUNCE_MS = 2_000;

export interface SoftwareSensorDeps extends SensorBaseDeps {
  inventory: SoftwareInventory;
  /** Compiled policy; default DEFAULT_SOFTWARE_POLICY (built-in denylist, audit mode). */
  policy?: CompiledSoftwarePolicy;
  intervalMs?: number;
  debounceMs?: number;
  baseline?: BaselineStore<InstalledPackage[]>;
}

export interface SoftwareSensor extends Sensor {
  /** Scans now (serialized with timer/watch scans); never throws. */
  rescan(): Promise<void>;
  /** Replaces the policy and re-evaluates the current inventory at once (newly denied packages are reported). */
  setPolicy(policy: CompiledSoftwarePolicy): Promise<void>;
  /** The last complete inventory, null before the first successful scan. */
  current(): InstalledPackage[] | null;
}

/**
 * Keeps the installed-software inventory: rescans when the package database changes (debounced) and
 * periodically; reports installs/upgrades (`software.installed`), removals (`software.removed`) and
 * packages the policy denies (`software.denied`, once per package version and policy).
 */
export function createSoftwareSensor(deps: SoftwareSensorDeps): SoftwareSensor {
  const log = deps.log.child({ component: 'software-sensor' });
  let policy = deps.policy ?? defaultCompiledPolicy();
  let last: InstalledPackage[] | null = null;
  let firstRun = true;
  // Denials already reported, keyed by package identity + version: a new version or a new policy
  // that denies it is reported again; an unchanged one is not repeated on every scan.
  let reported = new Set<string>();
  let watch: InventoryWatch | null = null;
  let debounce: NodeJS.Timeout | null = null;
  let stopped = false;
  const serial = createSerialQueue();

  const errorHook = deps.onError ? { onError: deps.onError } : {};
  const onError = (err: Error) => reportSensorError({ log, ...errorHook }, err, 'software sensor run failed');

  async function reportDenied(cur: InstalledPackage[]): Promise<void> {
    const now = new Set<string>();
    for (const p of cur) {
      const v = evaluateSoftware(policy, { kind: 'package', name: p.name, version: p.version, publisher: p.publisher });
      if (v.verdict !== 'deny') continue;
      const key = `${packageKey(p)}\u0000${p.version ?? ''}\u0000${v.ruleId}`;
      now.add(key);
      if (reported.has(key)) continue;
      log.warn({ package: p.name, rule_id: v.ruleId }, 'denied software installed');
      await deps.emit('software.denied', { package: packageRef(p), rule_id: v.ruleId, category: v.category, reason: sanitizeText(v.reason, 256), mode: policy.mode });
      reported.add(key);
    }
    reported = now;
  }

  async function runOnce(): Promise<void> {
    const cur = await deps.inventory.list();
    const prev = last ?? (firstRun ? await deps.baseline?.load() : null) ?? null;
    if (firstRun) {
      const sources = [...new Set(cur.map((p) => p.source))].slice(0, 4) as PackageSource[];
      const denied = cur.filter((p) => evaluateSoftware(policy, { kind: 'package', name: p.name, version: p.version, publisher: p.publisher }).verdict === 'deny').length;
      await deps.emit('software.inventory', { sources, installed: cur.length, denied });
    }
    if (prev) {
      const d = diffInventory(prev, cur);
      const installed = [...d.installed.map((p) => packageRef(p)), ...d.changed.map((c) => packageRef(c.pkg, c.previousVersion))];
      for (const batch of chunkBySize(installed)) await deps.emit('software.installed', { packages: batch });
      for (const batch of chunkBySize(d.removed.map((p) => packageRef(p)))) await deps.emit('software.removed', { packages: batch });
      if (installed.length + d.removed.length > 0) log.info({ installed: installed.length, removed: d.removed.length }, 'software inventory changed');
    }
    await reportDenied(cur);
    last = cur;
    firstRun = false;
    await deps.baseline?.save(cur);
  }

  const run = () => serial(runOnce);
  const task = createPeriodicTask({ intervalMs: deps.intervalMs ?? SOFTWARE_INTERVAL_MS, run, onError });

  const onChange = () => {
    if (stopped) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = null;
      task.trigger();
    }, deps.debounceMs ?? SOFTWARE_DEBOUNCE_MS);
  };

  async function rescan(): Promise<void> {
    try {
      await run();
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  return {
    async start() {
      await rescan();
      try {
        watch = await deps.inventory.watch(onChange, onError);
      } catch (err) {
        onError(err instanceof Error ? err : new Error(String(err)));
      }
      if (stopped) await watch?.stop();
      task.start(deps.intervalMs ?? SOFTWARE_INTERVAL_MS);
    },
    async stop() {
      stopped = true;
      if (debounce) clearTimeout(debounce);
      debounce = null;
      await watch?.stop();
      watch = null;
      await task.stop();
      await serial(() => Promise.resolve());
    },
    rescan,
    async setPolicy(p) {
      policy = p;
      await serial(async () => {
        if (last) await reportDenied(last);
      }).catch((err: unknown) => onError(err instanceof Error ? err : new Error(String(err))));
    },
    current: () => last,
  };
}
