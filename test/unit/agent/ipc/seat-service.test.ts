import { afterEach, describe, expect, it } from 'vitest';
import { deriveSeatSecret, makeResponse, parseChallenge } from '../../../../shared/domain/offline-code.js';
import { isSafeText } from '../../../../shared/domain/sanitize.js';
import { silentLogger } from '../../../../shared/logger.js';
import { createOfflineUnlock } from '../../../../agent/grants/offline-unlock.js';
import type { IpcRequest, IpcResponse } from '../../../../agent/ipc/ipc-protocol.js';
import { createSeatService } from '../../../../agent/ipc/seat-service.js';
import { eventually } from '../../../helpers/eventually.js';
import { deviceFixture } from '../../../helpers/fake-agent.js';
import { grantFor, startSeat, stick, T0, type Seat } from '../grants/harness.js';

const AGENT = 'agt_seat_service_test';
const SECRET = deriveSeatSecret(Buffer.alloc(32, 1), AGENT);
const seats: Seat[] = [];
afterEach(async () => {
  for (const s of seats.splice(0)) await s.stop();
});

async function setup(withSecret = true) {
  const s = await startSeat();
  seats.push(s);
  const offline = createOfflineUnlock({ secret: () => (withSecret ? { agentId: AGENT, secret: SECRET } : null), monotonicMs: () => s.boot.monotonicMs() });
  let n = 0;
  const handle = createSeatService({
    platform: s.platform,
    grants: s.grants,
    offline,
    emit: (type, body) => {
      s.rec.emit(type, body);
      s.grants.observe(type, body);
    },
    log: silentLogger(),
    newId: (prefix) => `${prefix}_${++n}`,
  });
  return { s, offline, handle };
}

const request = (over: Partial<Extract<IpcRequest, { op: 'request' }>> = {}): IpcRequest => ({
  v: 1,
  op: 'request',
  port: '1-2',
  reason: 'copy the monthly call report',
  duration_ms: 1_800_000,
  os_user: 'zhangsan',
  ...over,
});

function errorCode(res: IpcResponse): string | null {
  return res.ok ? null : res.code;
}

