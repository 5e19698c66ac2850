import net from 'node:net';
import { AppError, formatError } from '../../shared/errors.js';
import { createLineSplitter, isRecord, parseJsonObject } from './line-reader.js';
import { withTimeout } from './wait.js';

/** An asynchronous QEMU event (DEVICE_DELETED, ...) with the host time it arrived. */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  /** performance.now() on the host when the line was read. */
  receivedAt: number;
}

/** A connected QMP session (capabilities already negotiated). Commands run one at a time. */
export interface QmpClient {
  /** Runs a command and resolves with its `return` value; rejects with VM_ERR_QMP on `error`. */
  execute(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<unknown>;
  /** Runs a human-monitor (HMP) command line and returns its text output. */
  hmp(commandLine: string, timeoutMs?: number): Promise<string>;
  /** Index to pass to waitForEvent so events that arrive before the wait starts are not missed. */
  eventMark(): number;
  waitForEvent(pred: (e: QmpEvent) => boolean, timeoutMs: number, fromMark?: number): Promise<QmpEvent>;
  close(): void;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  command: string;
}

/** Connects to QEMU's `-qmp unix:PATH,server=on` socket and negotiates capabilities. */
export async function connectQmp(socketPath: string, timeoutMs = 10_000): Promise<QmpClient> {
  const sock = net.createConnection(socketPath);
  const events: QmpEvent[] = [];
  const eventWaiters = new Set<() => void>();
  const pending = new Map<string, Pending>();
  let nextId = 1;
  let closed = false;
  let greeted: () => void = () => {};
  const greeting = new Promise<void>((resolve) => {
    greeted = resolve;
  });

  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  sock.on(
    'data',
    createLineSplitter((line) => {
      const msg = parseJsonObject(line);
      if (!msg) return;
      if ('QMP' in msg) {
        greeted();
        return;
      }
      if (typeof msg.event === 'string') {
        events.push({ event: msg.event, data: isRecord(msg.data) ? msg.data : {}, receivedAt: performance.now() });
        for (const w of eventWaiters) w();
        return;
      }
      const id = typeof msg.id === 'string' ? msg.id : null;
      const p = id ? pending.get(id) : undefined;
      if (!p || !id) return;
      pending.delete(id);
      if ('return' in msg) p.resolve(msg.return);
      else {
        const e = isRecord(msg.error) ? msg.error : {};
        const desc = typeof e.desc === 'string' ? e.desc : JSON.stringify(msg.error);
        p.reject(new AppError('VM_ERR_QMP', formatError('VM_ERR_QMP', p.command, desc)));
      }
    }),
  );
  sock.on('error', (err) => failAll(new AppError('VM_ERR_QMP', formatError('VM_ERR_QMP', 'socket', err.message), { cause: err })));
  sock.on('close', () => {
    closed = true;
    failAll(new AppError('VM_ERR_QMP', formatError('VM_ERR_QMP', 'socket', 'connection closed')));
  });

  const execute = (command: string, args?: Record<string, unknown>, ms = 15_000): Promise<unknown> => {
    if (closed) return Promise.reject(new AppError('VM_ERR_QMP', formatError('VM_ERR_QMP', command, 'connection closed')));
    const id = `q${nextId++}`;
    const p = new Promise<unknown>((resolve, reject) => {
      pending.set(id, { resolve, reject, command });
    });
    sock.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    return withTimeout(p, ms, () => {
      pending.delete(id);
      return new AppError('VM_ERR_QMP', formatError('VM_ERR_QMP', command, `no reply within ${ms} ms`));
    });
  };

  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      }),
      timeoutMs,
      () => new Error(`connect to ${socketPath} timed out`),
    );
    await withTimeout(greeting, timeoutMs, () => new Error('no QMP greeting'));
    await execute('qmp_capabilities', undefined, timeoutMs);
  } catch (err) {
    sock.destroy();
    throw new AppError('VM_ERR_QMP', formatError('VM_ERR_QMP', 'connect', err instanceof Error ? err.message : String(err)), {
      cause: err,
    });
  }

  return {
    execute,
    async hmp(commandLine, ms) {
      const out = await execute('human-monitor-command', { 'command-line': commandLine }, ms);
      return typeof out === 'string' ? out : '';
    },
    eventMark: () => events.length,
    waitForEvent(pred, ms, fromMark = 0) {
      return new Promise<QmpEvent>((resolve, reject) => {
        let scanned = fromMark;
        const check = () => {
          for (; scanned < events.length; scanned++) {
            const e = events[scanned];
            if (e && pred(e)) {
              done();
              resolve(e);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new AppError('VM_ERR_QMP', formatError('VM_ERR_QMP', 'wait for event', `none matched within ${ms} ms`)));
        }, ms);
        const done = () => {
          clearTimeout(timer);
          eventWaiters.delete(check);
        };
        eventWaiters.add(check);
        check();
      });
    },
    close() {
      closed = true;
      sock.destroy();
    },
  };
}
