import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { caFingerprintOfPem } from '../../shared/ca-fingerprint.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { sanEntry, serverNames } from './server-names.js';
import { createCa, issueServerCert, type IssuedPair, type SanEntry } from './x509-issuer.js';

/** Sub-directory of the collector data dir with the generated CA and server certificate (0700). */
export const TLS_DIR = 'tls';
export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca.key';
export const SERVER_CERT_FILE = 'server.pem';
export const SERVER_KEY_FILE = 'server.key';

export const CA_VALID_DAYS = 3_650;
export const SERVER_VALID_DAYS = 730;
/** A server certificate closer than this to its end is re-issued at start. */
export const RENEW_BEFORE_MS = 30 * 86_400_000;

/** Optional configured certificate instead of the generated one. */
export interface TlsOptions {
  /** PEM chain served to clients (leaf first). With keyFile. */
  certFile?: string;
  keyFile?: string;
  /** PEM of the CA agents pin; default the top certificate of certFile's chain. */
  caFile?: string;
  /** Extra names (DNS or IP) for the generated server certificate. */
  names?: string[];
}

/** What the HTTPS server and the agents need. */
export interface TlsMaterial {
  /** Server chain, leaf first. */
  certPem: string;
  keyPem: string;
  /** The CA agents pin, served at GET /agent/ca.pem. */
  caPem: string;
  caFingerprint: string;
  /** Where caPem lives on disk (shown to operators). */
  caFile: string;
  /** 'generated' = DATA/tls, 'configured' = --tls-cert/--tls-key. */
  source: 'generated' | 'configured';
  /** Leaf certificate end of validity. */
  notAfter: Date;
}

const unusable = (what: string, why: string, cause?: unknown) =>
  new AppError('TLS_ERR_MATERIAL', formatError('TLS_ERR_MATERIAL', what, why), cause === undefined ? undefined : { cause });

/** Every PEM certificate block in `text`, in order. */
export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((b) => `${b}\n`) ?? [];
}

function writeAtomic(path: string, content: string, mode: number): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw unusable(what, `cannot read ${path}`, cause);
  }
}

function parseCert(pem: string | undefined, what: string): X509Certificate {
  try {
    if (!pem) throw new Error('no PEM certificate');
    return new X509Certificate(pem);
  } catch (cause) {
    throw unusable(what, 'not a PEM certificate', cause);
  }
}

/** Why a generated server certificate must be re-issued, or null when it is still good. */
function reissueReason(pair: IssuedPair | null, ca: X509Certificate, names: SanEntry[], now: Date): string | null {
  if (!pair) return 'missing';
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(pair.certPem);
    if (!leaf.checkPrivateKey(createPrivateKey(pair.keyPem))) return 'key does not match';
  } catch {
    return 'unreadable';
  }
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return 'not issued by the current CA';
  if (new Date(leaf.validTo).getTime() - now.getTime() < RENEW_BEFORE_MS) return 'expires within 30 days';
  const missing = names.find((n) => (n.type === 'ip' ? leaf.checkIP(n.value) === undefined : leaf.checkHost(n.value) === undefined));
  return missing ? `does not cover ${missing.value}` : null;
}

function readPair(certPath: string, keyPath: string): IssuedPair | null {
  if (!existsSync(certPath) || !existsSync(keyPath)) return null;
  return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
}

/**
 * Loads DATA/tls, creating the CA on first use and (re-)issuing the server certificate when it is
 * missing, near its end, signed by another CA or missing a requested name. A CA is never replaced
 * silently: agents pinned it, so a half-present CA (certificate without key or the reverse) is an
 * error for the operator to resolve.
 */
