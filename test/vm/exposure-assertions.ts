import { expect } from 'vitest';
import type { ExposureSummary } from '../../scripts/vm/usb-poller.js';

/**
 * The claim every "storage is never exposed" scenario makes, on what the in-guest sampler saw:
 * enough samples, no root-hub gate ever open, the storage interface never authorized or bound, no
 * new partition; and, when given, no storage driver bound according to the kernel log.
 */
export function expectStorageNeverExposed(s: ExposureSummary, storageTrace?: readonly string[]): void {
  expect(s.samples).toBeGreaterThan(20);
  expect(s.firstGateOpenT, 'a root hub gate was open while sampling').toBeNull();
  expect(s.firstBoundT, `storage bound to ${s.boundDriver ?? '?'}`).toBeNull();
  expect(s.firstAuthorizedT).toBeNull();
  expect(s.newPartitions).toEqual([]);
  if (storageTrace !== undefined) expect(storageTrace, 'kernel log shows a storage driver bound to the device').toEqual([]);
}
