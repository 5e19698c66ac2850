import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { caFingerprintOfPem, normalizeCaFingerprint } from '../../../../shared/ca-fingerprint.js';
import {
  CA_CERT_FILE,
  CA_KEY_FILE,
  ensureGeneratedTls,
  loadConfiguredTls,
  pemCertificates,
  SERVER_CERT_FILE,
  SERVER_KEY_FILE,
  TLS_DIR,
} from '../../../../collector/tls/tls-material.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'sg-tls-'));
  dirs.push(d);
  return d;
}
const mode = (p: string) => statSync(p).mode & 0o777;
const leafOf = (pem: string) => new X509Certificate(pemCertificates(pem)[0] ?? '');

describe('generated collector TLS material (DATA/tls)', () => {
  it('creates a P-256 CA and a server certificate once and reuses both on the next start', async () => {
    const data = tmp();
    const first = await ensureGeneratedTls({ dataDir: data });
    const second = await ensureGeneratedTls({ dataDir: data });
    expect(first.caFingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(second.caFingerprint).toBe(first.caFingerprint);
    expect(second.certPem).toBe(first.certPem);
    expect(second.keyPem).toBe(first.keyPem);
    const ca = new X509Certificate(first.caPem);
    expect(ca.ca).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(first.caFingerprint).toBe(caFingerprintOfPem(readFileSync(join(data, TLS_DIR, CA_CERT_FILE), 'utf8')));
    // ~10 years for the CA, ~2 years for the server certificate.
    const years = (c: X509Certificate) => (new Date(c.validTo).getTime() - Date.now()) / (365.25 * 86_400_000);
    expect(years(ca)).toBeGreaterThan(9.9);
    expect(years(leafOf(first.certPem))).toBeGreaterThan(1.9);
    expect(years(leafOf(first.certPem))).toBeLessThan(2.1);
  });

  it('keeps the keys 0600 and the directory 0700', async () => {
    const data = tmp();
    await ensureGeneratedTls({ dataDir: data });
    expect(mode(join(data, TLS_DIR))).toBe(0o700);
    expect(mode(join(data, TLS_DIR, CA_KEY_FILE))).toBe(0o600);
    expect(mode(join(data, TLS_DIR, SERVER_KEY_FILE))).toBe(0o600);
  });

  it('serves leaf + CA, the leaf signed by the CA and covering loopback, the host name and the extra names', async () => {
    const data = tmp();
    const m = await ensureGeneratedTls({ dataDir: data, names: ['10.0.2.2', 'collector.example'] });
    const chain = pemCertificates(m.certPem);
    expect(chain).toHaveLength(2);
    const ca = new X509Certificate(m.caPem);
    const leaf = new X509Certificate(chain[0] ?? '');
    expect(new X509Certificate(chain[1] ?? '').raw.equals(ca.raw)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.ca).toBe(false);
    for (const ip of ['127.0.0.1', '::1', '10.0.2.2']) expect(leaf.checkIP(ip)).toBe(ip);
    for (const dns of ['localhost', hostname().toLowerCase(), 'collector.example']) expect(leaf.checkHost(dns)).toBeDefined();
    expect(leaf.checkHost('other.example')).toBeUndefined();
    expect(leaf.checkPrivateKey(createPrivateKey(m.keyPem))).toBe(true);
  });

  it('re-issues the server certificate under the same CA when a requested name is missing', async () => {
    const data = tmp();
    const first = await ensureGeneratedTls({ dataDir: data });
    expect(leafOf(first.certPem).checkHost('new-name.example')).toBeUndefined();
    const second = await ensureGeneratedTls({ dataDir: data, names: ['new-name.example'] });
    expect(second.caFingerprint).toBe(first.caFingerprint);
    expect(second.certPem).not.toBe(first.certPem);
    expect(leafOf(second.certPem).checkHost('new-name.example')).toBe('new-name.example');
    expect(readFileSync(join(data, TLS_DIR, SERVER_CERT_FILE), 'utf8')).toBe(second.certPem);
  });

  it('re-issues the server certificate when it expires within 30 days, keeping the CA', async () => {
    const data = tmp();
    const first = await ensureGeneratedTls({ dataDir: data });
    const end = new Date(leafOf(first.certPem).validTo).getTime();
    const later = await ensureGeneratedTls({ dataDir: data, now: new Date(end - 10 * 86_400_000) });
    expect(later.caFingerprint).toBe(first.caFingerprint);
    expect(new Date(leafOf(later.certPem).validTo).getTime()).toBeGreaterThan(end);
    const stillGood = await ensureGeneratedTls({ dataDir: data, now: new Date(end - 60 * 86_400_000) });
    expect(stillGood.certPem).toBe(later.certPem);
  });

  it('refuses to replace a CA whose key is missing (agents pinned it)', async () => {
    const data = tmp();
    await ensureGeneratedTls({ dataDir: data });
    unlinkSync(join(data, TLS_DIR, CA_KEY_FILE));
    await expect(ensureGeneratedTls({ dataDir: data })).rejects.toMatchObject({ code: 'TLS_ERR_MATERIAL' });
  });
});

describe('configured certificate (--tls-cert/--tls-key/--tls-ca)', () => {
  it('pins the top of the given chain when no CA file is given, and the CA file when it is', async () => {
    const src = tmp();
    const gen = await ensureGeneratedTls({ dataDir: src });
    const dir = join(src, TLS_DIR);
    const m = loadConfiguredTls({ certFile: join(dir, SERVER_CERT_FILE), keyFile: join(dir, SERVER_KEY_FILE) });
    expect(m.caFingerprint).toBe(gen.caFingerprint);
    expect(m.source).toBe('configured');
    const withCa = loadConfiguredTls({ certFile: join(dir, SERVER_CERT_FILE), keyFile: join(dir, SERVER_KEY_FILE), caFile: join(dir, CA_CERT_FILE) });
    expect(withCa.caFingerprint).toBe(gen.caFingerprint);
  });

  it('refuses a key that does not belong to the certificate, and a CA that did not issue it', async () => {
    const a = join(tmp(), 'a');
    const b = join(tmp(), 'b');
    await ensureGeneratedTls({ dataDir: a });
    await ensureGeneratedTls({ dataDir: b });
    expect(() => loadConfiguredTls({ certFile: join(a, TLS_DIR, SERVER_CERT_FILE), keyFile: join(b, TLS_DIR, SERVER_KEY_FILE) })).toThrow(
      expect.objectContaining({ code: 'TLS_ERR_MATERIAL' }),
    );
    expect(() =>
      loadConfiguredTls({ certFile: join(a, TLS_DIR, SERVER_CERT_FILE), keyFile: join(a, TLS_DIR, SERVER_KEY_FILE), caFile: join(b, TLS_DIR, CA_CERT_FILE) }),
    ).toThrow(expect.objectContaining({ code: 'TLS_ERR_MATERIAL' }));
  });
});

describe('CA fingerprint spelling', () => {
  const hex = 'ab'.repeat(32);
  it('normalises sha256:hex, bare hex and the colon-separated upper-case form to sha256:<lowercase hex>', () => {
    expect(normalizeCaFingerprint(`sha256:${hex}`)).toBe(`sha256:${hex}`);
    expect(normalizeCaFingerprint(`SHA256:${hex.toUpperCase()}`)).toBe(`sha256:${hex}`);
    expect(normalizeCaFingerprint(Array(32).fill('AB').join(':'))).toBe(`sha256:${hex}`);
    expect(normalizeCaFingerprint(`sha256 Fingerprint=${Array(32).fill('AB').join(':')}`)).toBe(`sha256:${hex}`);
  });
  it('rejects anything that is not 32 bytes of hex', () => {
    for (const bad of ['', 'sha256:', `sha256:${hex.slice(2)}`, `sha1:${hex}`, `${hex}zz`, Array(31).fill('AB').join(':')]) {
      expect(normalizeCaFingerprint(bad)).toBeNull();
    }
  });
});
