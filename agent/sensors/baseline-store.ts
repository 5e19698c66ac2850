import { promises as fsp } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import type { SchemaCheck } from '../../shared/schema-check.js';

/**
 * Where a sensor keeps its last known state across agent restarts, so a change made while the agent
 * was down (a BIOS password removed in setup, a package installed from a live USB) is still seen.
 */
export interface BaselineStore<T> {
  /** The saved value, or null when none is saved or the file is damaged (never throws). */
  load(): Promise<T | null>;
  save(value: T): Promise<void>;
}

/** In-memory store (tests, probe). */
export function createMemoryBaselineStore<T>(initial: T | null = null): BaselineStore<T> & { value: T | null } {
  const store = {
    value: initial,
    load: () => Promise.resolve(store.value),
    save: (v: T) => {
      store.value = v;
      return Promise.resolve();
    },
  };
  return store;
}

/** JSON file validated with `schema` on load; written to a temp file then renamed (atomic). */
export function createJsonFileBaselineStore<T>(path: string, schema: SchemaCheck<T>): BaselineStore<T> {
  return {
    async load() {
      let text: string;
      try {
        text = await fsp.readFile(path, 'utf8');
      } catch {
        return null;
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return null;
      }
      return schema.check(value) ? value : null;
    },
    async save(value) {
      const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
      await fsp.writeFile(tmp, JSON.stringify(value), { mode: 0o600 });
      await fsp.rename(tmp, path);
    },
  };
}
