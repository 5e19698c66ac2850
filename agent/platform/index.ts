import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { createFakePlatform, type FakeUsbPlatform, type FakeUsbPlatformOptions } from './fake/fake-platform.js';
import { createLinuxUsbPlatform } from './linux/usb-platform.js';
import type { Platform } from './platform.js';

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
    case 'linux':
      return { name: 'linux', usb: createLinuxUsbPlatform({ sysfsRoot: opts.sysfsRoot ?? '/sys', log: opts.log }) };
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
