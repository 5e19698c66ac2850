import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

/** One message the SMTP receiver accepted. */
export interface ReceivedMail {
  from: string | null;
  to: string[];
  raw: Buffer;
  parsed: ParsedMail;
}

export interface SmtpReceiver {
  readonly port: number;
  readonly mails: ReceivedMail[];
  /** Answer DATA of the next `n` messages with `code` (default 451, a temporary failure). */
  rejectNext(n: number, code?: number): void;
  /** Messages refused so far. */
  rejected(): number;
  close(): Promise<void>;
}

export interface SmtpReceiverOptions {
  /** Advertise STARTTLS (default false: a plain-text relay, so requireTLS clients must refuse it). */
  offerStartTls?: boolean;
  /** When set, AUTH is required and only these credentials pass. */
  auth?: { user: string; password: string };
}

/** smtp-server on 127.0.0.1:0 that parses each accepted message with mailparser. */
export async function startSmtpReceiver(opts: SmtpReceiverOptions = {}): Promise<SmtpReceiver> {
  const mails: ReceivedMail[] = [];
  let rejectCount = 0;
  let rejectCode = 451;
  let rejectedTotal = 0;
  const serverOpts: SMTPServerOptions = {
    logger: false,
    disabledCommands: opts.offerStartTls ? [] : ['STARTTLS'],
    authOptional: opts.auth === undefined,
    allowInsecureAuth: true,
    size: 1024 * 1024,
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.password) return cb(null, { user: auth.username });
      cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (rejectCount > 0) {
          rejectCount--;
          rejectedTotal++;
          return cb(Object.assign(new Error('Try again later'), { responseCode: rejectCode }));
        }
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : null;
            mails.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw, parsed });
            cb();
          },
          (err: Error) => cb(err),
        );
      });
    },
  };
  const server = new SMTPServer(serverOpts);
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    mails,
    rejectNext(n, code = 451) {
      rejectCount = n;
      rejectCode = code;
    },
    rejected: () => rejectedTotal,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
