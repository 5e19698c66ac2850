import { mkdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Compile } from 'typebox/compile';
import { SENSOR_EVENT_MESSAGES, type SensorEventBody, type SensorEventType } from '../../../../shared/protocol/sensor-messages.js';
import type { CommandResult, PowerShellRunner } from '../../../../agent/platform/sensors.js';

/** Repository-relative fixture path. */
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures');

export function readFixture<T = unknown>(rel: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, rel), 'utf8')) as T;
}

/** Writes a `{ "dir/sub": { file: content } | content }` spec under `base` (dicts are directories). */
export async function materialize(base: string, files: Record<string, unknown>): Promise<void> {
  for (const [rel, value] of Object.entries(files)) {
    const p = join(base, rel);
    if (typeof value === 'string' || Buffer.isBuffer(value)) {
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, value);
    } else if (value && typeof value === 'object') {
      await mkdir(p, { recursive: true });
      await materialize(p, value as Record<string, unknown>);
    }
  }
}

const validators = new Map(Object.entries(SENSOR_EVENT_MESSAGES).map(([t, s]) => [t, Compile(s)]));
let seq = 0;

export interface Emitted<T extends SensorEventType = SensorEventType> {
  type: T;
  body: SensorEventBody<T>;
}

/**
 * An emit() that validates every event against its protocol schema (wrapped in a real envelope) and
 * records it. A schema violation fails the test through `errors`.
 */
export function createEventLog() {
  const events: Emitted[] = [];
  const errors: string[] = [];
  const emit = <T extends SensorEventType>(type: T, body: SensorEventBody<T>) => {
    const v = validators.get(type);
    const env = { v: 1, type, id: `t-${++seq}`, ts: new Date().toISOString(), seq, body };
    if (!v) errors.push(`unknown type ${type}`);
    else if (!v.Check(env)) errors.push(`${type}: ${JSON.stringify(v.Errors(env).slice(0, 3))}`);
    events.push({ type, body } as Emitted);
  };
  return {
    emit,
    events,
    errors,
    of<T extends SensorEventType>(type: T): Array<SensorEventBody<T>> {
      return events.filter((e) => e.type === type).map((e) => e.body as SensorEventBody<T>);
    },
    clear() {
      events.length = 0;
    },
  };
}

interface RecordedResponses {
  responses: Record<string, CommandResult>;
}

/**
 * A PowerShell runner replaying recorded outputs keyed by the -ClassName of the query. An
 * unexpected query fails loudly instead of inventing an answer.
 */
export function recordedPowerShell(fixture: RecordedResponses): PowerShellRunner & { scripts: string[] } {
  const scripts: string[] = [];
  const run = (script: string) => {
    scripts.push(script);
    const cls = /-ClassName '([^']+)'/.exec(script)?.[1];
    const r = cls ? fixture.responses[cls] : undefined;
    if (!r) return Promise.reject(new Error(`no recorded response for script: ${script.slice(0, 120)}`));
    return Promise.resolve(structuredClone(r));
  };
  return Object.assign(run, { scripts });
}
