import { connect } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { join } from 'node:path';
import { sanitizeText } from '../../../../shared/domain/sanitize.js';
import type { NetInterface, NetworkProbe, ReachabilityResult, ReachabilityTarget } from '../../sensors.js';
import { attributeText, listDir, readSmallFile } from '../firmware/small-file.js';
import { compareCodeUnits } from '../../../text-order.js';

/** Relative to the root: one directory per network interface. */
export const SYS_CLASS_NET = 'sys/class/net';

export interface NodeNetworkProbeDeps {
  /**
   * '/' (default) reads the live kernel through os.networkInterfaces() — not systeminformation,
   * whose networkInterfaces() blocks the event loop for ~100 ms. Any other root reads
   * sys/class/net from that tree: MACs only, addresses unknown (null).
   */
  root?: string;
  /** Injected for tests; default os.networkInterfaces. */
  interfacesSource?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function normMac(mac: string | undefined): string | null {
  const m = (mac ?? '').trim().toLowerCase();
  // All-zero is what the kernel reports for loopback and tunnels: no hardware address.
  return MAC.test(m) && m !== '00:00:00:00:00:00' ? m : null;
}

/** Groups os.networkInterfaces() output into one entry per interface (sorted, without prefix lengths). */
export function fromNodeInterfaces(dict: NodeJS.Dict<NetworkInterfaceInfo[]>): NetInterface[] {
  const out: NetInterface[] = [];
  for (const [rawName, addrs] of Object.entries(dict)) {
    if (!addrs) continue;
    const name = sanitizeText(rawName, 32);
    const ipv4 = [...new Set(addrs.filter((a) => a.family === 'IPv4').map((a) => a.address))].sort();
    const ipv6 = [...new Set(addrs.filter((a) => a.family === 'IPv6').map((a) => a.address.toLowerCase()))].sort();
    const mac = addrs.map((a) => normMac(a.mac)).find((m) => m !== null) ?? null;
    out.push({ name, mac, ipv4, ipv6, internal: addrs.every((a) => a.internal) });
  }
  return out.sort((a, b) => compareCodeUnits(a.name, b.name));
}

async function fromSysClassNet(root: string): Promise<NetInterface[]> {
  const listing = await listDir(join(root, SYS_CLASS_NET));
  if (!listing.ok) throw new Error(`${SYS_CLASS_NET} unreadable (${listing.code})`);
  const out: NetInterface[] = [];
  for (const n of listing.names.slice(0, 256)) {
    const dir = join(root, SYS_CLASS_NET, n);
    const [addr, type] = await Promise.all([readSmallFile(join(dir, 'address'), 64), readSmallFile(join(dir, 'type'), 16)]);
    const mac = addr.ok ? normMac(attributeText(addr.data, 32)) : null;
    // ARPHRD_LOOPBACK = 772.
    const internal = type.ok ? attributeText(type.data, 8) === '772' : n === 'lo';
    out.push({ name: sanitizeText(n, 32), mac, ipv4: null, ipv6: null, internal });
  }
  return out;
}

/** One TCP connect attempt, closed as soon as it opens. Never throws. */
export function tcpReachability(target: ReachabilityTarget, timeoutMs: number): Promise<ReachabilityResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ReachabilityResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const socket = connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => finish({ reachable: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', () => finish({ reachable: true, detail: 'TCP connection opened' }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'error';
      // Errors about the request itself (bad host string) say nothing about the network.
      if (code === 'ERR_INVALID_ARG_TYPE' || code === 'ERR_SOCKET_BAD_PORT') finish({ reachable: null, detail: `cannot test: ${code}` });
      else finish({ reachable: false, detail: `connect failed (${code})` });
    });
  });
}

/** Network probe on Node's own APIs (works on Linux and Windows alike). */
export function createNodeNetworkProbe(deps: NodeNetworkProbeDeps = {}): NetworkProbe {
  const root = deps.root ?? '/';
  const live = root === '/' || root === '';
  const source = deps.interfacesSource ?? networkInterfaces;
  return {
    interfaces: () => (live ? Promise.resolve(fromNodeInterfaces(source())) : fromSysClassNet(root)),
    checkReachability(target, timeoutMs) {
      if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
        return Promise.resolve({ reachable: null, detail: `cannot test: bad port ${String(target.port)}` });
      }
      return tcpReachability(target, timeoutMs);
    },
  };
}
