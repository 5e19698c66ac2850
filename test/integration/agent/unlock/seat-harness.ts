import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import type { AgentEventType } from '../../../../shared/protocol/messages.js';
import { createUsbLock, type UsbLock } from '../../../../agent/enforcement/usb-lock.js';
import { createAgentUnlock, type AgentUnlock } from '../../../../agent/grants/agent-unlock.js';
import { ManualBootClock } from '../../../../agent/grants/boot-clock.js';
import { createIpcServer, type IpcServer, type IpcServerOptions } from '../../../../agent/ipc/ipc-server.js';
import { FakeUsbPlatform } from '../../../../agent/platform/fake/fake-platform.js';
import { recordingEmitter } from '../../../helpers/fake-agent.js';

export const T0 = Date.UTC(2026, 0, 15, 9, 30, 0);

export interface LocalSeat {
  dir: string;
  socketPath: string;
  platform: FakeUsbPlatform;
  unlock: AgentUnlock;
  lock: UsbLock;
  ipc: IpcServer;
  boot: ManualBootClock;
  clock: ManualClock;
  rec: ReturnType<typeof recordingEmitter>;
  close(): Promise<void>;
}

/**
 * A seat without a collector: fake platform, usb lock with the unlock policy, the unlock pieces on a
 * temp state dir, and the real local socket server. Time only moves when the test moves it.
 */
export async function startLocalSeat(ipcOptions: Partial<IpcServerOptions> = {}, dir?: string): Promise<LocalSeat> {
  const stateDir = dir ?? (await mkdtemp(join(tmpdir(), 'sg-seat-')));
  const platform = new FakeUsbPlatform();
  const rec = recordingEmitter();
  const clock = new ManualClock(T0);
  const boot = new ManualBootClock();
  let unlock: AgentUnlock | null = null;
  const emit = <T extends AgentEventType>(type: T, body: Parameters<typeof rec.emit<T>>[1]) => {
    rec.emit(type, body);
    unlock?.observe(type, body);
  };
  unlock = createAgentUnlock({ stateDir, platform, emit, clock, bootClock: boot, log: silentLogger(), checkIntervalMs: 3_600_000 });
  const u = unlock;
  const lock = createUsbLock({ platform, policy: u.policy, emit, log: silentLogger(), clock, resyncIntervalMs: 0 });
  await lock.start();
  await u.start({ resync: (r) => lock.resync(r) });
  const socketPath = join(stateDir, 'agent.sock');
  const ipc = createIpcServer({ socketPath, handle: (req) => u.handleSeatRequest(req), log: silentLogger(), monotonicMs: () => boot.monotonicMs(), ...ipcOptions });
  await ipc.start();
  return {
    dir: stateDir,
    socketPath,
    platform,
    unlock: u,
    lock,
    ipc,
    boot,
    clock,
    rec,
    async close() {
      await ipc.stop();
      await u.stop();
      await lock.stop();
      u.close();
      if (!dir) await rm(stateDir, { recursive: true, force: true });
    },
  };
}
