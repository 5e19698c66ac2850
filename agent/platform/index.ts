import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { createFakePlatform, type FakeUsbPlatform, type FakeUsbPlatformOptions } from './fake/fake-platform.js';
import { createLinuxUsbPlatform } from './linux/usb-platform.js';
import { createNodeUsbHotplug } from './linux/node-usb-hotplug.js';
import type { Platform, UsbPlatform } from './platform.js';

export interface SelectPlatformOptions {
  /** sysfs mount point for linux. Default '/sys'. */
  sysfsRoot?: string;
  log: Logger;
  fake?: FakeUsbPlatformOptions;
}

/** The platform chosen by name; `fake` comes with its script methods. */
export type SelectedPlatform = Platform | (Platform & { name: 'fake'; usb: FakeUsbPlatform });

/**
 * The one place that looks at process.platform (house-style §1.1). `auto` picks linux on Linux.
 * Windows is designed (docs/windows-plan.md) but not built: asking for it is a configuration error,
 * never a silent fallback to something that does not block.
 */
export function selectPlatform(name: 'linux' | 'fake' | 'windows' | 'auto', opts: SelectPlatformOptions): SelectedPlatform {
  const resolved = name === 'auto' ? autoName() : name;
  switch (resolved) {
    case 'fake':
      return createFakePlatform(opts.fake);
    case 'linux': {
      const sysfsRoot = opts.sysfsRoot ?? '/sys';
      return { name: 'linux', usb: withNodeUsbHints(createLinuxUsbPlatform({ sysfsRoot, log: opts.log }), sysfsRoot, opts.log) };
    }
    case 'windows':
      throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', 'windows platform is planned, not available in this build'));
  }
}

function autoName(): 'linux' | 'windows' {
  if (process.platform === 'linux') return 'linux';
  if (process.platform === 'win32') return 'windows';
  throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', `no USB platform for ${process.platform}`));
}

/** True when the selected platform is the scriptable fake. */
export function isFakePlatform(p: SelectedPlatform): p is Platform & { name: 'fake'; usb: FakeUsbPlatform } {
  return p.name === 'fake';
}

/**
 * Adds node-usb's udev-based hotplug events as rescan hints next to the kernel uevents (see
 * node-usb-hotplug.ts for when it is used and the crash it avoids).
 */
function withNodeUsbHints(usb: UsbPlatform, sysfsRoot: string, log: Logger): UsbPlatform {
  return {
    ...usb,
    async watch(onChange, onError) {
      const watch = await usb.watch(onChange, onError);
      const hints = createNodeUsbHotplug({ sysfsRoot, log });
      const started = await hints.start((reason) => onChange({ kind: 'resync', reason }));
      if (!started.started) log.debug({ reason: started.reason }, 'node-usb hotplug hints off');
      return {
        async stop() {
          hints.stop();
          await watch.stop();
        },
      };
    },
  };
}
