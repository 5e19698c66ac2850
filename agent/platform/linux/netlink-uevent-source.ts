import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { AppError, formatError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logger.js';
import { NETLINK_WORKER_SOURCE } from './netlink-worker.js';
import type { UeventHandlers, UeventSource } from './uevent-source.js';

export interface NetlinkUeventSourceOptions {
  log: Logger;
  /** How often the receiving thread looks at the stop flag; bounds stop() latency. */
  recvTimeoutMs?: number;
  /** Requested socket receive buffer; 1 MiB as USBGuard uses, to make ENOBUFS rare. */
  rcvbufBytes?: number;
}

type WorkerMessage =
  | { type: 'ready' }
  | { type: 'message'; data: Uint8Array }
  | { type: 'overrun' }
  | { type: 'foreign'; pid: number }
  | { type: 'fatal'; stage: string; errno?: number; message?: string };

function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

function describeFatal(m: Extract<WorkerMessage, { type: 'fatal' }>): string {
  return m.errno !== undefined ? `${m.stage} failed, errno ${m.errno}` : `${m.stage} failed: ${m.message ?? 'unknown'}`;
}

function sourceError(detail: string, cause?: unknown): AppError {
  return new AppError('UEVENT_ERR_SOURCE', formatError('UEVENT_ERR_SOURCE', detail), cause === undefined ? undefined : { cause });
}

/**
 * Kernel uevents from a NETLINK_KOBJECT_UEVENT socket bound to multicast group 1 (raw kernel
 * events; no udevd needed), received on a worker thread through koffi. Datagrams whose sender is
 * not the kernel (nl_pid != 0) are dropped.
 */
export function createNetlinkUeventSource(opts: NetlinkUeventSourceOptions): UeventSource {
  const log = opts.log.child({ component: 'uevent-netlink' });
  const recvTimeoutMs = opts.recvTimeoutMs ?? 250;
  let worker: Worker | null = null;
  let stopFlag: Int32Array | null = null;
  let exited: Promise<void> = Promise.resolve();
  let stopping = false;
  let foreignDrops = 0;

  async function start(handlers: UeventHandlers): Promise<void> {
    if (worker) throw sourceError('already started');
    let koffiPath: string;
    try {
      koffiPath = createRequire(import.meta.url).resolve('koffi');
    } catch (err) {
      throw sourceError('koffi is not installed', err);
    }
    const shared = new SharedArrayBuffer(4);
    stopFlag = new Int32Array(shared);
    stopping = false;
    const w = new Worker(NETLINK_WORKER_SOURCE, {
      eval: true,
      workerData: { koffiPath, stopFlag: shared, recvTimeoutMs, rcvbufBytes: opts.rcvbufBytes ?? 1 << 20, bufferBytes: 16384 },
      // The socket thread needs little; keep its heap small.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    worker = w;
    exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));

    await new Promise<void>((resolve, reject) => {
      let ready = false;
      let failed = false;
      // After start resolved, report the first failure once; the worker is gone after it anyway.
      const fail = (err: AppError) => {
        if (!ready) return reject(err);
        if (failed || stopping) return;
        failed = true;
        handlers.onError(err);
      };
      w.on('message', (m: unknown) => {
        if (!isWorkerMessage(m)) return;
        switch (m.type) {
          case 'ready':
            ready = true;
            log.debug({ recv_timeout_ms: recvTimeoutMs }, 'netlink uevent socket open');
            resolve();
            return;
          case 'message':
            try {
              handlers.onMessage(m.data);
            } catch (err) {
              log.error({ err }, 'uevent handler threw');
            }
            return;
          case 'overrun':
            handlers.onOverrun('uevent socket overrun (ENOBUFS)');
            return;
          case 'foreign':
            // Any local process can unicast here; warn once so it cannot flood the log.
            foreignDrops++;
            if (foreignDrops === 1) log.warn({ nl_pid: m.pid }, 'dropped uevent datagram not sent by the kernel');
            else log.debug({ nl_pid: m.pid, dropped: foreignDrops }, 'dropped uevent datagram not sent by the kernel');
            return;
          case 'fatal':
            fail(sourceError(describeFatal(m)));
            return;
        }
      });
      w.on('error', (err: Error) => fail(sourceError('worker crashed', err)));
      w.on('exit', (code: number) => {
        worker = null;
        fail(sourceError(ready ? `worker exited with code ${code}` : `worker exited with code ${code} before listening`));
      });
    });
  }

  async function stop(): Promise<void> {
    const w = worker;
    if (!w || !stopFlag) return exited;
    stopping = true;
    Atomics.store(stopFlag, 0, 1);
    // The receive timeout bounds the wait; terminate() is the backstop if libc never returns.
    const timer = setTimeout(() => void w.terminate(), recvTimeoutMs * 4 + 1000);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  return { start, stop };
}
