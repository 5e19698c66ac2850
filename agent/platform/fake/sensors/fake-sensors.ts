import type { SensorPlatform } from '../../sensors.js';
import { FakeFirmwareProbe } from './fake-firmware-probe.js';
import { FakeNetworkProbe } from './fake-network-probe.js';
import { FakeProcessLister } from './fake-process-lister.js';
import { FakeSoftwareInventory } from './fake-software-inventory.js';

/**
 * Working in-memory sensor implementations with script methods, for tests and `--platform fake`
 * runs. They hold state (installed packages, running processes, interfaces) rather than recording
 * calls, so the sensor runners behave against them as against the real adapters.
 */
export { FakeFirmwareProbe, FakeNetworkProbe, FakeProcessLister, FakeSoftwareInventory };

export interface FakeSensorPlatform extends SensorPlatform {
  firmware: FakeFirmwareProbe;
  software: FakeSoftwareInventory;
  processes: FakeProcessLister;
  network: FakeNetworkProbe;
}

/** A fresh, empty fake sensor platform. */
export function createFakeSensorPlatform(): FakeSensorPlatform {
  return {
    firmware: new FakeFirmwareProbe(),
    software: new FakeSoftwareInventory(),
    processes: new FakeProcessLister(),
    network: new FakeNetworkProbe(),
  };
}

/**
 * The fake seat `seatguard agent probe --platform fake` shows: a Dell-like machine with an admin
 * password set, a few packages (one denied by the default list) and one interface.
 */
export function createDemoFakeSensorPlatform(): FakeSensorPlatform {
  const p = createFakeSensorPlatform();
  p.firmware
    .setSources([
      { name: 'firmware-attributes:fake-vendor', authority: 'vendor', available: true, fields: { adminPassword: 'set', powerOnPassword: 'not_set' }, detail: 'fake: Admin role=bios-admin is_enabled=1; System role=power-on is_enabled=0' },
      { name: 'smbios:type24', authority: 'smbios', available: true, fields: { adminPassword: 'set', powerOnPassword: 'not_set', keyboardPassword: 'not_implemented', frontPanelReset: 'unknown' }, detail: 'fake: settings=0x0b' },
    ])
    .setBios({ vendor: 'Fake BIOS Inc.', version: '1.2.3', date: '01/02/2026' });
  p.software.install(
    { name: 'bash', version: '5.2.15-2+b7', arch: 'amd64' },
    { name: 'libc6', version: '2.36-9+deb12u10', arch: 'amd64' },
    { name: 'nmap', version: '7.93+dfsg1-1', arch: 'amd64' },
  );
  p.network.setInterfaces([
    { name: 'lo', mac: null, ipv4: ['127.0.0.1'], ipv6: ['::1'], internal: true },
    { name: 'eth0', mac: '02:00:00:00:00:01', ipv4: ['192.0.2.10'], ipv6: [], internal: false },
  ]);
  return p;
}
