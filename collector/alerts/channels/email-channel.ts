import nodemailer from 'nodemailer';
import { AppError, formatError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logger.js';
import type { Alert, Channel, DeliveryContext } from './types.js';
import { EmailOptionsSchema, validateOptions, type EmailOptions } from './config.js';
import { permanentError, retryableError } from './delivery-errors.js';
import { emailHtml, emailSubject, emailText } from './email-format.js';
import { printUsAscii } from './text.js';

interface SmtpError {
  code?: string;
  responseCode?: number;
  message?: string;
}

/**
 * SMTP 5xx replies, bad credentials and TLS failures (no STARTTLS while requireTLS, bad certificate)
 * are final: they need a human, and retrying cannot fix them. 4xx replies, refused or dropped
 * connections and timeouts are retried (a restarting relay answers 421 or refuses connections).
 */
export function classifySmtpError(err: unknown): 'retry' | 'permanent' {
  const e = (err ?? {}) as SmtpError;
  if (typeof e.responseCode === 'number') return e.responseCode >= 500 ? 'permanent' : 'retry';
  if (e.code === 'EAUTH' || e.code === 'ETLS' || e.code === 'EENVELOPE' || e.code === 'EMESSAGE') return 'permanent';
  return 'retry';
}

export interface EmailChannelDeps {
  log?: Logger;
}

/**
 * Alert e-mail through an SMTP relay (nodemailer): plain text plus a minimal HTML part.
 * Throws ALERT_ERR_CHANNEL_CONFIG on invalid options. The password is never logged.
 */
export function createEmailChannel(options: EmailOptions, deps: EmailChannelDeps = {}): Channel {
  const opts = validateOptions(EmailOptionsSchema, options, 'email');
  if ((opts.user === undefined) !== (opts.password === undefined)) {
    throw new AppError('ALERT_ERR_CHANNEL_CONFIG', formatError('ALERT_ERR_CHANNEL_CONFIG', `email ${opts.name}: user and password go together`));
  }
  const name = opts.name;
  const port = opts.port ?? 587;
  const transporter = nodemailer.createTransport({
    host: opts.host,
    port,
    secure: opts.secure ?? port === 465,
    // SECURITY: alert text and credentials must not cross the network in clear unless configured so.
    requireTLS: opts.requireTLS ?? true,
    ...(opts.user !== undefined && opts.password !== undefined ? { auth: { user: opts.user, pass: opts.password } } : {}),
    tls: {
      rejectUnauthorized: opts.rejectUnauthorized ?? true,
      ...(opts.ca === undefined ? {} : { ca: opts.ca }),
    },
    connectionTimeout: opts.connectionTimeoutMs ?? 10_000,
    greetingTimeout: opts.connectionTimeoutMs ?? 10_000,
    socketTimeout: opts.socketTimeoutMs ?? 30_000,
    logger: false,
    debug: false,
  });
  const prefix = opts.subjectPrefix ?? '[seatguard]';
  const target = `smtp://${opts.host}:${port}`;
  const log = deps.log?.child({ component: 'alert-email', channel: name });

  return {
    name,
    kind: 'email',
    ...(opts.minSeverity === undefined ? {} : { minSeverity: opts.minSeverity }),
    async send(alert: Alert, ctx?: DeliveryContext): Promise<void> {
      try {
        const info = await transporter.sendMail({
          from: opts.from,
          to: opts.to,
          subject: emailSubject(alert, prefix),
          text: emailText(alert),
          html: emailHtml(alert),
          headers: {
            'X-Seatguard-Alert-Id': printUsAscii(alert.id, 128),
            ...(ctx ? { 'X-Seatguard-Delivery': printUsAscii(ctx.delivery_id, 128) } : {}),
          },
          // SECURITY: message parts never pull content from local files or URLs.
          disableFileAccess: true,
          disableUrlAccess: true,
        });
        if (info.rejected.length > 0) log?.warn({ rejected: info.rejected.length, accepted: info.accepted.length }, 'some alert mail recipients were refused');
      } catch (err) {
        const e = (err ?? {}) as SmtpError;
        const reason = `${target} ${e.responseCode ?? e.code ?? 'send failed'}`;
        throw classifySmtpError(err) === 'permanent' ? permanentError(name, reason, err) : retryableError(name, reason, err);
      }
    },
    close(): Promise<void> {
      transporter.close();
      return Promise.resolve();
    },
  };
}
