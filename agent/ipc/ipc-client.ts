import { createConnection } from 'node:net';
import { AppError, formatError } from '../../shared/errors.js';
import { decodeIpcResponse, type IpcRequest, type IpcResponse } from './ipc-protocol.js';

/** Largest answer the client reads (a full device list is a few KiB). */
const MAX_RESPONSE_BYTES = 256 * 1024;

/**
 * Sends one request to the agent's local socket and returns its answer. Throws IPC_ERR_UNAVAILABLE
 * when the agent cannot be reached or answers something that is not a valid response.
 */
export function ipcCall(socketPath: string, req: IpcRequest, timeoutMs = 10_000): Promise<IpcResponse> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(socketPath);
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (why: string, cause?: unknown) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      reject(new AppError('IPC_ERR_UNAVAILABLE', formatError('IPC_ERR_UNAVAILABLE', socketPath, why), cause === undefined ? undefined : { cause }));
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_RESPONSE_BYTES) return fail('answer too large');
      chunks.push(c);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      fail(err.code ?? err.message, err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (settled) return;
      const text = Buffer.concat(chunks).toString('utf8');
      const line = text.split('\n', 1)[0] ?? '';
      const res = decodeIpcResponse(line);
      if (!res) return fail('unexpected answer');
      settled = true;
      resolve(res);
    });
  });
}