describe('seat requests', () => {
  it('lists storage devices with their state and leaves other devices out', async () => {
    const { s, handle } = await setup();
    s.platform.insert(stick(), { port: '1-2' });
    s.platform.insert(deviceFixture('logitech-k120'), { port: '1-3' });
    await eventually(() => expect(s.rec.ofType('usb.blocked')).toHaveLength(1));
    const res = await handle({ v: 1, op: 'list' });
    expect(res).toEqual({
      ok: true,
      op: 'list',
      devices: [
        { port: '1-2', vendor_id: '0781', product_id: '5583', serial: '4C530001130820116055', manufacturer: 'SanDisk', product: 'Ultra Fit', storage: 'blocked', grant_id: null, expires_in_ms: null },
      ],
    });
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    const after = await handle({ v: 1, op: 'list' });
    expect(after.ok && after.op === 'list' && after.devices[0]).toMatchObject({ storage: 'unlocked', grant_id: 'grt_1', expires_in_ms: 1_800_000 });
  });

  it('turns a request for a blocked stick into unlock.requested with the OS user as given', async () => {
    const { s, handle } = await setup();
    s.platform.insert(stick(), { port: '1-2' });
    await eventually(() => expect(s.rec.ofType('usb.blocked')).toHaveLength(1));
    expect(await handle(request())).toEqual({ ok: true, op: 'request', request_ref: 'rq_1' });
    const [ev] = s.rec.ofType('unlock.requested');
    expect(ev).toMatchObject({ request_ref: 'rq_1', reason: 'copy the monthly call report', duration_ms: 1_800_000, os_user: 'zhangsan' });
    expect(ev?.device).toMatchObject({ port: '1-2', vendor_id: '0781', serial: '4C530001130820116055' });
  });

  it('sanitizes hostile reason and user strings before they leave the seat', async () => {
    const { s, handle } = await setup();
    s.platform.insert(stick(), { port: '1-2' });
    await eventually(() => expect(s.rec.ofType('usb.blocked')).toHaveLength(1));
    await handle(request({ reason: 'report\u202e\u0000\u001b[31m', os_user: 'root\u200b\n' }));
    const [ev] = s.rec.ofType('unlock.requested');
    expect(isSafeText(ev?.reason ?? '\u0000', 1024)).toBe(true);
    expect(ev?.reason).toContain('report');
    expect(isSafeText(ev?.os_user ?? '\u0000', 64)).toBe(true);
  });

  it('refuses requests for an empty port, a keyboard, a stick already open, and a blank reason', async () => {
    const { s, handle } = await setup();
    s.platform.insert(stick(), { port: '1-2' });
    s.platform.insert(deviceFixture('logitech-k120'), { port: '1-3' });
    await eventually(() => expect(s.rec.ofType('usb.blocked')).toHaveLength(1));
    expect(errorCode(await handle(request({ port: '1-9' })))).toBe('IPC_ERR_DEVICE');
    expect(errorCode(await handle(request({ port: '1-3' })))).toBe('IPC_ERR_DEVICE');
    expect(errorCode(await handle(request({ reason: ' \u0000 ' })))).toBe('IPC_ERR_BAD_REQUEST');
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    expect(errorCode(await handle(request()))).toBe('IPC_ERR_DEVICE');
    expect(s.rec.ofType('unlock.requested')).toEqual([]);
  });

  it('refuses a device whose descriptors cannot be read (it cannot be identified)', async () => {
    const { s, handle } = await setup();
    s.platform.insert(stick(), { port: '1-2' });
    s.platform.failReads('1-2');
    expect(errorCode(await handle(request()))).toBe('IPC_ERR_DEVICE');
  });

  it('unlocks with an offline code: challenge, code, offline.unlock_used, then the device opens', async () => {
    const { s, handle } = await setup();
    s.platform.insert(stick(), { port: '1-2' });
    await eventually(() => expect(s.rec.ofType('usb.blocked')).toHaveLength(1));
    const ch = await handle({ v: 1, op: 'offline_challenge', port: '1-2', os_user: 'zhangsan' });
    if (!ch.ok || ch.op !== 'offline_challenge') throw new Error('no challenge');
    const code = makeResponse(SECRET, AGENT, parseChallenge(ch.challenge)!, 20);
    expect(await handle({ v: 1, op: 'unlock_code', code, os_user: 'zhangsan' })).toEqual({ ok: true, op: 'unlock_code', grant_id: 'off_1', minutes: 20, port: '1-2' });
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    expect(s.rec.ofType('offline.unlock_used')).toEqual([
      { grant_id: 'off_1', challenge: ch.challenge, minutes: 20, device: expect.objectContaining({ port: '1-2', serial: '4C530001130820116055' }) },
    ]);
    await eventually(() => expect(s.rec.ofType('grant.applied')).toHaveLength(1));
    // Single use.
    expect(errorCode(await handle({ v: 1, op: 'unlock_code', code, os_user: 'zhangsan' }))).toBe('OFFLINE_ERR_CODE');
    // It ends on the monotonic clock like any grant, and a later grants.sync does not drop it early.
    await s.grants.sync([], T0);
    expect(s.storageAuthorized('1-2')).toBe(true);
    s.boot.advance(20 * 60_000);
    await s.grants.check();
    expect(s.storageAuthorized('1-2')).toBe(false);
    expect(s.ended()).toEqual([{ grant_id: 'off_1', reason: 'expired', relocked_interfaces: ['08:06:50'] }]);
  });

  it('says so when the seat has no offline secret', async () => {
    const { s, handle } = await setup(false);
    s.platform.insert(stick(), { port: '1-2' });
    await eventually(() => expect(s.rec.ofType('usb.blocked')).toHaveLength(1));
    await handle({ v: 1, op: 'offline_challenge', port: '1-2', os_user: 'u' });
    expect(errorCode(await handle({ v: 1, op: 'unlock_code', code: '0000-0000-0000-0000-0000', os_user: 'u' }))).toBe('OFFLINE_ERR_NO_SECRET');
  });
});
