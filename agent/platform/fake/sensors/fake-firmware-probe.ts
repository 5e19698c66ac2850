import type { BiosInfo, FirmwareProbe, FirmwareReading, FirmwareSourceReading } from '../../sensors.js';
import { clone } from './clone.js';

/** In-memory firmware probe whose sources and BIOS identity are set by the test. */
export class FakeFirmwareProbe implements FirmwareProbe {
  #sources: FirmwareSourceReading[] = [];
  #bios: BiosInfo = { vendor: null, version: null, date: null, detail: 'fake: not set' };
  #failure: Error | null = null;
  reads = 0;

  setSources(sources: FirmwareSourceReading[]): this {
    this.#sources = clone(sources);
    return this;
  }
  /** Replaces (or adds) the source with this name. */
  setSource(source: FirmwareSourceReading): this {
    this.#sources = [...this.#sources.filter((s) => s.name !== source.name), clone(source)];
    return this;
  }
  setBios(bios: Partial<BiosInfo>): this {
    this.#bios = { ...this.#bios, detail: 'fake', ...bios };
    return this;
  }
  /** Makes read() reject until cleared with null (the real probes never do; sensors must survive it). */
  failWith(err: Error | null): this {
    this.#failure = err;
    return this;
  }
  read(): Promise<FirmwareReading> {
    this.reads++;
    if (this.#failure) return Promise.reject(this.#failure);
    return Promise.resolve({ sources: clone(this.#sources), bios: clone(this.#bios) });
  }
}
