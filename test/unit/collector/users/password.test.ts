import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT, hashPassword, passwordProblems, scryptParamsValid, verifyPassword } from '../../../../collector/users/password.js';

const FAST = { N: 2 ** 10, r: 8, p: 1 };

describe('password hashing (scrypt)', () => {
  it('stores the default memory-hard parameters with the hash and verifies with them', async () => {
    const stored = await hashPassword('correct horse battery', DEFAULT_SCRYPT);
    expect(stored).toMatch(/^scrypt\$N=131072,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
  });

  it('uses a fresh salt for every hash of the same password', async () => {
    const [a, b] = await Promise.all([hashPassword('same password!', FAST), hashPassword('same password!', FAST)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same password!', a)).toBe(true);
    expect(await verifyPassword('same password!', b)).toBe(true);
  });

  it('verifies a hash made with other parameters (they are read from the stored value)', async () => {
    const stored = await hashPassword('another password', { N: 2 ** 11, r: 4, p: 2 });
    expect(stored).toContain('$N=2048,r=4,p=2$');
    expect(await verifyPassword('another password', stored)).toBe(true);
  });

  it('treats NFC and NFD spellings of a password as the same password', async () => {
    const stored = await hashPassword('caf\u00e9-password', FAST);
    expect(await verifyPassword('cafe\u0301-password', stored)).toBe(true);
  });

  it('answers false, without throwing, for malformed or out-of-bounds stored values', async () => {
    const good = await hashPassword('some password', FAST);
    const bad = [
      '',
      'plain',
      good.replace('scrypt$', 'bcrypt$'),
      good.replace('N=1024', 'N=1000'),
      good.replace('N=1024', 'N=1073741824'),
      good.replace('r=8', 'r=99'),
      good.slice(0, -5),
    ];
    for (const stored of bad) expect(await verifyPassword('some password', stored)).toBe(false);
  });

  it('bounds the parameters it accepts', () => {
    expect(scryptParamsValid(DEFAULT_SCRYPT)).toBe(true);
    expect(scryptParamsValid({ N: 2 ** 21, r: 8, p: 1 })).toBe(false);
    expect(scryptParamsValid({ N: 512, r: 8, p: 1 })).toBe(false);
    expect(scryptParamsValid({ N: 3000, r: 8, p: 1 })).toBe(false);
    expect(scryptParamsValid({ N: 2 ** 20, r: 32, p: 1 })).toBe(false);
  });

  it('requires at least 10 characters (code points, so CJK counts per character)', () => {
    expect(passwordProblems('123456789')).toHaveLength(1);
    expect(passwordProblems('1234567890')).toEqual([]);
    expect(passwordProblems('密码密码密码密码密码')).toEqual([]);
    expect(passwordProblems('x'.repeat(1025))).toHaveLength(1);
  });
});
