import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseUevent, ueventToChange, type Uevent } from '../../../../../agent/platform/linux/uevent-parser.js';

const HUB = '/devices/pci0000:00/0000:00:14.0/usb1';

/** A datagram as the kernel sends it: header, then NUL-terminated KEY=VALUE fields. */
function kernelMessage(action: string, devpath: string, env: Record<string, string>): Buffer {
  const fields = [`${action}@${devpath}`, `ACTION=${action}`, `DEVPATH=${devpath}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'SEQNUM=4711'];
  return Buffer.from(fields.join('\0') + '\0', 'latin1');
}

function parsed(buf: Buffer): Uevent {
  const ev = parseUevent(buf);
  if (!ev) throw new Error('expected a parsed uevent');
  return ev;
}

describe('parseUevent', () => {
  it('parses a usb_device add with its environment', () => {
    const ev = parsed(kernelMessage('add', `${HUB}/1-2`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device', PRODUCT: '781/5583/100' }));
    expect(ev.action).toBe('add');
    expect(ev.devpath).toBe(`${HUB}/1-2`);
    expect(ev.env.get('DEVTYPE')).toBe('usb_device');
    expect(ev.env.get('SEQNUM')).toBe('4711');
  });

  it('parses remove and bind messages', () => {
    expect(parsed(kernelMessage('remove', `${HUB}/1-2`, { SUBSYSTEM: 'usb' })).action).toBe('remove');
    const bind = parsed(kernelMessage('bind', `${HUB}/1-2/1-2:1.0`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_interface', DRIVER: 'usb-storage' }));
    expect(bind.env.get('DRIVER')).toBe('usb-storage');
  });

  it('accepts a message without the final NUL', () => {
    const buf = kernelMessage('add', `${HUB}/1-2`, { SUBSYSTEM: 'usb' });
    expect(parseUevent(buf.subarray(0, buf.length - 1))).not.toBeNull();
  });

  it('rejects a message truncated inside a field', () => {
    const buf = kernelMessage('add', `${HUB}/1-2`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device' });
    const cut = buf.indexOf(Buffer.from('DEVTYPE'));
    expect(parseUevent(buf.subarray(0, cut + 4))).toBeNull();
  });

  it("rejects udev's libudev frames, garbage and empty input", () => {
    expect(parseUevent(Buffer.from('libudev\0\xfe\xed\xca\xfe', 'latin1'))).toBeNull();
    expect(parseUevent(Buffer.from('not a uevent at all'))).toBeNull();
    expect(parseUevent(Buffer.from([0xff, 0x00, 0x41, 0x3d]))).toBeNull();
    expect(parseUevent(new Uint8Array())).toBeNull();
  });

  it('rejects unknown actions, relative devpaths and header/body disagreement', () => {
    expect(parseUevent(Buffer.from('explode@/devices/x\0SUBSYSTEM=usb\0'))).toBeNull();
    expect(parseUevent(Buffer.from('add@devices/x\0SUBSYSTEM=usb\0'))).toBeNull();
    expect(parseUevent(Buffer.from('add@/devices/x\0ACTION=remove\0'))).toBeNull();
    expect(parseUevent(Buffer.from('add@/devices/x\0DEVPATH=/devices/y\0'))).toBeNull();
  });

  it('rejects duplicate keys and oversized datagrams', () => {
    expect(parseUevent(Buffer.from('add@/devices/x\0SUBSYSTEM=usb\0SUBSYSTEM=net\0'))).toBeNull();
    expect(parseUevent(Buffer.concat([Buffer.from('add@/devices/x\0A='), Buffer.alloc(9000, 0x41)]))).toBeNull();
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const ev = parseUevent(bytes);
        if (ev) expect(ev.devpath.startsWith('/')).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('ueventToChange', () => {
  const change = (action: string, devpath: string, env: Record<string, string>) => ueventToChange(parsed(kernelMessage(action, devpath, env)));

  it('maps device add and remove to device-added / device-removed by port', () => {
    expect(change('add', `${HUB}/1-4/1-4.2`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device' })).toEqual({ kind: 'device-added', port: '1-4.2' });
    expect(change('remove', `${HUB}/1-2`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device' })).toEqual({ kind: 'device-removed', port: '1-2' });
  });

  it('maps a root hub add to controller-added and its removal to a resync', () => {
    expect(change('add', HUB, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device' })).toEqual({ kind: 'controller-added', name: 'usb1' });
    expect(change('remove', HUB, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device' })).toMatchObject({ kind: 'resync' });
  });

  it('maps interface add and driver bind to interface-added', () => {
    const expected = { kind: 'interface-added', port: '1-2', iface: '1-2:1.0' };
    expect(change('add', `${HUB}/1-2/1-2:1.0`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_interface' })).toEqual(expected);
    expect(change('bind', `${HUB}/1-2/1-2:1.0`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_interface', DRIVER: 'usb-storage' })).toEqual(expected);
  });

  it('ignores other subsystems, root hub interfaces, device binds and odd names', () => {
    expect(change('add', '/devices/virtual/net/lo', { SUBSYSTEM: 'net' })).toBeNull();
    expect(change('add', `${HUB}/1-0:1.0`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_interface' })).toBeNull();
    expect(change('bind', `${HUB}/1-2`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device', DRIVER: 'usb' })).toBeNull();
    expect(change('unbind', `${HUB}/1-2/1-2:1.0`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_interface' })).toBeNull();
    expect(change('add', `${HUB}/1-2/ep_81`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_endpoint' })).toBeNull();
    expect(change('add', `${HUB}/evil..`, { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device' })).toBeNull();
    expect(change('add', '/sys/../1-2', { SUBSYSTEM: 'usb', DEVTYPE: 'usb_device' })).toBeNull();
  });
});
