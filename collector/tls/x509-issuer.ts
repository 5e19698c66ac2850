// reflect-metadata must load before @peculiar/x509: its DI container (tsyringe) needs the polyfill.
// Kept inside collector/tls so the agent never pulls either in.
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type WebCrypto = Parameters<typeof x509.cryptoProvider.set>[0];
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as WebCrypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Backdating absorbs small clock differences between the collector and its seats. */
const BACKDATE_MS = 60 * 60_000;

/** A PEM certificate with its PKCS#8 PEM private key. */
export interface IssuedPair {
  certPem: string;
  keyPem: string;
}

/** One subjectAltName entry of the server certificate. */
export interface SanEntry {
  type: 'dns' | 'ip';
  value: string;
}

// Positive 128-bit serial (high bit cleared: DER INTEGERs are signed).
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString('hex');
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, ''), 'base64');
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** A self-signed ECDSA P-256 CA that may sign end-entity certificates only (pathLen 0). */
export async function createCa(opts: { commonName: string; now: Date; validDays: number }): Promise<IssuedPair> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [opts.commonName] }, { O: ['seatguard'] }],
    notBefore: new Date(opts.now.getTime() - BACKDATE_MS),
    notAfter: new Date(opts.now.getTime() + opts.validDays * DAY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

/** A TLS server certificate for `names`, signed by the CA; its own fresh P-256 key. */
export async function issueServerCert(opts: { ca: IssuedPair; names: SanEntry[]; now: Date; validDays: number }): Promise<IssuedPair> {
  const caCert = new x509.X509Certificate(opts.ca.certPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', pemToDer(opts.ca.keyPem), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const keys = await newKeys();
  const first = opts.names.find((n) => n.type === 'dns')?.value ?? 'seatguard-collector';
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: [{ CN: [first] }, { O: ['seatguard'] }],
    issuer: caCert.subject,
    notBefore: new Date(opts.now.getTime() - BACKDATE_MS),
    notAfter: new Date(opts.now.getTime() + opts.validDays * DAY_MS),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(opts.names.map((n) => ({ type: n.type, value: n.value }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}
