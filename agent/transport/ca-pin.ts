import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect, type DetailedPeerCertificate } from 'node:tls';
import { join } from 'node:path';
import { AGENT_CA_PATH, caFingerprintOfDer, caFingerprintOfPem } from '../../shared/ca-fingerprint.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { httpRequestText } from './http-json.js';

/**
 * CA pinning: on the first start the operator gives the agent the collector CA's fingerprint; the
 * agent fetches the (public) CA certificate without trusting the channel, keeps it only if the
 * fingerprint matches, stores it in the state dir and from then on trusts nothing else. A collector
 * whose CA changed is refused until an operator re-enrolls the seat: the agent never re-pins itself.
 */

/** The pinned collector CA inside the state dir (0600). */
export const PINNED_CA_FILE = 'collector-ca.pem';

export interface PinnedCa {
  pem: string;
  fingerprint: string;
}

const pinError = (offered: string, pinned: string, hint: string) =>
  new AppError('AGENT_ERR_CA_PIN', `${formatError('AGENT_ERR_CA_PIN', offered, pinned)}; ${hint}`, { details: { offered, pinned } });

/** The CA pinned in `stateDir`, or null when none is. Throws AGENT_ERR_IDENTITY when it is not a certificate. */
export function readPinnedCa(stateDir: string): PinnedCa | null {
  const path = join(stateDir, PINNED_CA_FILE);
  if (!existsSync(path)) return null;
  try {
    const pem = readFileSync(path, 'utf8');
    return { pem, fingerprint: caFingerprintOfPem(pem) };
  } catch (cause) {
    throw new AppError('AGENT_ERR_IDENTITY', formatError('AGENT_ERR_IDENTITY', stateDir, `${PINNED_CA_FILE} is not a PEM certificate`), { cause });
  }
}

/** Stores the verified CA (write-then-rename, 0600). */
export function savePinnedCa(stateDir: string, pem: string): void {
  const path = join(stateDir, PINNED_CA_FILE);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, pem, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * Fetches GET /agent/ca.pem without certificate verification (it sends nothing but the request
 * line) and returns it only when its fingerprint equals `pin`. AGENT_ERR_CA_PIN on a mismatch
 * (retrying cannot help); other errors are network failures worth retrying.
 */
export async function fetchPinnedCa(collectorUrl: string, pin: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<PinnedCa> {
  const res = await httpRequestText(`${collectorUrl}${AGENT_CA_PATH}`, {
    insecureNoVerify: true,
    maxBytes: 32 * 1024,
    timeoutMs: opts.timeoutMs ?? 15_000,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (res.status !== 200) throw new Error(`CA download answered HTTP ${res.status}`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(res.text);
  } catch (cause) {
    throw new Error('CA download is not a PEM certificate', { cause });
  }
  const offered = caFingerprintOfDer(cert.raw);
  if (offered !== pin) throw pinError(offered, pin, 'check --ca-fingerprint against the one the collector prints; nothing was sent');
  return { pem: cert.toString(), fingerprint: offered };
}

/** The fingerprint of the top certificate of the chain the server at `url` presents (no trust implied). */
export function presentedCaFingerprint(url: string, timeoutMs = 5_000): Promise<string | null> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    const socket = tlsConnect({ host, port: Number(u.port || 443), rejectUnauthorized: false, ...(/^[\d.:]+$/.test(host) ? {} : { servername: host }) });
    const done = (v: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.once('secureConnect', () => {
      let cert: DetailedPeerCertificate = socket.getPeerCertificate(true);
      // Walk up to the last certificate the server sent (self-issued ones point at themselves).
      for (let i = 0; i < 10; i++) {
        const up = cert.issuerCertificate as DetailedPeerCertificate | undefined;
        if (!up?.raw || up === cert) break;
        cert = up;
      }
      done(cert.raw ? caFingerprintOfDer(cert.raw) : null);
    });
    socket.once('error', () => done(null));
  });
}

/**
 * The CA to trust for an https collector: the one pinned in the state dir, or (first start) the
 * one fetched and checked against `pin`, which is then stored. A `pin` that disagrees with the
 * stored CA is refused: re-pinning needs an operator to remove the stored file (re-enrollment).
 */
export async function establishCollectorCa(opts: {
  collectorUrl: string;
  stateDir: string | null;
  pin: string | null;
  /** The fingerprint agent.json recorded at enrollment, if any: the stored file must match it. */
  recorded?: string | null;
  log: Logger;
  signal?: AbortSignal;
}): Promise<PinnedCa> {
  const stored = opts.stateDir ? readPinnedCa(opts.stateDir) : null;
  const recorded = opts.recorded ?? null;
  if (stored && recorded && stored.fingerprint !== recorded) {
    throw pinError(stored.fingerprint, recorded, `${PINNED_CA_FILE} in the state dir is not the CA recorded at enrollment; restore it or re-enroll`);
  }
  if (!stored && recorded && opts.pin && opts.pin !== recorded) {
    throw pinError(opts.pin, recorded, 'this agent enrolled pinning another CA; re-enroll to change it');
  }
  if (stored) {
    if (opts.pin && opts.pin !== stored.fingerprint) {
      throw pinError(stored.fingerprint, opts.pin, `the state dir already pins ${stored.fingerprint}; remove ${PINNED_CA_FILE} and re-enroll to change it`);
    }
    return stored;
  }
  if (!opts.pin) {
    throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', 'an https collector needs --ca-fingerprint on the first start (no pinned CA in the state dir)'));
  }
  const fetched = await fetchPinnedCa(opts.collectorUrl, opts.pin, opts.signal ? { signal: opts.signal } : {});
  if (opts.stateDir) savePinnedCa(opts.stateDir, fetched.pem);
  opts.log.info({ ca_fingerprint: fetched.fingerprint }, 'pinned the collector CA');
  return fetched;
}