export async function ensureGeneratedTls(opts: { dataDir: string; names?: readonly string[]; now?: Date; log?: Logger }): Promise<TlsMaterial> {
  const now = opts.now ?? new Date();
  const dir = join(opts.dataDir, TLS_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const caCertPath = join(dir, CA_CERT_FILE);
  const caKeyPath = join(dir, CA_KEY_FILE);
  const haveCert = existsSync(caCertPath);
  const haveKey = existsSync(caKeyPath);
  let ca: IssuedPair;
  if (!haveCert && !haveKey) {
    ca = await createCa({ commonName: 'seatguard collector CA', now, validDays: CA_VALID_DAYS });
    writeAtomic(caKeyPath, ca.keyPem, 0o600);
    writeAtomic(caCertPath, ca.certPem, 0o644);
    opts.log?.info({ ca_file: caCertPath, ca_fingerprint: caFingerprintOfPem(ca.certPem) }, 'created the collector CA');
  } else if (haveCert !== haveKey) {
    throw unusable(dir, `${haveCert ? CA_KEY_FILE : CA_CERT_FILE} is missing; restore it (agents pinned this CA), or remove ${dir} and re-enroll every agent`);
  } else {
    ca = { certPem: readText(caCertPath, dir), keyPem: readText(caKeyPath, dir) };
  }
  const caCert = parseCert(ca.certPem, caCertPath);
  try {
    if (!caCert.ca || !caCert.checkPrivateKey(createPrivateKey(ca.keyPem))) throw new Error('not a CA with this key');
  } catch (cause) {
    throw unusable(dir, `${CA_CERT_FILE} and ${CA_KEY_FILE} are not a CA and its key`, cause);
  }
  if (new Date(caCert.validTo).getTime() < now.getTime()) throw unusable(dir, `the CA expired on ${caCert.validTo}`);

  const names = serverNames(opts.names ?? []);
  const serverCertPath = join(dir, SERVER_CERT_FILE);
  const serverKeyPath = join(dir, SERVER_KEY_FILE);
  let server = readPair(serverCertPath, serverKeyPath);
  const why = reissueReason(server, caCert, names, now);
  if (why) {
    const leaf = await issueServerCert({ ca, names, now, validDays: SERVER_VALID_DAYS });
    server = { certPem: leaf.certPem + ca.certPem, keyPem: leaf.keyPem };
    writeAtomic(serverKeyPath, server.keyPem, 0o600);
    writeAtomic(serverCertPath, server.certPem, 0o644);
    opts.log?.info({ reason: why, names: names.map((n) => n.value) }, 'issued the collector server certificate');
  }
  if (!server) throw unusable(dir, 'no server certificate');
  return {
    certPem: server.certPem,
    keyPem: server.keyPem,
    caPem: ca.certPem,
    caFingerprint: caFingerprintOfPem(ca.certPem),
    caFile: caCertPath,
    source: 'generated',
    notAfter: new Date(new X509Certificate(server.certPem).validTo),
  };
}

/** Loads a configured certificate chain and key (and the CA to pin); checks they belong together. */
export function loadConfiguredTls(opts: { certFile: string; keyFile: string; caFile?: string; now?: Date; log?: Logger }): TlsMaterial {
  const now = opts.now ?? new Date();
  const chainText = readText(opts.certFile, '--tls-cert');
  const chain = pemCertificates(chainText);
  const leaf = parseCert(chain[0], opts.certFile);
  const keyPem = readText(opts.keyFile, '--tls-key');
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('mismatch');
  } catch (cause) {
    throw unusable(opts.keyFile, `not the private key of ${opts.certFile}`, cause);
  }
  const caText = opts.caFile ? readText(opts.caFile, '--tls-ca') : chain.at(-1);
  const caPem = caText ? pemCertificates(caText)[0] : undefined;
  const caCert = parseCert(caPem, opts.caFile ?? opts.certFile);
  // The chain served must lead to the pinned CA, or every agent would refuse it.
  const linked = chain.map((p) => new X509Certificate(p)).some((c) => c.raw.equals(caCert.raw) || (c.checkIssued(caCert) && c.verify(caCert.publicKey)));
  if (!linked) throw unusable(opts.caFile ?? opts.certFile, `the CA did not issue the certificate chain in ${opts.certFile}`);
  const end = new Date(leaf.validTo);
  if (end.getTime() - now.getTime() < RENEW_BEFORE_MS) opts.log?.warn({ not_after: leaf.validTo, cert_file: opts.certFile }, 'the configured TLS certificate expires within 30 days');
  const missingNames: string[] = [];
  for (const n of ['localhost', '127.0.0.1']) {
    const e = sanEntry(n);
    if (e && (e.type === 'ip' ? leaf.checkIP(e.value) : leaf.checkHost(e.value)) === undefined) missingNames.push(n);
  }
  if (missingNames.length > 0) opts.log?.info({ names: missingNames }, 'the configured TLS certificate does not cover these local names');
  return {
    certPem: chainText,
    keyPem,
    caPem: caPem ?? '',
    caFingerprint: caFingerprintOfPem(caPem ?? ''),
    caFile: opts.caFile ?? opts.certFile,
    source: 'configured',
    notAfter: end,
  };
}

/** The material for a collector: configured files when given, else DATA/tls. */
export async function resolveTlsMaterial(opts: { dataDir: string; tls?: TlsOptions; log?: Logger; now?: Date }): Promise<TlsMaterial> {
  const t = opts.tls ?? {};
  if (t.certFile !== undefined || t.keyFile !== undefined) {
    if (!t.certFile || !t.keyFile) throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', 'tls.certFile and tls.keyFile go together'));
    return loadConfiguredTls({ certFile: t.certFile, keyFile: t.keyFile, ...(t.caFile ? { caFile: t.caFile } : {}), ...(opts.log ? { log: opts.log } : {}), ...(opts.now ? { now: opts.now } : {}) });
  }
  if (t.caFile !== undefined) throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', 'tls.caFile needs tls.certFile and tls.keyFile'));
  return ensureGeneratedTls({ dataDir: opts.dataDir, names: t.names ?? [], ...(opts.log ? { log: opts.log } : {}), ...(opts.now ? { now: opts.now } : {}) });
}

/** Checks `tls.names` up front (CONFIG_ERR_INVALID names the bad entry). */
export function checkTlsNames(names: readonly string[]): void {
  if (names.length > 64) throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', 'tls.names has more than 64 entries'));
  const bad = names.find((n) => typeof n !== 'string' || sanEntry(n) === null);
  if (bad !== undefined) throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', `tls.names entry ${JSON.stringify(String(bad).slice(0, 80))} is not a DNS name or IP address`));
}
