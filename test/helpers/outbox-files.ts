import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { createOutbox, type Outbox, type OutboxOptions } from '../../agent/store/outbox.js';
import type { EventBody } from '../../shared/protocol/messages.js';

/** The body of a good protocol fixture (test/fixtures/protocol/good/<type>.json). */
export const fixtureBody = <T>(type: string): T =>
  (JSON.parse(readFileSync(new URL(`../fixtures/protocol/good/${type}.json`, import.meta.url), 'utf8')) as { body: T }).body;

/** USB event bodies: one the outbox may drop when full (removed, inserted) and one it keeps (blocked). */
export const removed = fixtureBody<EventBody<'usb.removed'>>('usb.removed');
export const inserted = fixtureBody<EventBody<'usb.inserted'>>('usb.inserted');
export const blocked = fixtureBody<EventBody<'usb.blocked'>>('usb.blocked');

/**
 * Real outbox files for a suite: `tempFile()` is a fresh outbox path in its own temp dir, and
 * `outbox()` opens one (in a fresh file unless given a path). After each test the outboxes opened
 * here are closed and the dirs removed. Call once, at module level.
 */
export function useOutboxFiles(prefix: string): { tempFile(): string; outbox(o?: Partial<OutboxOptions> & { path?: string }): Outbox } {
  const dirs: string[] = [];
  const open: Outbox[] = [];
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function tempFile(): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return join(dir, 'outbox.db');
  }
  function outbox(o: Partial<OutboxOptions> & { path?: string } = {}): Outbox {
    const ob = createOutbox({ ...o, path: o.path ?? tempFile() });
    open.push(ob);
    return ob;
  }
  return { tempFile, outbox };
}
