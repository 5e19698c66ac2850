import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createNetlinkUeventSource } from '../../../../../agent/platform/linux/netlink-uevent-source.js';
import { parseUevent, type Uevent } from '../../../../../agent/platform/linux/uevent-parser.js';
import type { UeventSource } from '../../../../../agent/platform/linux/uevent-source.js';
import { AppError } from '../../../../../shared/errors.js';
import { silentLogger } from '../../../../../shared/logger.js';
import { eventually } from '../../../../helpers/eventually.js';

// The real kernel socket. Whether it opens depends on the host (container seccomp, no koffi…), so
// each test asserts one of two outcomes: it opened and behaves, or it refused with the right error.

let source: UeventSource | null = null;

afterEach(async () => {
  await source?.stop();
  source = null;
});

async function open(received: Uevent[], errors: Error[]): Promise<{ opened: true } | { opened: false; err: unknown }> {
  source = createNetlinkUeventSource({ log: silentLogger(), pollIntervalMs: 20 });
  try {
    await source.start({
      onMessage: (raw) => {
        const ev = parseUevent(raw);
        if (ev) received.push(ev);
      },
      onOverrun: () => undefined,
      onError: (e) => errors.push(e),
    });
    return { opened: true };
  } catch (err) {
    return { opened: false, err };
  }
}

describe('createNetlinkUeventSource (kernel socket)', () => {
  it('opens NETLINK_KOBJECT_UEVENT and stops cleanly, or refuses with UEVENT_ERR_SOURCE', async () => {
    const errors: Error[] = [];
    const r = await open([], errors);
    if (!r.opened) {
      expect(r.err).toBeInstanceOf(AppError);
      expect((r.err as AppError).code).toBe('UEVENT_ERR_SOURCE');
      return;
    }
    // The socket is non-blocking: stopping closes it at once instead of waiting out a receive.
    const t0 = performance.now();
    await source?.stop();
    expect(performance.now() - t0).toBeLessThan(50);
    // A second stop is a no-op, and stopping is not reported as a failure.
    await source?.stop();
    expect(errors).toEqual([]);
  });

  it('can start again after a stop (the agent restarts its watch after a source failure)', async () => {
    const r = await open([], []);
    if (!r.opened) {
      expect((r.err as AppError).code).toBe('UEVENT_ERR_SOURCE');
      return;
    }
    await source?.stop();
    await expect(
      source?.start({ onMessage: () => undefined, onOverrun: () => undefined, onError: () => undefined }),
    ).resolves.toBeUndefined();
  });

  it('refuses a second start while running', async () => {
    const r = await open([], []);
    if (!r.opened) {
      expect((r.err as AppError).code).toBe('UEVENT_ERR_SOURCE');
      return;
    }
    await expect(source?.start({ onMessage: () => undefined, onOverrun: () => undefined, onError: () => undefined })).rejects.toMatchObject({
      code: 'UEVENT_ERR_SOURCE',
    });
  });

  it('delivers a kernel-sent uevent (synthetic "change" on lo) when the socket opens', async () => {
    const received: Uevent[] = [];
    const errors: Error[] = [];
    const r = await open(received, errors);
    if (!r.opened) {
      expect((r.err as AppError).code).toBe('UEVENT_ERR_SOURCE');
      return;
    }
    try {
      // Writing an action to a kobject's uevent file makes the kernel broadcast that event.
      await writeFile('/sys/devices/virtual/net/lo/uevent', 'change');
    } catch (err) {
      // Unprivileged or read-only sysfs: the trigger is refused, not the socket.
      expect(['EACCES', 'EPERM', 'EROFS', 'ENOENT']).toContain((err as NodeJS.ErrnoException).code);
      return;
    }
    await eventually(() =>
      expect(received.some((e) => e.action === 'change' && e.devpath === '/devices/virtual/net/lo' && e.env.get('SUBSYSTEM') === 'net')).toBe(true),
    );
    expect(errors).toEqual([]);
  });
});
