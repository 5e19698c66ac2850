import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../shared/logger.js';

/**
 * node-usb (`usb` 3.x) as an extra hotplug hint where it is the right tool: on a seat where udevd
 * runs, its connect/disconnect events (udev netlink) arrive independently of our kernel-uevent
 * socket, so each one triggers a rescan. Enforcement never depends on it: the kernel gate
 * (interface_authorized_default=0) blocks storage with or without any event.
 *
 * Two traps are avoided before `usb` is even loaded:
 * - usb 3.x registers listeners with an internal `getDevices().then(...)` that has no `.catch`; on
 *   a host without /sys/bus/usb (containers, CI) that is an unhandled rejection and Node 20 exits.
 *   So the module is only imported when the bus exists and a first `getDevices()` succeeds.
 * - without udevd, node-usb emits no hotplug events at all (platform.md §0.2), so it is not started.
 */
export interface UsbModule {
  usb: {
    getDevices(): Promise<unknown[]>;
    addEventListener(type: 'connect' | 'disconnect', listener: () => void): void;
    removeEventListener(type: 'connect' | 'disconnect', listener: () => void): void;
  };
}

export interface NodeUsbHotplugOptions {
  sysfsRoot: string;
  /** udevd's control socket; its presence means udevd runs. Default /run/udev/control. */
  udevControlPath?: string;
  log: Logger;
  /** Loads the `usb` package; injectable so tests can see whether it was loaded at all. */
  loadUsb?: () => Promise<UsbModule>;
}

export type HotplugStart = { started: true } | { started: false; reason: string };

export interface NodeUsbHotplug {
  start(onHint: (reason: string) => void): Promise<HotplugStart>;
  stop(): void;
}

const defaultLoad = async (): Promise<UsbModule> => (await import('usb')) as unknown as UsbModule;

export function createNodeUsbHotplug(opts: NodeUsbHotplugOptions): NodeUsbHotplug {
  const log = opts.log.child({ component: 'node-usb-hotplug' });
  let detach: (() => void) | null = null;
  return {
    async start(onHint) {
      if (!existsSync(join(opts.sysfsRoot, 'bus/usb/devices'))) return { started: false, reason: 'no USB bus (bus/usb/devices absent)' };
      if (!existsSync(opts.udevControlPath ?? '/run/udev/control')) return { started: false, reason: 'udevd is not running: node-usb would see no hotplug events' };
      let mod: UsbModule;
      try {
        mod = await (opts.loadUsb ?? defaultLoad)();
        await mod.usb.getDevices();
      } catch (err) {
        log.warn({ err }, 'node-usb unavailable; kernel uevents alone drive rescans');
        return { started: false, reason: 'node-usb failed to load or list devices' };
      }
      const onConnect = () => onHint('node-usb connect');
      const onDisconnect = () => onHint('node-usb disconnect');
      mod.usb.addEventListener('connect', onConnect);
      mod.usb.addEventListener('disconnect', onDisconnect);
      detach = () => {
        mod.usb.removeEventListener('connect', onConnect);
        mod.usb.removeEventListener('disconnect', onDisconnect);
      };
      log.info({}, 'node-usb hotplug hints enabled');
      return { started: true };
    },
    stop() {
      detach?.();
      detach = null;
    },
  };
}
