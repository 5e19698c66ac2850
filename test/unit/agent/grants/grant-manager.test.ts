import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../../helpers/eventually.js';
import { deviceFixture } from '../../../helpers/fake-agent.js';
import { grantFor, MIN, settle, startSeat, stick, T0, type Seat } from './harness.js';

const seats: Seat[] = [];
afterEach(async () => {
  for (const s of seats.splice(0)) await s.stop();
});

async function seat(...args: Parameters<typeof startSeat>): Promise<Seat> {
  const s = await startSeat(...args);
  seats.push(s);
  return s;
}

async function insert(s: Seat, spec: ReturnType<typeof stick>, port: string): Promise<void> {
  s.platform.insert(spec, { port });
  await eventually(() => expect(s.rec.ofType('usb.inserted').some((b) => b.device.port === port)).toBe(true));
  await settle(s);
}

describe('grant matching through the lock', () => {
  it('authorizes every interface of the granted device, storage included, and reports accepted then applied', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    expect(s.storageAuthorized('1-2')).toBe(false);
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    expect(s.platform.interfaceState('1-2:1.0')?.driver).toBe('usb-storage');
    expect(s.rec.ofType('grant.accepted')).toEqual([{ grant_id: 'grt_1', expires_in_ms: 30 * MIN, device_present: true }]);
    await eventually(() => expect(s.rec.ofType('grant.applied')).toHaveLength(1));
    expect(s.rec.ofType('grant.applied')[0]).toMatchObject({ grant_id: 'grt_1', authorized_interfaces: ['08:06:50'] });
    const order = s.rec.events.map((e) => e.type).filter((t) => t.startsWith('grant.') || t === 'usb.allowed');
    expect(order).toEqual(['grant.accepted', 'usb.allowed', 'grant.applied']);
  });

  it('refuses the same device on another port than the one it was approved on', async () => {
    const s = await seat();
    await insert(s, stick(), '1-3');
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await settle(s);
    expect(s.rec.ofType('grant.accepted')[0]?.device_present).toBe(false);
    expect(s.storageAuthorized('1-3')).toBe(false);
    expect(s.rec.ofType('grant.applied')).toHaveLength(0);
  });

  it('leaves a twin with the same serial on another port blocked while the granted one is open', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    await insert(s, stick(), '1-3');
    await s.lock.resync('test');
    expect(s.storageAuthorized('1-3')).toBe(false);
    expect(s.storageAuthorized('1-2')).toBe(true);
  });

  it('with any_port, matches on another port but still opens only one of two twins', async () => {
    const s = await seat();
    await insert(s, stick(), '2-1');
    await s.grants.receive(grantFor(stick(), '1-2', { any_port: true }), T0);
    await eventually(() => expect(s.storageAuthorized('2-1')).toBe(true));
    await insert(s, stick(), '1-4');
    await s.lock.resync('test');
    expect(s.storageAuthorized('1-4')).toBe(false);
    expect(s.storageAuthorized('2-1')).toBe(true);
  });

  it('does not match another stick of the same model (other serial) or a device whose hash differs', async () => {
    const s = await seat();
    await insert(s, stick('OTHER-SERIAL-1'), '1-2');
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await settle(s);
    expect(s.storageAuthorized('1-2')).toBe(false);
    const wrongHash = grantFor(stick('OTHER-SERIAL-1'), '1-2', { grant_id: 'grt_2', device: { ...grantFor(stick('OTHER-SERIAL-1'), '1-2').device, hash: 'A'.repeat(43) + '=' } });
    await s.grants.receive(wrongHash, T0);
    await s.lock.resync('test');
    expect(s.storageAuthorized('1-2')).toBe(false);
  });

  it('applies a grant received before the device when the device is inserted later', async () => {
    const s = await seat();
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await insert(s, stick(), '1-2');
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    expect(s.rec.ofType('grant.applied')).toHaveLength(1);
  });

  it('keeps the keyboard half of other devices working and leaves a second stick untouched', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await insert(s, stick('SECOND-STICK'), '1-5');
    s.platform.insert(deviceFixture('composite-hid-storage'), { port: '1-6' });
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    expect(s.storageAuthorized('1-5')).toBe(false);
  });
});

