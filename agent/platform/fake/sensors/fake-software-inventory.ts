import { AppError, formatError } from '../../../../shared/errors.js';
import type { InstalledPackage, InventoryWatch, SoftwareInventory } from '../../sensors.js';
import { clone } from './clone.js';

const pkgKey = (p: Pick<InstalledPackage, 'name' | 'arch'>) => `${p.name}:${p.arch ?? ''}`;

/** Software inventory holding a package set; install/remove notify watchers like dpkg's rename would. */
export class FakeSoftwareInventory implements SoftwareInventory {
  #packages = new Map<string, InstalledPackage>();
  #watchers = new Set<() => void>();
  #failure: string | null = null;

  install(...pkgs: Array<Partial<InstalledPackage> & { name: string }>): this {
    for (const p of pkgs) {
      const full: InstalledPackage = { version: null, arch: null, publisher: null, source: 'fake', ...p };
      this.#packages.set(pkgKey(full), full);
    }
    this.#notify();
    return this;
  }
  remove(name: string, arch: string | null = null): this {
    this.#packages.delete(pkgKey({ name, arch }));
    this.#notify();
    return this;
  }
  /** Makes list() fail with SOFT_ERR_SOURCE (like an unreadable status file) until cleared with null. */
  setUnreadable(reason: string | null): this {
    this.#failure = reason;
    return this;
  }
  #notify(): void {
    for (const w of this.#watchers) w();
  }
  list(): Promise<InstalledPackage[]> {
    if (this.#failure !== null) return Promise.reject(new AppError('SOFT_ERR_SOURCE', formatError('SOFT_ERR_SOURCE', this.#failure)));
    return Promise.resolve([...this.#packages.values()].map(clone));
  }
  watch(onChange: () => void): Promise<InventoryWatch> {
    this.#watchers.add(onChange);
    return Promise.resolve({
      stop: () => {
        this.#watchers.delete(onChange);
        return Promise.resolve();
      },
    });
  }
}
