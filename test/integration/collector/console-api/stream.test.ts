import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../shared/logger.js';
import { createLiveBus } from '../../../../collector/live/live-bus.js';
import { createSseHub } from '../../../../collector/live/sse-hub.js';
import { eventually } from '../../../helpers/eventually.js';
import { blocked, device, inserted, startConsoleApi, type ConsoleApi } from './console-harness.js';
import { openSse, type SseClient } from './sse-client.js';

describe('console API: live stream (SSE)', () => {
  let c: ConsoleApi | undefined;
  const streams: SseClient[] = [];
  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    await c?.cleanup();
    c = undefined;
  });
  const open = async (token?: string, query = '') => {
    if (!c) throw new Error('no collector');
    const s = await openSse(`${c.run.url}/api/v1/stream${query}`, token ?? c.run.collector.apiToken);
    streams.push(s);
    return s;
  };

  it('pushes a usb.blocked event an agent sent, as a compact item, within a bounded wait', async () => {
    c = await startConsoleApi();
    const seat = await c.seat({ seatName: 'CC-SH-007', department: 'Sales' });
    const s = await open();
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    await s.next((m) => m.event === 'hello');
    await seat.send(blocked(device({ manufacturer: 'SanDisk', product: '<img src=x onerror=alert(1)>' })));
    const m = await s.next((x) => x.event === 'event', 5_000);
    expect(m.id).toMatch(/^\d+$/);
    expect(m.json).toEqual({
      kind: 'event',
      agent_id: seat.agent.agentId,
      seat_name: 'CC-SH-007',
      seq: 1,
      type: 'usb.blocked',
      ts: expect.any(String),
      received_at: expect.any(String),
      summary: { device_key: '0781:5567:s:4C530001230517109291', device_label: 'SanDisk <img src=x onerror=alert(1)>', reason: 'default block' },
    });
  });

  it('does not re-send an event the agent retransmits (duplicates are acked, not published)', async () => {
    c = await startConsoleApi();
    const seat = await c.seat();
    const s = await open();
    await s.next((m) => m.event === 'hello');
    const frame = inserted()(1);
    seat.conn.send(frame);
    await seat.conn.next((m) => m.type === 'ack' && m.body.seqs.includes(1));
    seat.conn.send(frame);
    await seat.conn.next((m) => m.type === 'ack' && m.body.seqs.includes(1), 5_000, seat.conn.received.findIndex((m) => m.type === 'ack' && m.body.seqs.includes(1)) + 1);
    seat.conn.send(inserted()(2));
    await s.next((m) => m.event === 'event' && m.json.seq === 2);
    expect(s.messages.filter((m) => m.event === 'event').map((m) => m.json.seq)).toEqual([1, 2]);
  });

  it('delivers other modules\' topics and honours the topics filter', async () => {
    c = await startConsoleApi();
    const seat = await c.seat();
    const onlyAlerts = await open(undefined, '?topics=alert,unlock');
    await onlyAlerts.next((m) => m.event === 'hello');
    expect(onlyAlerts.messages.find((m) => m.event === 'hello')?.json.topics).toEqual(['alert', 'unlock']);
    await seat.send(blocked());
    // The alert engine publishes the alert the blocked insertion raised.
    const raised = await onlyAlerts.next((m) => m.event === 'alert');
    expect(raised.json.kind).toBe('alert');
    c.run.collector.live.publish('alert', { kind: 'alert', id: 42, state: 'open' });
    const a = await onlyAlerts.next((m) => m.event === 'alert' && m.json.id === 42);
    expect(a.json).toEqual({ kind: 'alert', id: 42, state: 'open' });
    expect(onlyAlerts.messages.some((m) => m.event === 'event')).toBe(false);
    expect((await open(undefined, '?topics=bogus')).status).toBe(400);
  });

  it('filters items by the caller\'s department scope and refuses roles without event.read', async () => {
    c = await startConsoleApi();
    const sales = await c.seat({ department: 'Sales' });
    const support = await c.seat({ department: 'Support' });
    const duty = await c.user('duty-sales', ['duty'], ['Sales']);
    const s = await open(duty.token);
    expect(s.status).toBe(200);
    await s.next((m) => m.event === 'hello');
    await support.send(blocked());
    await sales.send(blocked());
    const got = await s.next((m) => m.event === 'event');
    expect(got.json.agent_id).toBe(sales.agent.agentId);
    c.run.collector.live.publish('seat', { kind: 'seat', agent_id: support.agent.agentId }, { department: 'Support' });
    c.run.collector.live.publish('seat', { kind: 'seat', agent_id: sales.agent.agentId }, { department: 'Sales' });
    const seatItem = await s.next((m) => m.event === 'seat');
    expect(seatItem.json.agent_id).toBe(sales.agent.agentId);
    expect(s.messages.filter((m) => m.event === 'event' || m.event === 'seat').every((m) => m.json.agent_id === sales.agent.agentId)).toBe(true);

    const approver = await c.user('appr', ['approver']);
    const denied = await open(approver.token);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body).error.code).toBe('AUTH_ERR_FORBIDDEN');
    const anon = await openSse(`${c.run.url}/api/v1/stream`, 'sga_' + 'x'.repeat(43));
    expect(anon.status).toBe(401);
  });

  it('refuses streams beyond the limit with 503 and a retry hint, and frees the slot when a client leaves', async () => {
    c = await startConsoleApi({ live: { maxStreams: 1 } });
    const first = await open();
    await first.next((m) => m.event === 'hello');
    const second = await open();
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('30');
    expect(JSON.parse(second.body).error.code).toBe('LIVE_ERR_TOO_MANY_STREAMS');
    first.close();
    const third = await eventually(async () => {
      const s = await open();
      if (s.status !== 200) throw new Error(`status ${s.status}`);
      return s;
    });
    await third.next((m) => m.event === 'hello');
  });

  it('sends a heartbeat comment and ends open streams when the collector stops', async () => {
    c = await startConsoleApi({ live: { heartbeatMs: 30 } });
    const s = await open();
    await s.next((m) => m.comment === 'ping');
    await c.run.collector.stop();
    await s.ended;
  });
});

