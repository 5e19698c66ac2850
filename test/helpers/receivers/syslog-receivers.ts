import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** A UDP syslog receiver on 127.0.0.1:0 recording each datagram as received. */
export interface UdpSyslogReceiver {
  readonly port: number;
  readonly messages: Buffer[];
  close(): Promise<void>;
}

export async function startUdpSyslogReceiver(): Promise<UdpSyslogReceiver> {
  const socket = dgram.createSocket('udp4');
  const messages: Buffer[] = [];
  socket.on('message', (msg) => messages.push(Buffer.from(msg)));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  return {
    port: socket.address().port,
    messages,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/**
 * Incremental RFC 6587 octet-counting parser (`MSG-LEN SP SYSLOG-MSG`). Calls `onFrame` per
 * complete message and `onError` on a malformed length (after which the stream is unusable).
 */
export function createOctetCountingParser(onFrame: (msg: Buffer) => void, onError: (reason: string) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  let broken = false;
  return (chunk) => {
    if (broken) return;
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const sp = buf.indexOf(0x20);
      if (sp === -1) {
        if (buf.length > 10) {
          broken = true;
          onError('length prefix too long');
        }
        return;
      }
      const lenText = buf.subarray(0, sp).toString('ascii');
      // MSG-LEN = NONZERO-DIGIT *DIGIT (RFC 6587 §3.4.1)
      if (!/^[1-9][0-9]{0,8}$/.test(lenText)) {
        broken = true;
        onError(`bad length prefix ${JSON.stringify(lenText.slice(0, 16))}`);
        return;
      }
      const len = Number(lenText);
      if (buf.length < sp + 1 + len) return;
      onFrame(Buffer.from(buf.subarray(sp + 1, sp + 1 + len)));
      buf = buf.subarray(sp + 1 + len);
    }
  };
}

/** A TCP syslog receiver on 127.0.0.1:0 parsing octet-counted frames. */
export interface TcpSyslogReceiver {
  readonly port: number;
  readonly messages: Buffer[];
  readonly framingErrors: string[];
  /** Connections accepted so far (reconnects show up here). */
  connections(): number;
  /** Destroys every open connection (the receiver keeps listening). */
  dropConnections(): void;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpSyslogReceiver(): Promise<TcpSyslogReceiver> {
  const messages: Buffer[] = [];
  const framingErrors: string[] = [];
  const open = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    const feed = createOctetCountingParser(
      (m) => messages.push(m),
      (reason) => {
        framingErrors.push(reason);
        socket.destroy();
      },
    );
    socket.on('data', feed);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    messages,
    framingErrors,
    connections: () => accepted,
    dropConnections() {
      for (const s of open) s.destroy();
    },
    down: () => (server.listening ? stop() : Promise.resolve()),
    up: () => (server.listening ? Promise.resolve() : listen(port)),
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
}
