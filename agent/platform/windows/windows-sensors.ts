import type { PowerShellRunner, SensorPlatform } from '../sensors.js';
import { createNodeNetworkProbe } from '../linux/network/node-network-probe.js';
import { createPowerShellRunner } from './powershell.js';
import { createWindowsFirmwareProbe } from './windows-firmware-probe.js';
import { createWindowsProcessLister } from './windows-process-lister.js';
import { createWindowsSoftwareInventory } from './windows-software-inventory.js';

/** The Windows sensor seams. The network probe is the Node-API one shared with Linux (os + net are portable). */
export function createWindowsSensorPlatform(deps: { runPowerShell?: PowerShellRunner } = {}): SensorPlatform {
  const runPowerShell = deps.runPowerShell ?? createPowerShellRunner();
  return {
    firmware: createWindowsFirmwareProbe({ runPowerShell }),
    software: createWindowsSoftwareInventory({ runPowerShell }),
    processes: createWindowsProcessLister({ runPowerShell }),
    network: createNodeNetworkProbe(),
  };
}
