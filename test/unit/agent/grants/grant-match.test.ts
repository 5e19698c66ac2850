import { describe, expect, it } from 'vitest';
import type { UsbDevice } from '../../../../shared/domain/usb.js';
import { grantMatches, remainingMs, type StoredGrant } from '../../../../agent/grants/grant.js';

const HASH = 'q3S8Yw0dJ4cvS8cJ6ZkQk3pXl1b9kzq0kYb3Yw0dJ4c=';
const device = (over: Partial<UsbDevice> = {}): UsbDevice => ({
  port: '2-1.3',
  vendor_id: '0781',
  product_id: '5567',
  bcd_device: '0100',
  serial: '4C530001230517109291',
  manufacturer: 'SanDisk',
  product: 'Cruzer Blade',
  hash: HASH,
  parent_hash: null,
  interfaces: ['08:06:50'],
  connect_type: 'hotplug',
  ...over,
});
const grant = (over: Partial<Pick<StoredGrant, 'anyPort'>> & { device?: Partial<StoredGrant['device']> } = {}) => ({
  anyPort: over.anyPort ?? false,
  device: { vendor_id: '0781', product_id: '5567', serial: '4C530001230517109291', hash: HASH, port: '2-1.3', ...over.device },
});

describe('grantMatches', () => {
  it('matches the exact device on its port', () => {
    expect(grantMatches(grant(), device())).toBe(true);
  });

  it.each([
    ['vendor', { vendor_id: '0782' }],
    ['product', { product_id: '5568' }],
    ['serial', { serial: '4C530001230517109292' }],
    ['serial missing', { serial: null }],
    ['hash', { hash: 'A'.repeat(43) + '=' }],
    ['hash missing', { hash: null }],
    ['port', { port: '2-1.4' }],
  ] as const)('refuses a device that differs in %s', (_what, over) => {
    expect(grantMatches(grant(), device(over))).toBe(false);
  });

  it('compares serials exactly (no case folding, no trimming)', () => {
    expect(grantMatches(grant(), device({ serial: '4c530001230517109291' }))).toBe(false);
    expect(grantMatches(grant(), device({ serial: '4C530001230517109291 ' }))).toBe(false);
  });

  it('matches on any port with any_port, but only on the bound port once it is in use', () => {
    const g = grant({ anyPort: true });
    expect(grantMatches(g, device({ port: '1-4' }))).toBe(true);
    expect(grantMatches(g, device({ port: '1-4' }), '2-1.3')).toBe(false);
    expect(grantMatches(g, device({ port: '2-1.3' }), '2-1.3')).toBe(true);
  });

  it('matches nothing when the grant names no port and is not for any port', () => {
    expect(grantMatches(grant({ device: { port: null } }), device())).toBe(false);
  });

  it('matches a device without serial only when the grant also has none', () => {
    expect(grantMatches(grant({ device: { serial: null } }), device({ serial: null }))).toBe(true);
    expect(grantMatches(grant({ device: { serial: null } }), device())).toBe(false);
  });
});

describe('remainingMs', () => {
  it('is the earlier of the monotonic deadline and the wall-clock expiry', () => {
    const g = { deadlineMono: 10_000, expiresAtWall: 1_000_000 };
    expect(remainingMs(g, 4_000, 990_000)).toBe(6_000);
    expect(remainingMs(g, 4_000, 998_000)).toBe(2_000);
    expect(remainingMs(g, 4_000, 0)).toBe(6_000);
  });
});