describe('SSE hub back-pressure', () => {
  /** A socket stand-in whose buffer is "full" until release() is called. */
  function stuckSink() {
    const chunks: string[] = [];
    let pending: Array<() => void> = [];
    const sink = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString('utf8'));
        pending.push(() => cb());
      },
    });
    const drain = () => {
      const now = pending;
      pending = [];
      for (const cb of now) cb();
    };
    return { sink, chunks, drain };
  }

  it('drops a slow client\'s backlog past the buffer and tells it to resync, without affecting a fast client', async () => {
    const bus = createLiveBus({ log: silentLogger() });
    const hub = createSseHub({ bus, log: silentLogger(), options: { bufferItems: 3, heartbeatMs: 60_000 } });
    const slow = stuckSink();
    const fast: string[] = [];
    const fastSink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        fast.push(chunk.toString('utf8'));
        cb();
      },
    });
    const all = { topics: new Set(['event'] as const), scope: '*' as const };
    expect(hub.open(slow.sink, all)).toBe(true);
    expect(hub.open(fastSink, all)).toBe(true);
    for (let i = 1; i <= 10; i++) bus.publish('event', { kind: 'event', n: i });
    expect(fast.filter((x) => x.includes('event: event')).length).toBe(10);
    // The slow sink took its first write (retry:) and is stuck; everything else queued or dropped.
    for (let k = 0; k < 20 && slow.chunks.length < 20; k++) {
      slow.drain();
      await new Promise((r) => setImmediate(r));
    }
    const text = slow.chunks.join('');
    expect(text).toContain('event: resync');
    const resync = /event: resync\ndata: (.*)\n/.exec(text);
    expect(JSON.parse(resync?.[1] ?? '{}')).toEqual({ kind: 'resync', dropped: expect.any(Number) });
    // After the resync only the items published later are delivered; none of the dropped ones.
    bus.publish('event', { kind: 'event', n: 11 });
    for (let k = 0; k < 5; k++) {
      slow.drain();
      await new Promise((r) => setImmediate(r));
    }
    const delivered = [...slow.chunks.join('').matchAll(/"n":(\d+)/g)].map((m) => Number(m[1]));
    const dropped = JSON.parse(resync?.[1] ?? '{}').dropped as number;
    // Buffer of 3: items 1-3 queue, 4 overflows (4 dropped), 5-7 queue, 8 overflows (8 dropped).
    expect(dropped).toBe(8);
    expect(delivered).toEqual([9, 10, 11]);
    hub.closeAll();
    expect(hub.count()).toBe(0);
    expect(bus.subscriberCount()).toBe(0);
  });
});
