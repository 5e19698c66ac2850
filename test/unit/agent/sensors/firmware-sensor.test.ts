import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../shared/logger.js';
import { FakeFirmwareProbe } from '../../../../agent/platform/fake/sensors/fake-sensors.js';
import type { FirmwareSourceReading } from '../../../../agent/platform/sensors.js';
import { createJsonFileBaselineStore, type BaselineStore } from '../../../../agent/sensors/baseline-store.js';
import { createFirmwareSensor, type FirmwareSensor } from '../../../../agent/sensors/firmware-sensor.js';
import { FIRMWARE_BASELINE_CHECK } from '../../../../agent/sensors/sensor-checks.js';
import type { FirmwareBaseline } from '../../../../agent/sensors/firmware-state.js';
import { eventually } from '../../../helpers/eventually.js';
import { createEventLog } from './support.js';

const vendor = (admin: 'set' | 'not_set' | 'unknown'): FirmwareSourceReading => ({
  name: 'firmware-attributes:dell-wmi-sysman',
  authority: 'vendor',
  available: true,
  fields: { adminPassword: admin, powerOnPassword: 'not_set' },
  detail: `Admin: role=bios-admin is_enabled=${admin === 'set' ? 1 : 0}`,
});
const smbios: FirmwareSourceReading = {
  name: 'smbios:type24',
  authority: 'smbios',
  available: true,
  fields: { adminPassword: 'not_set', powerOnPassword: 'not_set', keyboardPassword: 'not_implemented', frontPanelReset: 'not_implemented' },
  detail: '24-0: settings=0x22',
};

const sensors: FirmwareSensor[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(sensors.splice(0).map((s) => s.stop()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function setup(opts: { intervalMs?: number; baseline?: BaselineStore<FirmwareBaseline> } = {}) {
  const probe = new FakeFirmwareProbe().setSources([vendor('set'), smbios]).setBios({ vendor: 'Dell Inc.', version: '1.31.0', date: '04/11/2024' });
  const log = createEventLog();
  const errors: Error[] = [];
  const sensor = createFirmwareSensor({
    probe,
    emit: log.emit,
    log: silentLogger(),
    onError: (e) => errors.push(e),
    intervalMs: opts.intervalMs ?? 3_600_000,
    ...(opts.baseline ? { baseline: opts.baseline } : {}),
  });
  sensors.push(sensor);
  return { probe, log, errors, sensor };
}

describe('firmware sensor', () => {
  it('reports the resolved state once at start, with the disagreement between vendor and SMBIOS', async () => {
    const { log, sensor } = setup();
    await sensor.start();
    expect(log.errors).toEqual([]);
    const [state, ...more] = log.of('firmware.state');
    expect(more).toEqual([]);
    expect(state).toMatchObject({
      reason: 'initial',
      admin_password: { state: 'set', source: 'firmware-attributes:dell-wmi-sysman' },
      keyboard_password: { state: 'not_implemented', source: 'smbios:type24' },
      disagreements: [{ field: 'admin_password', chosen_state: 'set', other_source: 'smbios:type24', other_state: 'not_set' }],
      bios: { vendor: 'Dell Inc.', version: '1.31.0', date: '04/11/2024' },
    });
  });

  it('stays quiet while nothing changes', async () => {
    const { log, sensor } = setup();
    await sensor.start();
    await sensor.checkNow();
    await sensor.checkNow();
    expect(log.events).toHaveLength(1);
  });

  it('raises password_removed and a changed state when the admin password goes from set to not_set', async () => {
    const { probe, log, sensor } = setup();
    await sensor.start();
    probe.setSource(vendor('not_set'));
    await sensor.checkNow();
    expect(log.errors).toEqual([]);
    expect(log.of('firmware.password_removed')).toEqual([
      { field: 'admin_password', previous: 'set', current: 'not_set', source: 'firmware-attributes:dell-wmi-sysman' },
    ]);
    expect(log.of('firmware.state').map((s) => [s.reason, s.admin_password.state])).toEqual([
      ['initial', 'set'],
      ['changed', 'not_set'],
    ]);
  });

  it('does not call a password that became unreadable "removed"', async () => {
    const { probe, log, sensor } = setup();
    await sensor.start();
    probe.setSource(vendor('unknown'));
    await sensor.checkNow();
    expect(log.of('firmware.password_removed')).toEqual([]);
    expect(log.of('firmware.state').at(-1)?.admin_password).toEqual({ state: 'unknown', source: 'firmware-attributes:dell-wmi-sysman' });
  });

  it('raises bios_changed when the BIOS version changes (possible reflash)', async () => {
    const { probe, log, sensor } = setup();
    await sensor.start();
    probe.setBios({ version: '1.32.0' });
    await sensor.checkNow();
    expect(log.of('firmware.bios_changed')).toEqual([
      {
        previous: { vendor: 'Dell Inc.', version: '1.31.0', date: '04/11/2024' },
        current: { vendor: 'Dell Inc.', version: '1.32.0', date: '04/11/2024' },
        detail: expect.stringMatching(/reflash/),
      },
    ]);
  });

  it('detects a password removed while the agent was down through the stored baseline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sg-fwbase-'));
    dirs.push(dir);
    const store = createJsonFileBaselineStore(join(dir, 'firmware.json'), FIRMWARE_BASELINE_CHECK);
    const first = setup({ baseline: store });
    await first.sensor.start();
    await first.sensor.stop();

    // "Reboot into setup, clear the password": a new agent process starts with the stored baseline.
    const second = setup({ baseline: store });
    second.probe.setSource(vendor('not_set'));
    await second.sensor.start();
    expect(second.log.of('firmware.state').map((s) => s.reason)).toEqual(['initial']);
    expect(second.log.of('firmware.password_removed')).toHaveLength(1);
  });

  it('ignores a damaged baseline file instead of trusting it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sg-fwbase-'));
    dirs.push(dir);
    const path = join(dir, 'firmware.json');
    await writeFile(path, '{"fields":{"adminPassword":"set"},"bios":7}');
    const store = createJsonFileBaselineStore(path, FIRMWARE_BASELINE_CHECK);
    expect(await store.load()).toBeNull();
  });

  it('reports a failing probe through onError, never throws, and reports initial once it works', async () => {
    const { probe, log, errors, sensor } = setup();
    probe.failWith(new Error('wmi exploded'));
    await expect(sensor.start()).resolves.toBeUndefined();
    expect(errors.map((e) => e.message)).toEqual(['wmi exploded']);
    expect(log.events).toEqual([]);
    probe.failWith(null);
    await sensor.checkNow();
    expect(log.of('firmware.state').map((s) => s.reason)).toEqual(['initial']);
  });

  it('keeps reading on its interval and stops cleanly', async () => {
    const { probe, sensor } = setup({ intervalMs: 5 });
    await sensor.start();
    await eventually(() => probe.reads >= 4, 5_000);
    await sensor.stop();
    const after = probe.reads;
    await new Promise((r) => setTimeout(r, 30));
    expect(probe.reads).toBe(after);
  });

  it('retries the same events after an emit failure (nothing is lost)', async () => {
    const probe = new FakeFirmwareProbe().setSources([vendor('set')]);
    let fail = true;
    const seen: string[] = [];
    const sensor = createFirmwareSensor({
      probe,
      log: silentLogger(),
      emit: (type) => {
        if (fail) throw new Error('outbox full');
        seen.push(type);
      },
    });
    sensors.push(sensor);
    await sensor.start();
    fail = false;
    await sensor.checkNow();
    expect(seen).toEqual(['firmware.state']);
  });
});