describe('grant expiry', () => {
  it('expires on the monotonic clock although the wall clock was rolled back a day', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await s.grants.receive(grantFor(stick(), '1-2', {}, 10), T0);
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    s.boot.advance(5 * MIN);
    s.wall.setWall(T0 - 86_400_000);
    await s.grants.check();
    expect(s.storageAuthorized('1-2')).toBe(true);
    s.boot.advance(5 * MIN - 1);
    await s.grants.check();
    expect(s.storageAuthorized('1-2')).toBe(true);
    s.boot.advance(1);
    await s.grants.check();
    expect(s.storageAuthorized('1-2')).toBe(false);
    expect(s.ended()).toEqual([{ grant_id: 'grt_1', reason: 'expired', relocked_interfaces: ['08:06:50'] }]);
  });

  it('ends early when the wall clock passes expires_at first (fail safe)', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await s.grants.receive(grantFor(stick(), '1-2', {}, 30), T0);
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    s.boot.advance(MIN);
    s.wall.setWall(T0 + 31 * MIN);
    await s.grants.check();
    expect(s.storageAuthorized('1-2')).toBe(false);
    expect(s.ended()[0]?.reason).toBe('expired');
  });

  it('counts only what is left when the grant was sent late (expires_at − send time < duration)', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    // Sent 25 minutes into a 30-minute grant (e.g. in grants.sync): 5 minutes remain.
    await s.grants.receive(grantFor(stick(), '1-2', {}, 30), T0 + 25 * MIN);
    expect(s.rec.ofType('grant.accepted')[0]?.expires_in_ms).toBeLessThanOrEqual(5 * MIN);
    s.boot.advance(5 * MIN);
    s.wall.setWall(T0 - 3_600_000); // the seat's clock is an hour behind: the monotonic count decides
    await s.grants.check();
    expect(s.storageAuthorized('1-2')).toBe(false);
  });

  it('never authorizes a grant that is already past its end when it arrives', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await s.grants.receive(grantFor(stick(), '1-2', {}, 30), T0 + 31 * MIN);
    await settle(s);
    expect(s.storageAuthorized('1-2')).toBe(false);
    expect(s.ended()[0]?.reason).toBe('expired');
  });

  it('warns once, warn_before_ms before the end, and not before', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await s.grants.receive(grantFor(stick(), '1-2', { warn_before_ms: 2 * MIN }, 10), T0);
    s.boot.advance(8 * MIN - 1);
    await s.grants.check();
    expect(s.rec.ofType('grant.warning')).toEqual([]);
    s.boot.advance(1);
    await s.grants.check();
    await s.grants.check();
    expect(s.rec.ofType('grant.warning')).toEqual([{ grant_id: 'grt_1', expires_in_ms: 2 * MIN }]);
    expect(s.storageAuthorized('1-2')).toBe(true);
  });

  it('refuses the grant at decision time once it is past its end, even before the timer ran', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await s.grants.receive(grantFor(stick(), '1-2', {}, 10), T0);
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    s.boot.advance(11 * MIN);
    s.platform.remove('1-2');
    await eventually(() => expect(s.rec.ofType('usb.removed')).toHaveLength(1));
    await insert(s, stick(), '1-2');
    expect(s.storageAuthorized('1-2')).toBe(false);
  });
});

describe('grant removal and revocation', () => {
  it('ends the grant when the device is removed', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    s.platform.remove('1-2');
    await eventually(() => expect(s.ended()).toEqual([{ grant_id: 'grt_1', reason: 'removed', relocked_interfaces: [] }]));
    await insert(s, stick(), '1-2');
    expect(s.storageAuthorized('1-2')).toBe(false);
  });

  it('keeps the grant over a removal with allow_reinsert and re-opens the re-inserted device', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await s.grants.receive(grantFor(stick(), '1-2', { allow_reinsert: true }), T0);
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    s.platform.remove('1-2');
    await eventually(() => expect(s.rec.ofType('usb.removed')).toHaveLength(1));
    await insert(s, stick(), '1-2');
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    expect(s.ended()).toEqual([]);
    expect(s.rec.ofType('grant.applied')).toHaveLength(2);
  });

  it('ends the grant at once on unlock.revoked and refuses the same grant if it arrives again', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    await s.grants.revoke('grt_1', 'user left the floor');
    expect(s.storageAuthorized('1-2')).toBe(false);
    expect(s.ended()).toEqual([{ grant_id: 'grt_1', reason: 'revoked', relocked_interfaces: ['08:06:50'] }]);
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await s.lock.resync('test');
    expect(s.storageAuthorized('1-2')).toBe(false);
    expect(s.rec.ofType('grant.accepted')).toHaveLength(1);
  });

  it('refuses a grant whose revocation arrived before it', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await s.grants.revoke('grt_1', 'revoked before delivery');
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await s.lock.resync('test');
    expect(s.storageAuthorized('1-2')).toBe(false);
    expect(s.rec.ofType('grant.accepted')).toHaveLength(0);
  });
});

