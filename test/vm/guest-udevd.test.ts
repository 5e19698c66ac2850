// Pure checks of the udevd debug-log parser the udev suite uses as evidence (no QEMU needed).
import { describe, expect, it } from 'vitest';
import { parseRuleActions } from '../../scripts/vm/guest-udevd.js';

const RULE = '/run/udev/rules.d/10-seatguard-usb-storage.rules';

describe('parseRuleActions (udevd 252 debug log)', () => {
  it('reads ATTR writes and RUN lines of the seatguard rule with device, line, attribute and value', () => {
    const log = [
      `usb3: ${RULE}:3 ATTR '/sys/devices/platform/dummy_hcd.0/usb3/interface_authorized_default' writing '0'`,
      `3-1:1.0: ${RULE}:4 ATTR '/sys/devices/platform/dummy_hcd.0/usb3/3-1/3-1:1.0/authorized' writing '1'`,
      `3-1:1.0: ${RULE}:4 RUN '/bin/sh -c 'echo %k > /sys/bus/usb/drivers_probe''`,
      `3-1:1.1: ${RULE}:5 ATTR '/sys/devices/platform/dummy_hcd.0/usb3/3-1/3-1:1.1/authorized' writing '0'`,
    ].join('\n');
    expect(parseRuleActions(log, RULE)).toEqual([
      { device: 'usb3', line: 3, what: 'interface_authorized_default', value: '0' },
      { device: '3-1:1.0', line: 4, what: 'authorized', value: '1' },
      { device: '3-1:1.0', line: 4, what: 'RUN', value: '' },
      { device: '3-1:1.1', line: 5, what: 'authorized', value: '0' },
    ]);
  });

  it('ignores other rule files, other message kinds and lines that only quote the rule path', () => {
    const log = [
      `0003:0627:0001.0001: /usr/lib/udev/rules.d/50-udev-default.rules:20 Failed to run builtin 'hwdb --subsystem=hid': No data available`,
      `Reading rules file: ${RULE}`,
      `usb1: /etc/udev/rules.d/10-seatguard-usb-storage.rules:3 ATTR '/sys/devices/usb1/interface_authorized_default' writing '0'`,
      `input2: Failed to find module 'x: ${RULE}:5 ATTR '/sys/a/authorized' writing '0''`,
      `2-1 evil name: ${RULE}:5 ATTR '/sys/devices/x/authorized' writing '0'`,
    ].join('\n');
    expect(parseRuleActions(log, RULE)).toEqual([]);
  });
});
