import net from 'node:net';
import { AppError, formatError } from '../../shared/errors.js';
import { createLineSplitter } from './line-reader.js';

/** Result of one guest shell command: exit code and combined stdout+stderr. */
export interface GuestCommandResult {
  code: number;
  output: string;
}

/** Per-command options. */
export interface RunOptions {
  /** Guest-side limit (the command is SIGKILLed); the host waits a little longer for the reply. */
  timeoutMs?: number;
}

/** Runs busybox `sh` scripts inside the guest, one at a time, over the virtio-serial port. */
export interface GuestShell {
  run(script: string, opts?: RunOptions): Promise<GuestCommandResult>;
  /** Like run, but rejects with VM_ERR_COMMAND_FAILED on a non-zero exit; resolves with the output. */
  check(script: string, opts?: RunOptions): Promise<string>;
  close(): void;
}

interface Pending {
  resolve: (r: GuestCommandResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  b64: string[];
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Time for the reply to cross the channel after the guest-side limit fired. */
const REPLY_SLACK_MS = 10_000;

/**
 * Connects to the host end of the guest's "seatguard.cmd" port (a QEMU `-chardev socket`). The
 * protocol (scripts/vm/guest/cmd-server.sh) base64-encodes both the script and its output, so a
 * hostile output cannot forge reply frames.
 */
export async function connectCommandChannel(socketPath: string, connectTimeoutMs = 10_000): Promise<GuestShell> {
  const sock = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.createConnection(socketPath);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new AppError('VM_ERR_CHANNEL', formatError('VM_ERR_CHANNEL', `connect to ${socketPath} timed out`)));
    }, connectTimeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(new AppError('VM_ERR_CHANNEL', formatError('VM_ERR_CHANNEL', err.message), { cause: err }));
    });
  });

  const pending = new Map<number, Pending>();
  let current: { id: number; p: Pending } | null = null;
  let nextId = 1;
  let closed = false;

  const failAll = (err: Error) => {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    pending.clear();
  };

  sock.on(
    'data',
    createLineSplitter((line) => {
      const begin = /^B (\d+)$/.exec(line);
      if (begin) {
        const id = Number(begin[1]);
        const p = pending.get(id);
        current = p ? { id, p } : null;
        if (p) p.b64 = [];
        return;
      }
      const end = /^E (\d+) (\d+)$/.exec(line);
      if (end) {
        const id = Number(end[1]);
        const p = pending.get(id);
        current = null;
        if (!p) return; // a reply to a request the host already gave up on
        pending.delete(id);
        clearTimeout(p.timer);
        p.resolve({ code: Number(end[2]), output: Buffer.from(p.b64.join(''), 'base64').toString('utf8') });
        return;
      }
      if (current && /^[A-Za-z0-9+/=]*$/.test(line)) current.p.b64.push(line);
    }),
  );
  sock.on('error', (err) => failAll(new AppError('VM_ERR_CHANNEL', formatError('VM_ERR_CHANNEL', err.message), { cause: err })));
  sock.on('close', () => {
    closed = true;
    failAll(new AppError('VM_ERR_CHANNEL', formatError('VM_ERR_CHANNEL', 'connection closed')));
  });

  const run = (script: string, opts: RunOptions = {}): Promise<GuestCommandResult> => {
    if (closed) return Promise.reject(new AppError('VM_ERR_CHANNEL', formatError('VM_ERR_CHANNEL', 'connection closed')));
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const guestSeconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const id = nextId++;
    return new Promise<GuestCommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new AppError('VM_ERR_COMMAND_TIMEOUT', formatError('VM_ERR_COMMAND_TIMEOUT', timeoutMs), { details: { script } }));
      }, guestSeconds * 1000 + REPLY_SLACK_MS);
      pending.set(id, { resolve, reject, timer, b64: [] });
      sock.write(`${id} ${guestSeconds} ${Buffer.from(script, 'utf8').toString('base64')}\n`);
    });
  };

  return {
    run,
    async check(script, opts) {
      const r = await run(script, opts);
      if (r.code !== 0) {
        throw new AppError('VM_ERR_COMMAND_FAILED', formatError('VM_ERR_COMMAND_FAILED', r.code, r.output.slice(-2000)), {
          details: { script, code: r.code },
        });
      }
      return r.output;
    },
    close() {
      closed = true;
      sock.destroy();
    },
  };
}
