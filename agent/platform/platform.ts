import type { UsbDevice } from '../../shared/domain/usb.js';

/**
 * The narrow seams between the agent and the operating system. Adapters translate (sysfs, uevents,
 * WMI); they never decide. Policy, grants and the default-block rule live in agent/enforcement and
 * run identically against the fake platform.
 */

/** One interface of a configured USB device. */
export interface UsbInterfaceState {
  /** OS name of the interface; on Linux the sysfs name, e.g. "2-1:1.0". */
  name: string;
  number: number;
  cls: number;
  subclass: number;
  protocol: number;
  /** As read from the OS; null when unreadable (enforcement treats that as "must stay blocked"). */
  authorized: boolean | null;
  /** Bound driver name, null when none. */
  driver: string | null;
}

/** Everything the agent knows about one attached device. Strings in `info` are already sanitized. */
export interface UsbDeviceState {
  /** Port path, e.g. "2-1.3"; the key of the device while it is attached. */
  port: string;
  info: UsbDevice;
  interfaces: UsbInterfaceState[];
  /**
   * False when the descriptors could not be read or parsed. Enforcement must then authorize
   * nothing on the device (fail closed) and report why in `problem`.
   */
  descriptorsReadable: boolean;
  problem?: string;
}

/** A USB host controller's root hub and its storage gate. */
export interface UsbControllerState {
  /** Root hub name, e.g. "usb1". */
  name: string;
  /** interface_authorized_default as read back; null when unreadable. */
  interfaceAuthorizedDefault: number | null;
}

export type UsbChange =
  | { kind: 'device-added'; port: string }
  | { kind: 'device-removed'; port: string }
  | { kind: 'interface-added'; port: string; iface: string }
  | { kind: 'controller-added'; name: string }
  /** Events may have been lost (socket overrun, watcher restart): rescan everything. */
  | { kind: 'resync'; reason: string };

export interface UsbWatch {
  stop(): Promise<void>;
}

export interface UsbPlatform {
  /**
   * Starts delivering changes. Called BEFORE the initial scan, so nothing that appears during the
   * scan is missed (listen → scan → replay, as USBGuard does). Errors go to onError, never thrown
   * into the event loop.
   */
  watch(onChange: (c: UsbChange) => void, onError: (err: Error) => void): Promise<UsbWatch>;
  listControllers(): Promise<UsbControllerState[]>;
  /** Sets the controller's interface_authorized_default to 0 and returns the value read back. */
  lockController(name: string): Promise<UsbControllerState>;
  /** Ports of every attached non-root-hub device, parents before children. */
  listDevices(): Promise<string[]>;
  /** Reads one device; null when it is gone. Never throws for a hostile or half-written device. */
  readDevice(port: string): Promise<UsbDeviceState | null>;
  /** authorized=1 on the interface, then asks the kernel to probe a driver for it. */
  authorizeInterface(iface: string): Promise<void>;
  /** authorized=0 on the interface: unbinds its driver and keeps it from binding again. */
  deauthorizeInterface(iface: string): Promise<void>;
  /** Logically disconnects the device (USBGuard's "reject"). */
  rejectDevice(port: string): Promise<void>;
}

export type PlatformName = 'linux' | 'windows' | 'fake';

/** Later sensors (firmware, software, network) add their seams here. */
export interface Platform {
  name: PlatformName;
  usb: UsbPlatform;
}
