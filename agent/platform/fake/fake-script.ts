import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Static } from 'typebox';
import type { Logger } from '../../../shared/logger.js';
import { generatedCheck } from '../../generated-checks.js';
import type { FakeDeviceSpec } from './device-spec.js';
import type { FakeUsbPlatform } from './fake-platform.js';
import type { FakeCommand as FakeCommandSchema } from './fake-schema.js';

/**
 * Drives a FakeUsbPlatform from JSON lines (one command per line), so an end-to-end test or a demo
 * can plug devices into a spawned `seatguard agent --platform fake --fake-stdin`. Testing aid only.
 */
export type FakeCommand = Static<typeof FakeCommandSchema>;

const checkCommand = generatedCheck<FakeCommand>('fake_command', 'fake command');
// A device spec with a few 10 KB strings fits easily; anything bigger is a broken test.
const MAX_LINE_BYTES = 256 * 1024;

/** How a burst ended: the cycles it completed, or why it stopped. */
export type BurstOutcome = { ok: true; cycles: number } | { ok: false; problem: string };

/**
 * Applies one command; returns an error message instead of throwing. A burst runs on after this
 * returns; `onBurstEnd` hears how it ended (a burst that cannot start is the returned message).
 */
export function applyFakeCommand(platform: FakeUsbPlatform, line: string, onBurstEnd?: (outcome: BurstOutcome) => void): string | null {
  if (Buffer.byteLength(line, 'utf8') > MAX_LINE_BYTES) return 'line too long';
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (!checkCommand.check(value)) return checkCommand.errors(value).join('; ');
  const cmd = value;
  try {
    switch (cmd.op) {
      case 'insert':
        platform.insert(cmd.device, cmd.port === undefined ? {} : { port: cmd.port });
        break;
      case 'remove':
        platform.remove(cmd.port);
        break;
      case 'fail_reads':
        platform.failReads(cmd.port);
        break;
      case 'add_controller':
        platform.addController(cmd.name);
        break;
      case 'set_controller_default':
        platform.setControllerDefault(cmd.name, cmd.value);
        break;
      case 'resync':
        platform.resync('fake script');
        break;
      case 'burst':
        return startBurst(platform, cmd.device, cmd.count, cmd.port, onBurstEnd);
    }
  } catch (err) {
    return err instanceof Error ? err.message : 'command failed';
  }
  return null;
}

function startBurst(
  platform: FakeUsbPlatform,
  device: FakeDeviceSpec,
  count: number,
  port: string | undefined,
  onEnd: ((outcome: BurstOutcome) => void) | undefined,
): string | null {
  let running: Promise<number>;
  try {
    // burst() checks its bounds synchronously, so a refused burst is an answer to this line.
    running = platform.burst(device, count, port === undefined ? {} : { port });
  } catch (err) {
    return err instanceof Error ? err.message : 'burst failed';
  }
  running.then(
    (cycles) => onEnd?.({ ok: true, cycles }),
    (err: unknown) => onEnd?.({ ok: false, problem: err instanceof Error ? err.message : 'burst failed' }),
  );
  return null;
}

/** Reads commands from a stream until it ends. Bad lines are logged and skipped. */
export function attachFakeScript(platform: FakeUsbPlatform, input: Readable, log: Logger): { close(): void } {
  const rl = createInterface({ input, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (line.trim().length === 0) return;
    const problem = applyFakeCommand(platform, line, (outcome) => {
      // Info, not debug: tests wait for this line to know the burst's events are all in the outbox.
      if (outcome.ok) log.info({ cycles: outcome.cycles }, 'fake burst finished');
      else log.warn({ problem: outcome.problem }, 'fake burst stopped');
    });
    if (problem) log.warn({ problem }, 'fake platform command rejected');
    else log.debug('fake platform command applied');
  });
  return { close: () => rl.close() };
}
