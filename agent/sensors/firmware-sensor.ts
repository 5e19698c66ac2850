import { sanitizeText } from '../../shared/domain/sanitize.js';
import type { PasswordFieldName, SensorEventBody } from '../../shared/protocol/sensor-messages.js';
import { PASSWORD_FIELDS, type FirmwareProbe, type PasswordField } from '../platform/sensors.js';
import type { BaselineStore } from './baseline-store.js';
import { baselineOf, diffFirmware, resolveFirmware, type FirmwareBaseline, type ResolvedFirmware } from './firmware-state.js';
import { createPeriodicTask, createSerialQueue } from './periodic.js';
import { reportSensorError, type Sensor, type SensorBaseDeps } from './sensor.js';

/** Default period between firmware readings: 15 minutes (vendor WMI values can change online). */
export const FIRMWARE_INTERVAL_MS = 15 * 60_000;

export interface FirmwareSensorDeps extends SensorBaseDeps {
  probe: FirmwareProbe;
  intervalMs?: number;
  baseline?: BaselineStore<FirmwareBaseline>;
}

export interface FirmwareSensor extends Sensor {
  /** Reads and reports now; resolves with the resolved state, or null when the run failed. */
  checkNow(): Promise<ResolvedFirmware | null>;
  current(): ResolvedFirmware | null;
}

const WIRE: Record<PasswordField, PasswordFieldName> = {
  adminPassword: 'admin_password',
  powerOnPassword: 'power_on_password',
  keyboardPassword: 'keyboard_password',
  frontPanelReset: 'front_panel_reset',
};

const t = (s: string, max: number) => sanitizeText(s, max);
const biosBody = (b: FirmwareBaseline['bios']) => ({
  vendor: b.vendor === null ? null : t(b.vendor, 128),
  version: b.version === null ? null : t(b.version, 128),
  date: b.date === null ? null : t(b.date, 64),
});

/** Converts a resolved state into the wire body of `firmware.state`. */
export function firmwareStateBody(r: ResolvedFirmware, reason: 'initial' | 'changed'): SensorEventBody<'firmware.state'> {
  const field = (f: PasswordField) => ({ state: r.fields[f].state, source: t(r.fields[f].source, 96) });
  return {
    reason,
    admin_password: field('adminPassword'),
    power_on_password: field('powerOnPassword'),
    keyboard_password: field('keyboardPassword'),
    front_panel_reset: field('frontPanelReset'),
    sources: r.sources.slice(0, 16).map((s) => ({ name: t(s.name, 96), authority: s.authority, available: s.available, detail: t(s.detail, 512) })),
    disagreements: r.disagreements.slice(0, 32).map((d) => ({
      field: WIRE[d.field],
      chosen_source: t(d.chosenSource, 96),
      chosen_state: d.chosenState,
      other_source: t(d.otherSource, 96),
      other_state: d.otherState,
    })),
    bios: biosBody(r.bios),
  };
}

// What makes two readings "the same" for reporting: fields, deciding sources, disagreements, source
// availability and BIOS identity. Free-text details are left out so a reworded detail is not an event.
function fingerprint(r: ResolvedFirmware): string {
  return JSON.stringify([
    PASSWORD_FIELDS.map((f) => [r.fields[f].state, r.fields[f].source]),
    r.disagreements.map((d) => [d.field, d.chosenSource, d.otherSource, d.otherState]),
    r.sources.map((s) => [s.name, s.available]),
    [r.bios.vendor, r.bios.version, r.bios.date],
  ]);
}

/**
 * Periodically reads the firmware probe and reports: `firmware.state` at start and on any change,
 * `firmware.password_removed` on set → not_set, `firmware.bios_changed` when the BIOS identity
 * changes (possible reflash or reset). Compares against a stored baseline across restarts.
 */
export function createFirmwareSensor(deps: FirmwareSensorDeps): FirmwareSensor {
  const log = deps.log.child({ component: 'firmware-sensor' });
  let last: ResolvedFirmware | null = null;
  let lastPrint: string | null = null;
  const serial = createSerialQueue();
  const run = () => serial(runOnce);

  async function runOnce(): Promise<ResolvedFirmware> {
    const resolved = resolveFirmware(await deps.probe.read());
    const cur = baselineOf(resolved);
    const print = fingerprint(resolved);
    const prev: FirmwareBaseline | null = last ? baselineOf(last) : ((await deps.baseline?.load()) ?? null);

    if (last === null) await deps.emit('firmware.state', firmwareStateBody(resolved, 'initial'));
    else if (print !== lastPrint) await deps.emit('firmware.state', firmwareStateBody(resolved, 'changed'));

    if (prev) {
      const changes = diffFirmware(prev, cur);
      for (const f of changes.removed) {
        log.warn({ field: WIRE[f], source: resolved.fields[f].source }, 'firmware password removed');
        await deps.emit('firmware.password_removed', { field: WIRE[f], previous: 'set', current: cur.fields[f], source: t(resolved.fields[f].source, 96) });
      }
      if (changes.biosChanged) {
        log.warn({}, 'bios identity changed');
        await deps.emit('firmware.bios_changed', {
          previous: biosBody(prev.bios),
          current: biosBody(cur.bios),
          detail: 'BIOS vendor, version or date changed: possible reflash or reset to defaults',
        });
      }
    }
    last = resolved;
    lastPrint = print;
    await deps.baseline?.save(cur);
    return resolved;
  }

  const onError = (err: Error) => reportSensorError({ log, ...(deps.onError ? { onError: deps.onError } : {}) }, err, 'firmware sensor run failed');
  const task = createPeriodicTask({ intervalMs: deps.intervalMs ?? FIRMWARE_INTERVAL_MS, run: async () => void (await run()), onError });

  async function checkNow(): Promise<ResolvedFirmware | null> {
    try {
      return await run();
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
      return null;
    }
  }

  return {
    async start() {
      await checkNow();
      task.start(deps.intervalMs ?? FIRMWARE_INTERVAL_MS);
    },
    stop: () => task.stop(),
    checkNow,
    current: () => last,
  };
}
