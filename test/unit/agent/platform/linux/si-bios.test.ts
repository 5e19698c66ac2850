import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { systeminformationBios } from '../../../../../agent/platform/linux/firmware/si-bios.js';

const cachedSystemInformation = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /[/\\]node_modules[/\\]systeminformation[/\\]/.test(k));

describe('systeminformationBios (the BIOS-identity fallback)', () => {
  it('reads the BIOS identity and leaves no systeminformation module cached afterwards', async () => {
    const first = await systeminformationBios();
    expect(first).toEqual(expect.objectContaining({ vendor: expect.any(String), version: expect.any(String) }));
    expect(cachedSystemInformation()).toEqual([]);
    // Released, not broken: the next firmware scan loads it again and reads the same values.
    expect(await systeminformationBios()).toEqual(first);
    expect(cachedSystemInformation()).toEqual([]);
  });
});
