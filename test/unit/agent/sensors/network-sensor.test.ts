import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../shared/logger.js';
import { FakeNetworkProbe } from '../../../../agent/platform/fake/sensors/fake-sensors.js';
import { createNodeNetworkProbe } from '../../../../agent/platform/linux/network/node-network-probe.js';
import type { NetInterface, NetworkProbe } from '../../../../agent/platform/sensors.js';
import { createNetworkSensor, parseNetworkPlan, type NetworkSensor } from '../../../../agent/sensors/network-sensor.js';
import { createEventLog } from './support.js';

const eth0: NetInterface = { name: 'eth0', mac: '02:00:00:00:00:01', ipv4: ['10.20.30.40'], ipv6: [], internal: false };
const lo: NetInterface = { name: 'lo', mac: null, ipv4: ['127.0.0.1'], ipv6: ['::1'], internal: true };

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

function setup(probe: NetworkProbe, extra: Partial<Parameters<typeof createNetworkSensor>[0]> = {}): { sensor: NetworkSensor; log: ReturnType<typeof createEventLog> } {
  const log = createEventLog();
  const sensor = createNetworkSensor({ probe, emit: log.emit, log: silentLogger(), intervalMs: 3_600_000, ...extra });
  cleanup.push(() => sensor.stop());
  return { sensor, log };
}

describe('network sensor', () => {
  it('takes the first check as baseline and reports IP and MAC changes of managed interfaces', async () => {
    const probe = new FakeNetworkProbe().setInterfaces([lo, eth0]);
    const { sensor, log } = setup(probe);
    await sensor.start();
    expect(log.events).toEqual([]);

    probe.setInterface({ ...eth0, ipv4: ['10.20.30.99'] });
    await sensor.checkNow();
    probe.setInterface({ ...eth0, ipv4: ['10.20.30.99'], mac: '02:00:00:00:00:02' });
    await sensor.checkNow();
    probe.setInterface({ ...lo, ipv4: ['127.0.0.2'] });
    await sensor.checkNow();
    expect(log.of('network.changed')).toEqual([
      { iface: 'eth0', previous: { mac: '02:00:00:00:00:01', ipv4: ['10.20.30.40'], ipv6: [] }, current: { mac: '02:00:00:00:00:01', ipv4: ['10.20.30.99'], ipv6: [] } },
      { iface: 'eth0', previous: { mac: '02:00:00:00:00:01', ipv4: ['10.20.30.99'], ipv6: [] }, current: { mac: '02:00:00:00:00:02', ipv4: ['10.20.30.99'], ipv6: [] } },
    ]);
    expect(log.errors).toEqual([]);
  });

  it('reports interfaces that appear and disappear', async () => {
    const probe = new FakeNetworkProbe().setInterfaces([eth0]);
    const { sensor, log } = setup(probe);
    await sensor.start();
    probe.setInterface({ name: 'wlan0', mac: '02:00:00:00:00:09', ipv4: ['192.168.1.5'], ipv6: [], internal: false });
    await sensor.checkNow();
    probe.removeInterface('wlan0');
    await sensor.checkNow();
    expect(log.of('network.changed').map((e) => [e.iface, e.previous === null, e.current === null])).toEqual([
      ['wlan0', true, false],
      ['wlan0', false, true],
    ]);
  });

  it('compares with the expected plan: raises each new mismatch and resolves it', async () => {
    const probe = new FakeNetworkProbe().setInterfaces([lo, eth0]);
    const { sensor, log } = setup(probe, { plan: [{ iface: 'eth0', ipv4: '10.20.30.40', mac: '02:00:00:00:00:01' }, { iface: 'eth1', ipv4: '10.99.0.1' }] });
    await sensor.start();
    expect(log.of('network.plan_mismatch')).toEqual([
      { iface: 'eth1', expected: { ipv4: '10.99.0.1', mac: null }, actual: null, problems: ['missing'], resolved: false },
    ]);
    probe.setInterface({ ...eth0, ipv4: ['10.20.30.41'], mac: '02:00:00:00:00:ff' });
    await sensor.checkNow();
    probe.setInterface(eth0);
    await sensor.checkNow();
    expect(log.of('network.plan_mismatch').slice(1).map((e) => [e.iface, e.problems, e.resolved])).toEqual([
      ['eth0', ['ipv4', 'mac'], false],
      ['eth0', [], true],
    ]);
  });

  it('refuses an invalid plan from the collector', () => {
    expect(() => parseNetworkPlan([{ iface: 'eth0', ipv4: 'not-an-ip' }])).toThrow(expect.objectContaining({ code: 'NET_ERR_PLAN' }) as Error);
    expect(() => parseNetworkPlan([{ iface: 'eth0; rm -rf /' }])).toThrow();
    expect(parseNetworkPlan([{ iface: 'eth0', mac: '02:00:00:00:00:01' }])).toEqual([{ iface: 'eth0', mac: '02:00:00:00:00:01' }]);
  });

  it('probes a loopback target for an offline seat: reachable is a violation, closing it resolves', async () => {
    const server: Server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    let closed = false;
    cleanup.push(() => (closed ? Promise.resolve() : new Promise<void>((r) => server.close(() => r()))));

    const { sensor, log } = setup(createNodeNetworkProbe(), { offline: { host: '127.0.0.1', port, timeoutMs: 2_000 } });
    await sensor.start();
    await sensor.checkNow();
    await new Promise<void>((r) => server.close(() => r()));
    closed = true;
    await sensor.checkNow();
    expect(log.of('network.reachability')).toEqual([
      { target: `127.0.0.1:${port}`, state: 'reachable', expected: 'offline', violation: true, detail: 'TCP connection opened' },
      { target: `127.0.0.1:${port}`, state: 'unreachable', expected: 'offline', violation: false, detail: 'connect failed (ECONNREFUSED)' },
    ]);
    expect(log.errors).toEqual([]);
  });

  it('stops probing when the offline policy is lifted', async () => {
    const probe = new FakeNetworkProbe().setReachable('127.0.0.1', 9, false);
    const { sensor, log } = setup(probe, { offline: { host: '127.0.0.1', port: 9 } });
    await sensor.start();
    sensor.setOffline(null);
    probe.setReachable('127.0.0.1', 9, true);
    await sensor.checkNow();
    expect(log.of('network.reachability').map((e) => e.state)).toEqual(['unreachable']);
  });

  it('reports a failing probe through onError and keeps going', async () => {
    const errors: Error[] = [];
    let fail = true;
    const fake = new FakeNetworkProbe().setInterfaces([eth0]);
    const flaky: NetworkProbe = { interfaces: () => (fail ? Promise.reject(new Error('netlink down')) : fake.interfaces()), checkReachability: (t) => fake.checkReachability(t) };
    const { sensor } = setup(flaky, { onError: (e) => errors.push(e) });
    await sensor.start();
    fail = false;
    await sensor.checkNow();
    expect(errors.map((e) => e.message)).toEqual(['netlink down']);
  });
});
