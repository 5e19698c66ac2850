import { createHash, X509Certificate } from 'node:crypto';

/**
 * The CA pin agents carry: `sha256:<64 lowercase hex>` of the CA certificate's DER bytes. One
 * spelling everywhere (collector output, agent.json, logs) so an operator can compare by eye.
 */
export const CA_FINGERPRINT_RE = /^sha256:[0-9a-f]{64}$/;

/** The fingerprint of a DER certificate. */
export function caFingerprintOfDer(der: Buffer): string {
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/** The fingerprint of the first certificate in `pem`; throws when it holds no parsable certificate. */
export function caFingerprintOfPem(pem: string): string {
  return caFingerprintOfDer(new X509Certificate(pem).raw);
}

/**
 * Accepts `sha256:hex` (any case) and the colon-separated upper-case form Node and openssl print
 * (`AB:CD:…`, optionally prefixed `sha256:` / `SHA256 Fingerprint=`); returns the canonical form,
 * or null when the value is not a SHA-256 fingerprint.
 */
export function normalizeCaFingerprint(value: string): string | null {
  let v = value.trim();
  const prefix = /^(?:sha-?256(?:\s+fingerprint)?\s*[:=]\s*)/i.exec(v);
  if (prefix) v = v.slice(prefix[0].length);
  if (/^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31}$/.test(v)) v = v.replace(/:/g, '');
  if (!/^[0-9A-Fa-f]{64}$/.test(v)) return null;
  return `sha256:${v.toLowerCase()}`;
}

/** Public collector route serving the CA certificate agents pin (PEM). */
export const AGENT_CA_PATH = '/agent/ca.pem';
