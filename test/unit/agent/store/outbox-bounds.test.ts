import { describe, expect, it } from 'vitest';
import { createOutbox, type Outbox } from '../../../../agent/store/outbox.js';
import { ManualClock } from '../../../../shared/clock.js';
import { blocked, inserted, removed, useOutboxFiles } from '../../../helpers/outbox-files.js';

const { tempFile, outbox } = useOutboxFiles('sg-outbox-bounds-');

const seqs = (o: Outbox) => o.pending(0, 1_000_000).map((e) => [e.seq, e.type] as const);

describe('outbox bounds', () => {
  it('drops the oldest low-severity events beyond maxEvents and keeps every security-critical one', () => {
    const o = outbox({ maxEvents: 5 });
    o.append('usb.inserted', inserted); // 1
    o.append('usb.blocked', blocked); // 2
    o.append('usb.removed', removed); // 3
    o.append('agent.stopping', { reason: 'a' }); // 4
    o.append('usb.removed', removed); // 5
    o.append('usb.blocked', blocked); // 6 -> drops 1
    o.append('agent.stopping', { reason: 'b' }); // 7 -> drops 3
    expect(o.depth()).toBe(5);
    expect(seqs(o)).toEqual([[2, 'usb.blocked'], [4, 'agent.stopping'], [5, 'usb.removed'], [6, 'usb.blocked'], [7, 'agent.stopping']]);
    expect(o.dropped()).toEqual({ counts: { 'usb.inserted': 1, 'usb.removed': 1 }, fromSeq: 1, toSeq: 3 });
    // Seqs are never reused: a drop leaves a gap, it does not renumber.
    expect(o.lastSeq()).toBe(7);
  });

  it('exceeds the bound rather than drop a security-critical event when nothing low-severity is left', () => {
    const o = outbox({ maxEvents: 3 });
    for (let i = 0; i < 6; i++) o.append('usb.blocked', blocked);
    expect(o.depth()).toBe(6);
    expect(o.dropped()).toBeNull();
  });

  it('drops low-severity events older than maxAgeMs and keeps old security-critical ones', () => {
    const clock = new ManualClock();
    const o = outbox({ clock, maxAgeMs: 1_000 });
    o.append('usb.removed', removed); // 1
    o.append('usb.blocked', blocked); // 2
    clock.advance(60_000);
    o.append('usb.inserted', inserted); // 3: triggers the age sweep; 1 is old, 3 is new
    expect(seqs(o)).toEqual([[2, 'usb.blocked'], [3, 'usb.inserted']]);
    expect(o.dropped()).toEqual({ counts: { 'usb.removed': 1 }, fromSeq: 1, toSeq: 1 });
  });

  it('keeps the dropped summary across a restart until it is cleared, and the depth stays exact after acks', () => {
    const file = tempFile();
    const a = createOutbox({ path: file, maxEvents: 2 });
    for (let i = 0; i < 4; i++) a.append('usb.removed', removed);
    expect(a.ack([4])).toBe(1);
    expect(a.depth()).toBe(1);
    a.close();
    const b = outbox({ path: file, maxEvents: 2 });
    expect(b.depth()).toBe(1);
    expect(b.dropped()).toEqual({ counts: { 'usb.removed': 2 }, fromSeq: 1, toSeq: 2 });
    b.clearDropped();
    expect(b.dropped()).toBeNull();
    expect(b.dropThrough(3)).toBe(1);
    expect(b.depth()).toBe(0);
  });
});