describe('grants.sync', () => {
  it('drops a local grant the collector no longer lists (revoked while offline) and adds missing ones', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await insert(s, stick('B-SERIAL'), '1-3');
    await s.grants.receive(grantFor(stick(), '1-2'), T0);
    await eventually(() => expect(s.storageAuthorized('1-2')).toBe(true));
    await s.grants.sync([grantFor(stick('B-SERIAL'), '1-3', { grant_id: 'grt_2', request_id: 'req_2' })], T0 + MIN);
    await settle(s);
    expect(s.storageAuthorized('1-2')).toBe(false);
    expect(s.storageAuthorized('1-3')).toBe(true);
    expect(s.ended()).toEqual([{ grant_id: 'grt_1', reason: 'revoked', relocked_interfaces: ['08:06:50'] }]);
    expect(s.grants.list().map((g) => g.grant.grantId)).toEqual(['grt_2']);
  });

  it('does not bring back a grant that ended here even if a sync still lists it', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await s.grants.receive(grantFor(stick(), '1-2', {}, 10), T0);
    s.boot.advance(10 * MIN);
    await s.grants.check();
    await s.grants.sync([grantFor(stick(), '1-2', {}, 30)], T0);
    await s.lock.resync('test');
    expect(s.storageAuthorized('1-2')).toBe(false);
    expect(s.grants.list()).toEqual([]);
  });

  it('may shorten a grant it already has but never extends it', async () => {
    const s = await seat();
    await insert(s, stick(), '1-2');
    await s.grants.receive(grantFor(stick(), '1-2', {}, 10), T0);
    await s.grants.sync([grantFor(stick(), '1-2', { expires_at: new Date(T0 + 60 * MIN).toISOString(), duration_ms: 60 * MIN }, 60)], T0);
    expect(s.grants.list()[0]?.remainingMs).toBe(10 * MIN);
    await s.grants.sync([grantFor(stick(), '1-2', {}, 4)], T0);
    expect(s.grants.list()[0]?.remainingMs).toBe(4 * MIN);
    expect(s.rec.ofType('grant.accepted')).toHaveLength(1);
  });
});

describe('agent restart and reboot', () => {
  it('re-applies a grant that is still valid after an agent restart in the same boot', async () => {
    const first = await seat();
    await insert(first, stick(), '1-2');
    await first.grants.receive(grantFor(stick(), '1-2', {}, 30), T0);
    await eventually(() => expect(first.storageAuthorized('1-2')).toBe(true));
    await first.stop();
    seats.splice(seats.indexOf(first), 1);
    first.boot.advance(10 * MIN);
    first.wall.advance(10 * MIN);
    // A restarted agent on the same host: kernel state as left, a new lock over the same grant table.
    const second = await seat({ platform: first.platform, store: first.store, boot: first.boot, wall: first.wall });
    expect(second.storageAuthorized('1-2')).toBe(true);
    expect(second.ended()).toEqual([]);
    expect(second.grants.list()[0]?.remainingMs).toBe(20 * MIN);
  });

  it('ends with agent_restart_after_expiry a grant whose deadline passed while the agent was down, authorizing nothing', async () => {
    const first = await seat();
    await insert(first, stick(), '1-2');
    await first.grants.receive(grantFor(stick(), '1-2', {}, 10), T0);
    await eventually(() => expect(first.storageAuthorized('1-2')).toBe(true));
    await first.stop();
    seats.splice(seats.indexOf(first), 1);
    first.boot.advance(11 * MIN);
    first.wall.setWall(T0 - 86_400_000); // rolled back: the monotonic deadline still says it is over
    const second = await seat({ platform: first.platform, store: first.store, boot: first.boot, wall: first.wall });
    await settle(second);
    expect(second.storageAuthorized('1-2')).toBe(false);
    expect(second.ended()).toEqual([{ grant_id: 'grt_1', reason: 'agent_restart_after_expiry', relocked_interfaces: ['08:06:50'] }]);
    expect(second.rec.ofType('grant.applied')).toEqual([]);
  });

  it('ends a grant after a reboot (new boot id) even though its wall-clock time is not over', async () => {
    const first = await seat();
    await first.grants.receive(grantFor(stick(), '1-2', {}, 30), T0);
    await first.stop();
    seats.splice(seats.indexOf(first), 1);
    first.boot.reboot('00000000-0000-4000-8000-0000000000b2');
    first.wall.advance(2 * MIN);
    const second = await seat({ store: first.store, boot: first.boot, wall: first.wall });
    await insert(second, stick(), '1-2');
    expect(second.storageAuthorized('1-2')).toBe(false);
    expect(second.ended()).toEqual([{ grant_id: 'grt_1', reason: 'expired_offline', relocked_interfaces: [] }]);
  });

  it('reports agent_restart_after_expiry after a reboot when the wall clock is past expires_at', async () => {
    const first = await seat();
    await first.grants.receive(grantFor(stick(), '1-2', {}, 30), T0);
    await first.stop();
    seats.splice(seats.indexOf(first), 1);
    first.boot.reboot('00000000-0000-4000-8000-0000000000b3');
    first.wall.advance(45 * MIN);
    const second = await seat({ store: first.store, boot: first.boot, wall: first.wall });
    expect(second.ended()[0]?.reason).toBe('agent_restart_after_expiry');
  });

  it('does not trust a stored deadline when the boot id cannot be read', async () => {
    const first = await seat();
    await first.grants.receive(grantFor(stick(), '1-2', {}, 30), T0);
    await first.stop();
    seats.splice(seats.indexOf(first), 1);
    first.boot.reboot(null, first.boot.monotonicMs());
    const second = await seat({ store: first.store, boot: first.boot, wall: first.wall });
    expect(second.grants.list()).toEqual([]);
    expect(second.ended()[0]?.reason).toBe('expired_offline');
  });
});
