import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../shared/clock.js';
import { decodeAgentMessage } from '../../../../shared/protocol/decode.js';
import { createOutbox, type Outbox } from '../../../../agent/store/outbox.js';

const dirs: string[] = [];
const open: Outbox[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmpPath(): string {
  const d = mkdtempSync(join(tmpdir(), 'sg-outbox-'));
  dirs.push(d);
  return join(d, 'state', 'outbox.db');
}

function openOutbox(path: string): Outbox {
  const o = createOutbox({ path, clock: new ManualClock() });
  open.push(o);
  return o;
}

const stopping = (reason: string) => ['agent.stopping', { reason }] as const;

describe('createOutbox', () => {
  it('assigns seq 1, 2, 3 and stores complete frames the collector decoder accepts', () => {
    const o = openOutbox(':memory:');
    const a = o.append(...stopping('a'));
    const b = o.append(...stopping('b'));
    expect([a.seq, b.seq]).toEqual([1, 2]);
    const decoded = decodeAgentMessage(b.frame);
    expect(decoded.ok).toBe(true);
    expect(decoded.ok && decoded.msg).toMatchObject({ type: 'agent.stopping', seq: 2, ts: '2026-01-01T00:00:00.000Z', body: { reason: 'b' } });
  });

  it('never reuses a seq after the queue drains and the file is reopened', () => {
    const path = tmpPath();
    const first = openOutbox(path);
    first.append(...stopping('1'));
    first.append(...stopping('2'));
    first.ack([1, 2]);
    expect(first.depth()).toBe(0);
    first.close();
    const second = openOutbox(path);
    expect(second.lastSeq()).toBe(2);
    expect(second.append(...stopping('3')).seq).toBe(3);
  });

  it('keeps unacknowledged events across a reopen, byte for byte', () => {
    const path = tmpPath();
    const first = openOutbox(path);
    const frames = [first.append(...stopping('x')).frame, first.append(...stopping('y')).frame];
    first.close();
    const second = openOutbox(path);
    expect(second.pending(0, 10).map((e) => e.frame)).toEqual(frames);
  });

  it('lists pending entries from a seq in order and within the limit', () => {
    const o = openOutbox(':memory:');
    for (let i = 0; i < 5; i++) o.append(...stopping(String(i)));
    expect(o.pending(2, 2).map((e) => e.seq)).toEqual([2, 3]);
    expect(o.pending(0, 100).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('deletes only acknowledged seqs and ignores unknown ones', () => {
    const o = openOutbox(':memory:');
    for (let i = 0; i < 4; i++) o.append(...stopping(String(i)));
    expect(o.ack([2, 4, 99])).toBe(2);
    expect(o.pending(0, 10).map((e) => e.seq)).toEqual([1, 3]);
  });

  it('drops everything up to the collector last_seq', () => {
    const o = openOutbox(':memory:');
    for (let i = 0; i < 4; i++) o.append(...stopping(String(i)));
    expect(o.dropThrough(3)).toBe(3);
    expect(o.pending(0, 10).map((e) => e.seq)).toEqual([4]);
    expect(o.depth()).toBe(1);
    expect(o.lastSeq()).toBe(4);
  });

  it('refuses an event that does not match its schema without consuming a seq', () => {
    const o = openOutbox(':memory:');
    expect(() => o.append('agent.stopping', { reason: 'x'.repeat(300) })).toThrow(expect.objectContaining({ code: 'OUTBOX_ERR_INVALID' }));
    expect(o.append(...stopping('ok')).seq).toBe(1);
  });

  it('notifies listeners after each append and stops after unsubscribe', () => {
    const o = openOutbox(':memory:');
    const seen: number[] = [];
    const off = o.onAppend((e) => seen.push(e.seq));
    o.append(...stopping('a'));
    off();
    o.append(...stopping('b'));
    expect(seen).toEqual([1]);
  });

  it('creates the file readable by its owner only', () => {
    const path = tmpPath();
    openOutbox(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('reports an unopenable path as OUTBOX_ERR_OPEN', () => {
    const path = tmpPath();
    openOutbox(path);
    expect(() => createOutbox({ path: join(path, 'nested.db') })).toThrow(expect.objectContaining({ code: 'OUTBOX_ERR_OPEN' }));
  });
});
