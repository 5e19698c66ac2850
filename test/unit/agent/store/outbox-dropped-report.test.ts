import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createOutbox, type Outbox } from '../../../../agent/store/outbox.js';
import { ManualClock } from '../../../../shared/clock.js';
import { decodeAgentMessage } from '../../../../shared/protocol/decode.js';
import type { EventBody } from '../../../../shared/protocol/messages.js';
import { blocked, inserted, removed, useOutboxFiles } from '../../../helpers/outbox-files.js';

const { tempFile, outbox } = useOutboxFiles('sg-outbox-report-');
const reports = (o: Outbox) =>
  o
    .pending(0, 1_000_000)
    .filter((e) => e.type === 'outbox.dropped')
    .map((e) => JSON.parse(e.frame) as { seq: number; body: EventBody<'outbox.dropped'> });

describe('outbox.dropped report', () => {
  it('reports a full outbox exactly once across a restart, as a valid frame, and clears the summary', () => {
    const path = tempFile();
    const a = createOutbox({ path, maxEvents: 3 });
    a.append('usb.inserted', inserted); // 1
    a.append('usb.blocked', blocked); // 2
    a.append('usb.removed', removed); // 3
    a.append('usb.removed', removed); // 4 -> drops 1
    a.append('usb.inserted', inserted); // 5 -> drops 3
    a.close(); // the agent stops before it reported anything

    const b = outbox({ path, maxEvents: 3 });
    const first = b.reportDropped();
    expect(first).toHaveLength(1);
    expect(first[0]!.seq).toBe(6);
    const decoded = decodeAgentMessage(first[0]!.frame);
    expect(decoded.ok).toBe(true);
    expect(reports(b).map((r) => r.body)).toEqual([{ counts: { 'usb.inserted': 1, 'usb.removed': 1 }, from_seq: 1, to_seq: 3, reason: 'max_events' }]);
    // The report does not displace another event (which would need a report of its own).
    expect(b.dropped()).toBeNull();
    expect(b.depth()).toBe(4);
    b.close();

    const c = outbox({ path, maxEvents: 3 });
    expect(c.reportDropped()).toEqual([]);
    expect(reports(c).map((r) => r.seq)).toEqual([6]);
  });

  it('never drops its own report when the bound squeezes the queue again', () => {
    const path = tempFile();
    const o = outbox({ path, maxEvents: 2 });
    for (let i = 0; i < 4; i++) o.append('usb.removed', removed);
    const [report] = o.reportDropped();
    for (let i = 0; i < 10; i++) o.append('usb.inserted', inserted);
    expect(o.pending(0, 100).map((e) => e.seq)).toContain(report!.seq);
  });

  it('holds back a second report while the first is unacknowledged, then reports what accumulated', () => {
    const path = tempFile();
    const o = outbox({ path, maxEvents: 2 });
    for (let i = 0; i < 3; i++) o.append('usb.removed', removed); // drops 1
    const [r1] = o.reportDropped(); // seq 4
    expect(r1!.seq).toBe(4);
    o.append('usb.removed', removed); // 5 -> drops 2 and 3
    expect(o.reportDropped()).toEqual([]);
    expect(o.dropped()).toEqual({ counts: { 'usb.removed': 2 }, fromSeq: 2, toSeq: 3 });
    o.ack([r1!.seq]);
    const [r2] = o.reportDropped();
    expect(JSON.parse(r2!.frame).body).toEqual({ counts: { 'usb.removed': 2 }, from_seq: 2, to_seq: 3, reason: 'max_events' });
    expect(o.dropped()).toBeNull();
  });

  it('reports age-bound drops with reason max_age, separately from count-bound drops', () => {
    const clock = new ManualClock();
    const o = outbox({ path: tempFile(), clock, maxAgeMs: 1_000, maxEvents: 3 });
    o.append('usb.removed', removed); // 1
    clock.advance(60_000);
    o.append('usb.inserted', inserted); // 2: age sweep drops 1
    o.append('usb.inserted', inserted); // 3
    o.append('usb.inserted', inserted); // 4
    o.append('usb.inserted', inserted); // 5: count bound drops 2
    const bodies = o.reportDropped().map((e) => (JSON.parse(e.frame) as { body: unknown }).body);
    expect(bodies).toEqual([
      { counts: { 'usb.removed': 1 }, from_seq: 1, to_seq: 1, reason: 'max_age' },
      { counts: { 'usb.inserted': 1 }, from_seq: 2, to_seq: 2, reason: 'max_events' },
    ]);
  });

  it('tells onAppend listeners about the report, so the transport sends it promptly', () => {
    const o = outbox({ path: tempFile(), maxEvents: 1 });
    o.append('usb.removed', removed);
    o.append('usb.removed', removed);
    const seen: string[] = [];
    o.onAppend((e) => seen.push(e.type));
    o.reportDropped();
    expect(seen).toEqual(['outbox.dropped']);
  });

  it('returns nothing and appends nothing when nothing was dropped', () => {
    const o = outbox({ path: tempFile() });
    o.append('usb.removed', removed);
    expect(o.reportDropped()).toEqual([]);
    expect(o.lastSeq()).toBe(1);
  });

  it('moves a summary kept by the first (reason-less) table into the report', () => {
    const path = tempFile();
    const db = new Database(path);
    db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
      CREATE TABLE outbox (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, frame TEXT NOT NULL, created_ms INTEGER NOT NULL DEFAULT 0) STRICT;
      INSERT INTO meta VALUES ('last_seq', 9);
      CREATE TABLE dropped (type TEXT PRIMARY KEY, n INTEGER NOT NULL, from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL) STRICT;
      INSERT INTO dropped VALUES ('usb.removed', 4, 2, 9);`);
    db.close();
    const o = outbox({ path });
    expect(o.dropped()).toEqual({ counts: { 'usb.removed': 4 }, fromSeq: 2, toSeq: 9 });
    const [r] = o.reportDropped();
    expect(r!.seq).toBe(10);
    expect(JSON.parse(r!.frame).body).toEqual({ counts: { 'usb.removed': 4 }, from_seq: 2, to_seq: 9, reason: 'max_events' });
  });
});
