import type { Logger } from '../../shared/logger.js';
import type { SensorEmit } from '../../shared/protocol/sensor-messages.js';

export type { SensorEmit };

/** What every sensor runner needs from the agent core. */
export interface SensorBaseDeps {
  /** Hands an event to the agent core (outbox). A throw/rejection aborts the run; it is retried. */
  emit: SensorEmit;
  log: Logger;
  /** Called for every failure instead of throwing into the event loop (after it is logged). */
  onError?: (err: Error) => void;
}

/** Lifecycle shared by all sensor runners. `start()` runs the first check before resolving. */
export interface Sensor {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Logs a sensor failure and forwards it to the onError hook; never throws. */
export function reportSensorError(deps: Pick<SensorBaseDeps, 'log' | 'onError'>, err: Error, msg: string): void {
  deps.log.warn({ err }, msg);
  try {
    deps.onError?.(err);
  } catch {
    // A broken hook must not turn a sensor failure into a crash.
  }
}
