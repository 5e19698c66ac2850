import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseUsbDescriptors, type DescriptorParseResult } from '../../../../../agent/platform/linux/usb-descriptors.js';
import { buildDescriptors } from '../../../../helpers/fake-sysfs.js';

const STICK = buildDescriptors({ vendorId: 0x0781, productId: 0x5583, bcdDevice: 0x0100, configs: [{ value: 1, interfaces: [{ cls: 8, sub: 6, proto: 0x50 }] }] });

function expectOk(r: DescriptorParseResult) {
  if (!r.ok) throw new Error(`expected a parse, got problem: ${r.problem}`);
  return r.value;
}

function expectProblem(r: DescriptorParseResult, pattern: RegExp) {
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.problem).toMatch(pattern);
}

describe('parseUsbDescriptors', () => {
  it('reads ids and the storage interface of a single-config stick', () => {
    const d = expectOk(parseUsbDescriptors(STICK));
    expect(d).toMatchObject({ vendorId: 0x0781, productId: 0x5583, bcdDevice: 0x0100, isLinuxRootHub: false, length: STICK.length });
    expect(d.configurations).toEqual([{ value: 1, numInterfaces: 1 }]);
    expect(d.interfaces).toEqual([{ configValue: 1, number: 0, alternate: 0, cls: 8, subclass: 6, protocol: 0x50 }]);
  });

  it('lists both interfaces of a composite HID + storage device and skips the HID class descriptor', () => {
    const buf = buildDescriptors({
      vendorId: 0x1d6b,
      productId: 0x0104,
      bcdDevice: 0x0510,
      configs: [{ value: 1, interfaces: [{ cls: 3, sub: 1, proto: 1 }, { cls: 8, sub: 6, proto: 0x50 }] }],
    });
    expect(buf.includes(Buffer.from([9, 0x21]))).toBe(true);
    const d = expectOk(parseUsbDescriptors(buf));
    expect(d.interfaces.map((i) => [i.number, i.cls, i.subclass, i.protocol])).toEqual([
      [0, 3, 1, 1],
      [1, 8, 6, 0x50],
    ]);
  });

  it('reports the interfaces of every configuration, tagged with their configuration value', () => {
    const buf = buildDescriptors({
      vendorId: 0x1234,
      productId: 0x5678,
      bcdDevice: 1,
      configs: [
        { value: 1, interfaces: [{ cls: 3, sub: 1, proto: 1 }] },
        { value: 2, interfaces: [{ cls: 8, sub: 6, proto: 0x62 }, { cls: 0xff, sub: 0, proto: 0 }] },
      ],
    });
    const d = expectOk(parseUsbDescriptors(buf));
    expect(d.configurations).toEqual([
      { value: 1, numInterfaces: 1 },
      { value: 2, numInterfaces: 2 },
    ]);
    expect(d.interfaces.map((i) => [i.configValue, i.cls])).toEqual([
      [1, 3],
      [2, 8],
      [2, 0xff],
    ]);
  });

  it('keeps alternate settings as separate entries', () => {
    const buf = buildDescriptors({ vendorId: 1, productId: 2, bcdDevice: 3, configs: [{ value: 1, interfaces: [{ cls: 9, sub: 0, proto: 1 }, { cls: 9, sub: 0, proto: 2, alt: 1 }] }] });
    const d = expectOk(parseUsbDescriptors(buf));
    expect(d.interfaces.map((i) => [i.number, i.alternate, i.protocol])).toEqual([
      [0, 0, 1],
      [0, 1, 2],
    ]);
  });

  it('flags Linux root hubs (1d6b:0001-0003) and nothing else', () => {
    const hub = (pid: number) => buildDescriptors({ vendorId: 0x1d6b, productId: pid, bcdDevice: 0x0601, configs: [{ value: 1, interfaces: [{ cls: 9, sub: 0, proto: 0 }] }] });
    expect(expectOk(parseUsbDescriptors(hub(2))).isLinuxRootHub).toBe(true);
    expect(expectOk(parseUsbDescriptors(hub(3))).isLinuxRootHub).toBe(true);
    expect(expectOk(parseUsbDescriptors(hub(0x104))).isLinuxRootHub).toBe(false);
  });

  it('accepts a device descriptor alone (an unconfigured device)', () => {
    const d = expectOk(parseUsbDescriptors(STICK.subarray(0, 18)));
    expect(d.interfaces).toEqual([]);
  });

  it('rejects an empty blob', () => {
    expectProblem(parseUsbDescriptors(new Uint8Array()), /empty/);
  });

  it('rejects a blob truncated inside a descriptor', () => {
    expectProblem(parseUsbDescriptors(STICK.subarray(0, STICK.length - 3)), /runs past the end/);
  });

  it('rejects a blob that ends with half a header', () => {
    expectProblem(parseUsbDescriptors(Buffer.concat([STICK, Buffer.from([7])])), /truncated descriptor header/);
  });

  it('rejects a zero-length descriptor instead of looping on it', () => {
    const buf = Buffer.from(STICK);
    buf[18] = 0;
    expectProblem(parseUsbDescriptors(buf), /length 0 .* shorter than its header/);
  });

  it('rejects a length that points past the end of the data', () => {
    const buf = Buffer.from(STICK);
    buf[18 + 9] = 0xff; // the interface descriptor claims 255 bytes
    expectProblem(parseUsbDescriptors(buf), /runs past the end/);
  });

  it('rejects an interface descriptor of the wrong size, as USBGuard does', () => {
    const buf = Buffer.concat([STICK.subarray(0, 27), Buffer.from([10, 4, 0, 0, 0, 8, 6, 0x50, 0, 0])]);
    expectProblem(parseUsbDescriptors(buf), /interface descriptor length 10/);
  });

  it('rejects data that does not start with a device descriptor', () => {
    expectProblem(parseUsbDescriptors(STICK.subarray(18)), /expected a 18-byte device descriptor/);
  });

  it('rejects a second device descriptor', () => {
    expectProblem(parseUsbDescriptors(Buffer.concat([STICK, STICK.subarray(0, 18)])), /second device descriptor/);
  });

  it('rejects an interface before any configuration and an endpoint before any interface', () => {
    const dev = STICK.subarray(0, 18);
    expectProblem(parseUsbDescriptors(Buffer.concat([dev, Buffer.from([9, 4, 0, 0, 0, 8, 6, 0x50, 0])])), /outside a configuration/);
    const cfg = Buffer.from([9, 2, 16, 0, 1, 1, 0, 0x80, 50]);
    expectProblem(parseUsbDescriptors(Buffer.concat([dev, cfg, Buffer.from([7, 5, 0x81, 2, 0, 2, 0])])), /outside an interface/);
  });

  it('never throws and never reads out of bounds on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const r = parseUsbDescriptors(bytes);
        if (r.ok) expect(r.value.length).toBe(bytes.length);
        else expect(typeof r.problem).toBe('string');
      }),
      { numRuns: 2000 },
    );
  });

  it('parses back exactly the interfaces a well-formed blob was built from', () => {
    const iface = fc.record({ cls: fc.integer({ min: 0, max: 255 }), sub: fc.integer({ min: 0, max: 255 }), proto: fc.integer({ min: 0, max: 255 }) });
    fc.assert(
      fc.property(fc.array(iface, { minLength: 1, maxLength: 8 }), (interfaces) => {
        const d = expectOk(parseUsbDescriptors(buildDescriptors({ vendorId: 1, productId: 2, bcdDevice: 3, configs: [{ value: 1, interfaces }] })));
        expect(d.interfaces.map((i) => ({ cls: i.cls, sub: i.subclass, proto: i.protocol }))).toEqual(interfaces);
      }),
      { numRuns: 300 },
    );
  });
});
