import type { Logger } from '../../shared/logger.js';
import { createDemoFakeSensorPlatform } from '../platform/fake/sensors/fake-sensors.js';
import { createLinuxFirmwareProbe } from '../platform/linux/firmware/linux-firmware-probe.js';
import { systeminformationBios } from '../platform/linux/firmware/si-bios.js';
import { createNodeNetworkProbe } from '../platform/linux/network/node-network-probe.js';
import { createLinuxProcessLister } from '../platform/linux/process/linux-process-lister.js';
import { createExecRunner } from '../platform/linux/software/command-runner.js';
import { createLinuxSoftwareInventory } from '../platform/linux/software/linux-software-inventory.js';
import type { SensorPlatform } from '../platform/sensors.js';
import { createWindowsSensorPlatform } from '../platform/windows/windows-sensors.js';

/**
 * The Linux sensor seams, all reading under `root` ('/' on a live seat; a captured tree for tests
 * and support staff).
 */
export function createLinuxSensorPlatform(deps: { root?: string; log: Logger }): SensorPlatform {
  const root = deps.root ?? '/';
  return {
    firmware: createLinuxFirmwareProbe({ root, biosFallback: systeminformationBios }),
    software: createLinuxSoftwareInventory({ root, runCommand: createExecRunner(), log: deps.log }),
    processes: createLinuxProcessLister({ root, log: deps.log }),
    network: createNodeNetworkProbe({ root }),
  };
}

/**
 * Sensor seams by platform name (the caller — agent/platform/index.ts or the probe — chooses the
 * name; nothing here looks at process.platform). 'fake' is the scripted demo seat.
 */
export function createSensorPlatform(deps: { platform: 'linux' | 'windows' | 'fake'; root?: string; log: Logger }): SensorPlatform {
  switch (deps.platform) {
    case 'linux':
      return createLinuxSensorPlatform(deps.root === undefined ? { log: deps.log } : { root: deps.root, log: deps.log });
    case 'windows':
      return createWindowsSensorPlatform();
    case 'fake':
      return createDemoFakeSensorPlatform();
  }
}
