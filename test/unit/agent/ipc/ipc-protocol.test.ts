import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeIpcRequest, decodeIpcResponse, IPC_MAX_DURATION_MS } from '../../../../agent/ipc/ipc-protocol.js';
import { createTokenBucket } from '../../../../agent/ipc/rate-limit.js';
import { parseDuration } from '../../../../agent/ipc/seat-cli.js';

const good = { v: 1, op: 'request', port: '1-2', reason: 'copy the call report', duration_ms: 1_800_000, os_user: 'zhangsan' };

describe('local request decoding', () => {
  it('accepts the four operations in their exact shape', () => {
    expect(decodeIpcRequest(JSON.stringify({ v: 1, op: 'list' })).ok).toBe(true);
    expect(decodeIpcRequest(JSON.stringify(good)).ok).toBe(true);
    expect(decodeIpcRequest(JSON.stringify({ v: 1, op: 'offline_challenge', port: '2-1.4', os_user: 'u' })).ok).toBe(true);
    expect(decodeIpcRequest(JSON.stringify({ v: 1, op: 'unlock_code', code: '01TV-7Q2M-AAAA-BBBB-CCCC', os_user: 'u' })).ok).toBe(true);
  });

  it.each([
    ['not JSON', '{"v":1,', 'not JSON'],
    ['an array', '[1,2]', 'not a JSON object'],
    ['null', 'null', 'not a JSON object'],
    ['a string', '"list"', 'not a JSON object'],
    ['an unknown op', '{"v":1,"op":"authorize","port":"1-2"}', 'unknown operation'],
    ['another version', '{"v":2,"op":"list"}', 'invalid fields for list'],
    ['an extra field', JSON.stringify({ ...good, grant: true }), 'invalid fields for request'],
    ['a port with a path', JSON.stringify({ ...good, port: '../../etc' }), 'invalid fields for request'],
    ['a port with a newline', JSON.stringify({ ...good, port: '1-2\n' }), 'invalid fields for request'],
    ['a negative duration', JSON.stringify({ ...good, duration_ms: -1 }), 'invalid fields for request'],
    ['a week and a second', JSON.stringify({ ...good, duration_ms: IPC_MAX_DURATION_MS + 1000 }), 'invalid fields for request'],
    ['a fractional duration', JSON.stringify({ ...good, duration_ms: 1.5e6 + 0.5 }), 'invalid fields for request'],
    ['a reason over 1024 characters', JSON.stringify({ ...good, reason: 'x'.repeat(1025) }), 'invalid fields for request'],
    ['a code with quotes', JSON.stringify({ v: 1, op: 'unlock_code', code: '"; rm -rf /', os_user: 'u' }), 'invalid fields for unlock_code'],
    ['a __proto__ key', '{"v":1,"op":"list","__proto__":{"admin":true}}', 'invalid fields for list'],
  ])('refuses %s without echoing it', (_what, line, detail) => {
    const r = decodeIpcRequest(line);
    expect(r).toEqual({ ok: false, detail });
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (line) => {
        const r = decodeIpcRequest(line);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });

  it('validates answers on the client side too', () => {
    expect(decodeIpcResponse('{"ok":true,"op":"request","request_ref":"rq_1"}')).toEqual({ ok: true, op: 'request', request_ref: 'rq_1' });
    expect(decodeIpcResponse('{"ok":false,"code":"IPC_ERR_RATE","message":"slow"}')).not.toBeNull();
    expect(decodeIpcResponse('{"ok":false,"code":"whatever","message":"x"}')).toBeNull();
    expect(decodeIpcResponse('{"ok":true,"op":"list","devices":[{"port":"1-2"}]}')).toBeNull();
    expect(decodeIpcResponse('garbage')).toBeNull();
  });
});

describe('token bucket', () => {
  it('allows a burst, then one request per refill period', () => {
    let now = 0;
    const b = createTokenBucket({ burst: 3, refillMs: 1000, monotonicMs: () => now });
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    expect(b.retryAfterMs()).toBe(1000);
    now += 999;
    expect(b.take()).toBe(false);
    now += 1;
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    now += 10_000;
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
  });
});

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['45', 2_700_000],
    [' 10M ', 600_000],
  ])('reads %j', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '0m', '-5m', '1.5h', '5 minutes', '1h30m', '9999999m'])('refuses %j', (text) => expect(parseDuration(text)).toBeNull());
});
