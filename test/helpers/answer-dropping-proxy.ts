import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1:0 in front of an HTTP server that can lose an answer: with `dropNext`
 * armed, the first bytes the upstream sends on the next connection are withheld, `onAnswer` runs
 * (a test kills the collector there), and both sides are cut. The request itself went through, so
 * the server has done its work: exactly a crash or a dropped connection between commit and answer.
 */
export interface AnswerDroppingProxy {
  readonly url: string;
  /** Where connections go from now on (a restarted collector listens elsewhere). */
  setUpstream(port: number): void;
  /** Withholds the next answer; `onAnswer` runs when it arrives, before the sockets are cut. */
  dropNext(onAnswer?: () => void | Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export async function startAnswerDroppingProxy(upstreamPort: number): Promise<AnswerDroppingProxy> {
  let upstream = upstreamPort;
  let armed: { onAnswer: () => void | Promise<void>; resolve: () => void; reject: (e: unknown) => void } | null = null;
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const server: Server = createServer((client) => {
    track(client);
    const up = connect(upstream, '127.0.0.1');
    track(up);
    const drop = armed;
    armed = null;
    client.pipe(up);
    if (!drop) {
      up.pipe(client);
      up.on('close', () => client.destroy());
      client.on('close', () => up.destroy());
      return;
    }
    up.once('data', () => {
      up.pause();
      Promise.resolve()
        .then(drop.onAnswer)
        .then(drop.resolve, drop.reject)
        .finally(() => {
          client.destroy();
          up.destroy();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    setUpstream: (p) => void (upstream = p),
    dropNext(onAnswer = () => undefined) {
      return new Promise<void>((resolve, reject) => {
        armed = { onAnswer, resolve, reject };
      });
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
