import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { AppError, formatError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { decodeIpcRequest, IPC_MAX_LINE_BYTES, type IpcRequest, type IpcResponse } from './ipc-protocol.js';
import { createTokenBucket, type TokenBucket } from './rate-limit.js';

/**
 * The agent's local socket for the seat CLI. Any local user may connect (mode 0666), so every byte
 * is hostile: one bounded line per connection, a deadline, a cap on open connections, and token
 * buckets for requests in general and for unlock-code attempts in particular.
 */
export interface IpcServerOptions {
  /** Unix socket path (at most 107 bytes on Linux). */
  socketPath: string;
  handle: (req: IpcRequest) => Promise<IpcResponse>;
  log: Logger;
  monotonicMs: () => number;
  /** Socket file mode. Default 0o666 (seat users may ask; see docs/unlock-agent.md). */
  mode?: number;
  /** Connections open at once, at most. Default 16. */
  maxConnections?: number;
  /** A connection must deliver its line within this time. Default 5 000 ms. */
  requestTimeoutMs?: number;
  /** Requests of any kind: burst, then one per refillMs. Default 20 / 3 000 ms. */
  requests?: { burst: number; refillMs: number };
  /** unlock_code and maintenance attempts: burst, then one per refillMs. Default 5 / 60 000 ms. */
  codeAttempts?: { burst: number; refillMs: number };
}

export interface IpcServer {
  /** Listens; throws IPC_ERR_LISTEN when the path is unusable or another agent answers on it. */
  start(): Promise<void>;
  /** Stops listening, closes open connections and removes the socket file. */
  stop(): Promise<void>;
}

// sockaddr_un.sun_path is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 107;

function errorResponse(code: ErrorCode, message: string): IpcResponse {
  return { ok: false, code, message: message.slice(0, 512) };
}

/** True when something accepts connections on the socket (a live agent). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Creates the server (not listening yet). */
export function createIpcServer(opts: IpcServerOptions): IpcServer {
  const log = opts.log.child({ component: 'ipc' });
  const maxConnections = opts.maxConnections ?? 16;
  const timeoutMs = opts.requestTimeoutMs ?? 5_000;
  const requests: TokenBucket = createTokenBucket({ ...(opts.requests ?? { burst: 20, refillMs: 3_000 }), monotonicMs: opts.monotonicMs });
  const codes: TokenBucket = createTokenBucket({ ...(opts.codeAttempts ?? { burst: 5, refillMs: 60_000 }), monotonicMs: opts.monotonicMs });
  const sockets = new Set<Socket>();
  let server: Server | null = null;

  function reply(sock: Socket, res: IpcResponse): void {
    if (sock.destroyed) return;
    sock.end(`${JSON.stringify(res)}\n`);
    // A client that never closes its side must not hold a connection slot.
    setTimeout(() => sock.destroy(), 1_000).unref();
  }

  async function dispatch(sock: Socket, line: string): Promise<void> {
    const decoded = decodeIpcRequest(line);
    if (!decoded.ok) {
      log.info({ problem: decoded.detail }, 'local request refused');
      reply(sock, errorResponse('IPC_ERR_BAD_REQUEST', formatError('IPC_ERR_BAD_REQUEST', decoded.detail)));
      return;
    }
    const req = decoded.req;
    // Code attempts (offline unlock and maintenance codes) share the strict bucket: both are guessable secrets.
    const isCode = req.op === 'unlock_code' || req.op === 'maintenance';
    const bucket = isCode ? codes : requests;
    if (!requests.take() || (isCode && !bucket.take())) {
      const wait = Math.max(requests.retryAfterMs(), isCode ? codes.retryAfterMs() : 0);
      log.warn({ op: req.op }, 'local request rate limited');
      reply(sock, errorResponse('IPC_ERR_RATE', formatError('IPC_ERR_RATE', Math.max(1, Math.ceil(wait / 1000)))));
      return;
    }
    let res: IpcResponse;
    try {
      res = await opts.handle(req);
    } catch (err) {
      log.error({ err, op: req.op }, 'local request failed');
      res = errorResponse('IPC_ERR_INTERNAL', formatError('IPC_ERR_INTERNAL'));
    }
    reply(sock, res);
  }

  function onConnection(sock: Socket): void {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    if (sockets.size > maxConnections) {
      log.warn({ open: sockets.size - 1 }, 'too many local connections; refusing one');
      sock.on('error', () => undefined);
      // Drain whatever the client sends so its FIN arrives and the half-open socket can close.
      sock.resume();
      reply(sock, errorResponse('IPC_ERR_RATE', formatError('IPC_ERR_RATE', 1)));
      return;
    }
    let buffered = Buffer.alloc(0);
    let done = false;
    const timer = setTimeout(() => {
      if (!done) {
        done = true;
        reply(sock, errorResponse('IPC_ERR_BAD_REQUEST', formatError('IPC_ERR_BAD_REQUEST', 'no complete request in time')));
        sock.destroySoon();
      }
    }, timeoutMs);
    timer.unref();
    sock.on('error', (err) => log.debug({ err }, 'local connection error'));
    sock.on('close', () => clearTimeout(timer));
    sock.on('data', (chunk: Buffer) => {
      if (done) return;
      buffered = Buffer.concat([buffered, chunk]);
      const nl = buffered.indexOf(0x0a);
      if (nl < 0 && buffered.length < IPC_MAX_LINE_BYTES) return;
      done = true;
      clearTimeout(timer);
      if (nl < 0 || nl >= IPC_MAX_LINE_BYTES) {
        reply(sock, errorResponse('IPC_ERR_BAD_REQUEST', formatError('IPC_ERR_BAD_REQUEST', `request longer than ${IPC_MAX_LINE_BYTES} bytes`)));
        return;
      }
      // One request per connection: whatever follows the first line is ignored.
      void dispatch(sock, buffered.subarray(0, nl).toString('utf8'));
    });
    sock.on('end', () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reply(sock, errorResponse('IPC_ERR_BAD_REQUEST', formatError('IPC_ERR_BAD_REQUEST', 'connection ended before a complete request')));
    });
  }

  async function preparePath(path: string): Promise<void> {
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
      throw new AppError('IPC_ERR_LISTEN', formatError('IPC_ERR_LISTEN', path, `longer than ${MAX_SOCKET_PATH_BYTES} bytes`));
    }
    let isSocket: boolean;
    try {
      isSocket = lstatSync(path).isSocket();
    } catch {
      return; // nothing there
    }
    // SECURITY: never delete a file that is not a socket (a symlink planted to make us unlink something).
    if (!isSocket) throw new AppError('IPC_ERR_LISTEN', formatError('IPC_ERR_LISTEN', path, 'exists and is not a socket'));
    if (await answers(path)) throw new AppError('IPC_ERR_LISTEN', formatError('IPC_ERR_LISTEN', path, 'another agent is listening on it'));
    unlinkSync(path); // left over from an agent that did not stop cleanly
  }

  return {
    async start() {
      if (server) return;
      await preparePath(opts.socketPath);
      const s = createServer({ allowHalfOpen: true }, onConnection);
      await new Promise<void>((resolve, reject) => {
        s.once('error', (err) => reject(new AppError('IPC_ERR_LISTEN', formatError('IPC_ERR_LISTEN', opts.socketPath, err.message), { cause: err })));
        s.listen(opts.socketPath, () => resolve());
      });
      s.on('error', (err) => log.error({ err }, 'local socket error'));
      chmodSync(opts.socketPath, opts.mode ?? 0o666);
      server = s;
      log.info({ socket: opts.socketPath }, 'local request socket listening');
    },

    async stop() {
      const s = server;
      server = null;
      if (!s) return;
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((resolve) => s.close(() => resolve()));
      try {
        if (lstatSync(opts.socketPath).isSocket()) unlinkSync(opts.socketPath);
      } catch {
        // already gone
      }
    },
  };
}
