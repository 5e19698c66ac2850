import dgram from 'node:dgram';
import net from 'node:net';

/** Moves one formatted syslog message to the receiver; rejects on any transport failure. */
export interface SyslogTransport {
  send(message: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** RFC 6587 §3.4.1 octet-counting frame: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN in bytes. */
export function octetCountingFrame(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

/**
 * One datagram per message (RFC 5426). UDP gives no delivery feedback: a resolved send means the
 * datagram left this host, not that a receiver got it.
 */
export function createUdpTransport(host: string, port: number): SyslogTransport {
  let socket: dgram.Socket | null = null;
  const open = (): dgram.Socket => {
    if (socket) return socket;
    const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    // Errors are reported per send through the callback; this only keeps a stray one from crashing.
    s.on('error', () => {
      s.close();
      if (socket === s) socket = null;
    });
    s.unref();
    socket = s;
    return s;
  };
  return {
    send(message) {
      return new Promise<void>((resolve, reject) => {
        open().send(message, port, host, (err) => (err ? reject(err) : resolve()));
      });
    },
    close() {
      const s = socket;
      socket = null;
      if (!s) return Promise.resolve();
      return new Promise<void>((resolve) => {
        try {
          s.close(() => resolve());
        } catch {
          resolve();
        }
      });
    },
  };
}

export interface TcpTransportOptions {
  host: string;
  port: number;
  connectTimeoutMs: number;
  writeTimeoutMs: number;
}

/**
 * Octet-counted messages over one TCP connection, opened on first use and reopened on the next
 * send after any error or close. A failed or timed-out write destroys the connection, so a
 * half-written frame can never desynchronise the receiver's framing.
 */
export function createTcpTransport(opts: TcpTransportOptions): SyslogTransport {
  let socket: net.Socket | null = null;
  let connecting: Promise<net.Socket> | null = null;
  let closed = false;

  const connect = (): Promise<net.Socket> => {
    if (socket && !socket.destroyed && socket.writable) return Promise.resolve(socket);
    if (connecting) return connecting;
    connecting = new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: opts.host, port: opts.port });
      const timer = setTimeout(() => s.destroy(new Error(`connect timed out after ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);
      s.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      s.on('close', () => {
        clearTimeout(timer);
        if (socket === s) socket = null;
        reject(new Error('connection closed'));
      });
      // A receiver that half-closes will not read further frames: treat it as gone.
      s.on('end', () => s.destroy());
      // Syslog receivers do not talk back; discard anything they send.
      s.on('data', () => undefined);
      s.once('connect', () => {
        clearTimeout(timer);
        s.setNoDelay(true);
        s.setKeepAlive(true, 30_000);
        if (closed) {
          s.destroy();
          reject(new Error('transport closed'));
          return;
        }
        socket = s;
        resolve(s);
      });
    }).finally(() => {
      connecting = null;
    });
    return connecting;
  };

  return {
    async send(message) {
      if (closed) throw new Error('transport closed');
      const s = await connect();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          s.destroy();
          reject(new Error(`write timed out after ${opts.writeTimeoutMs} ms`));
        }, opts.writeTimeoutMs);
        s.write(octetCountingFrame(message), (err) => {
          clearTimeout(timer);
          if (err) {
            s.destroy();
            reject(err);
          } else {
            resolve();
          }
        });
      });
    },
    close() {
      closed = true;
      const s = socket;
      socket = null;
      if (!s || s.destroyed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => s.destroy(), 1_000);
        s.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        s.end();
      });
    },
  };
}
