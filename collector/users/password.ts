import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * scrypt parameters. Memory is 128·N·r bytes: the default (N=2^17, r=8, p=1) uses 128 MiB and
 * about 0.6 s of one core on the reference machine; that is the OWASP minimum for scrypt. Tests
 * may pass smaller values; the parameters are stored with each hash, so both keep verifying.
 */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });
export const MIN_PASSWORD_LENGTH = 10;
/** Longer inputs are refused before hashing (scrypt's cost does not depend on it, but parsing does). */
export const MAX_PASSWORD_BYTES = 1024;

const KEY_LEN = 32;
const SALT_LEN = 16;
const HASH_RE = /^scrypt\$N=(\d{1,8}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{22}(?:==)?)\$([A-Za-z0-9+/]{43}=?)$/;

/** Bounds applied to stored parameters too, so an edited row cannot make a login burn 16 GiB. */
export function scryptParamsValid(p: ScryptParams): boolean {
  const pow2 = Number.isInteger(p.N) && p.N >= 2 ** 10 && p.N <= 2 ** 20 && (p.N & (p.N - 1)) === 0;
  return pow2 && Number.isInteger(p.r) && p.r >= 1 && p.r <= 32 && Number.isInteger(p.p) && p.p >= 1 && p.p <= 4 && 128 * p.N * p.r <= 512 * 1024 * 1024;
}

function derive(password: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  // NFC: the same password typed through different input methods (CJK IMEs) hashes alike.
  const input = Buffer.from(password.normalize('NFC'), 'utf8');
  return new Promise((resolve, reject) => {
    scrypt(input, salt, KEY_LEN, { N: p.N, r: p.r, p: p.p, maxmem: 128 * p.N * p.r * 2 + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** `scrypt$N=…,r=…,p=…$<salt b64>$<key b64>` with a fresh 16-byte salt. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  if (!scryptParamsValid(params)) throw new RangeError('scrypt parameters out of bounds');
  const salt = randomBytes(SALT_LEN);
  const key = await derive(password, salt, params);
  return `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when `password` matches `stored`; false for any malformed or out-of-bounds stored value. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = HASH_RE.exec(stored);
  if (!m) return false;
  const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (!scryptParamsValid(params)) return false;
  const salt = Buffer.from(m[4]!, 'base64');
  const expected = Buffer.from(m[5]!, 'base64');
  if (salt.length !== SALT_LEN || expected.length !== KEY_LEN) return false;
  const key = await derive(password, salt, params);
  return timingSafeEqual(key, expected);
}

/** Problems with a new password (empty when acceptable). */
export function passwordProblems(password: string): string[] {
  const problems: string[] = [];
  if ([...password.normalize('NFC')].length < MIN_PASSWORD_LENGTH) problems.push(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) problems.push(`password must be at most ${MAX_PASSWORD_BYTES} bytes`);
  return problems;
}
