import type { NetInterface, NetworkProbe, ReachabilityResult } from '../../sensors.js';
import { clone } from './clone.js';

/** Interfaces and reachability set by the test; targets are keyed "host:port". */
export class FakeNetworkProbe implements NetworkProbe {
  #ifaces: NetInterface[] = [];
  #reach = new Map<string, ReachabilityResult>();

  setInterfaces(ifaces: NetInterface[]): this {
    this.#ifaces = clone(ifaces);
    return this;
  }
  setInterface(iface: NetInterface): this {
    this.#ifaces = [...this.#ifaces.filter((i) => i.name !== iface.name), clone(iface)];
    return this;
  }
  removeInterface(name: string): this {
    this.#ifaces = this.#ifaces.filter((i) => i.name !== name);
    return this;
  }
  setReachable(host: string, port: number, reachable: boolean | null, detail = 'fake'): this {
    this.#reach.set(`${host}:${port}`, { reachable, detail });
    return this;
  }
  interfaces(): Promise<NetInterface[]> {
    return Promise.resolve(clone(this.#ifaces));
  }
  checkReachability(target: { host: string; port: number }): Promise<ReachabilityResult> {
    return Promise.resolve(this.#reach.get(`${target.host}:${target.port}`) ?? { reachable: false, detail: 'fake: no route' });
  }
}
