import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SYS_CLASS_NET, createNodeNetworkProbe, fromNodeInterfaces } from '../../../../../agent/platform/linux/network/node-network-probe.js';
import { materialize } from '../../sensors/support.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((s) => s.destroy());
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0 });
    });
  });
}
const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

describe('Node network probe', () => {
  it('groups os.networkInterfaces() output per interface, without the blocking systeminformation call', () => {
    // Recorded from this build machine (os.networkInterfaces()).
    const recorded = {
      lo: [
        { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
        { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 },
      ],
      eth0: [
        { address: '192.0.2.2', netmask: '255.255.255.0', family: 'IPv4', mac: '02:FC:00:00:00:01', internal: false, cidr: '192.0.2.2/24' },
        { address: 'fd00::2', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:fc:00:00:00:01', internal: false, cidr: 'fd00::2/64', scopeid: 0 },
        { address: 'fe80::fc:ff:fe00:1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:fc:00:00:00:01', internal: false, cidr: 'fe80::fc:ff:fe00:1/64', scopeid: 4 },
      ],
    } as const;
    expect(fromNodeInterfaces(recorded as never)).toEqual([
      { name: 'eth0', mac: '02:fc:00:00:00:01', ipv4: ['192.0.2.2'], ipv6: ['fd00::2', 'fe80::fc:ff:fe00:1'], internal: false },
      { name: 'lo', mac: null, ipv4: ['127.0.0.1'], ipv6: ['::1'], internal: true },
    ]);
  });

  it('reads the live interfaces of this machine', async () => {
    const ifaces = await createNodeNetworkProbe().interfaces();
    expect(ifaces.find((i) => i.name === 'lo')).toMatchObject({ internal: true, ipv4: expect.arrayContaining(['127.0.0.1']) });
  });

  it('reads MACs from a captured sys/class/net and leaves addresses unknown', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sg-net-'));
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    await materialize(join(root, SYS_CLASS_NET), {
      lo: { address: '00:00:00:00:00:00\n', type: '772\n' },
      enp0s31f6: { address: '8C:16:45:AA:BB:CC\n', type: '1\n' },
      'evil\u0007': { address: 'not-a-mac\n', type: '1\n' },
    });
    const ifaces = await createNodeNetworkProbe({ root }).interfaces();
    expect(ifaces).toEqual([
      { name: 'enp0s31f6', mac: '8c:16:45:aa:bb:cc', ipv4: null, ipv6: null, internal: false },
      { name: 'evil\uFFFD', mac: null, ipv4: null, ipv6: null, internal: false },
      { name: 'lo', mac: null, ipv4: null, ipv6: null, internal: true },
    ]);
    await expect(createNodeNetworkProbe({ root: join(root, 'nope') }).interfaces()).rejects.toThrow(/ENOENT/);
  });

  it('finds a listening loopback server reachable and a closed loopback port unreachable', async () => {
    const probe = createNodeNetworkProbe();
    const open = await listen();
    cleanup.push(() => close(open.server));
    expect(await probe.checkReachability({ host: '127.0.0.1', port: open.port }, 2_000)).toEqual({ reachable: true, detail: 'TCP connection opened' });

    const gone = await listen();
    await close(gone.server);
    expect(await probe.checkReachability({ host: '127.0.0.1', port: gone.port }, 2_000)).toEqual({ reachable: false, detail: 'connect failed (ECONNREFUSED)' });
  });

  it('cannot test a nonsense port and says so instead of claiming the seat is offline', async () => {
    expect(await createNodeNetworkProbe().checkReachability({ host: '127.0.0.1', port: 70_000 }, 100)).toEqual({ reachable: null, detail: 'cannot test: bad port 70000' });
  });
});
