import { describe, expect, it } from 'vitest';
import { sessionCookieValue } from '../../../../collector/http/auth.js';
import { ROLES } from '../../../../collector/auth/privileges.js';
import { checkDepartments, checkRoles, USERNAME_RE } from '../../../../collector/users/user-service.js';
import { parseDepartments, parseRoles } from '../../../../collector/users/user-view.js';

describe('user role rules', () => {
  it('refuses an auditor who also holds admin, approver or maintainer (separation of duties)', () => {
    for (const other of ['admin', 'approver', 'maintainer']) {
      expect(() => checkRoles(['auditor', other])).toThrowError(expect.objectContaining({ code: 'USER_ERR_ROLE_CONFLICT' }));
    }
  });

  it('allows an auditor with officer or duty, and every single role alone', () => {
    expect(checkRoles(['auditor', 'officer'])).toEqual(['auditor', 'officer']);
    expect(checkRoles(['auditor', 'duty'])).toEqual(['auditor', 'duty']);
    for (const r of ROLES) expect(checkRoles([r])).toEqual([r]);
  });

  it('refuses unknown roles and an empty role list, and drops duplicates', () => {
    expect(() => checkRoles(['root'])).toThrowError(expect.objectContaining({ code: 'USER_ERR_INVALID' }));
    expect(() => checkRoles([])).toThrowError(expect.objectContaining({ code: 'USER_ERR_INVALID' }));
    expect(checkRoles(['duty', 'duty'])).toEqual(['duty']);
  });

  it('accepts all departments or printable names, and refuses empty or hostile ones', () => {
    expect(checkDepartments('*')).toBe('*');
    expect(checkDepartments(['客服一部', 'Lyon'])).toEqual(['客服一部', 'Lyon']);
    for (const bad of [[], [''], ['*'], ['a\u202eb'], ['x'.repeat(65)]]) {
      expect(() => checkDepartments(bad)).toThrowError(expect.objectContaining({ code: 'USER_ERR_INVALID' }));
    }
  });

  it('allows ASCII user names only, so the case-insensitive index is a full case fold', () => {
    expect(USERNAME_RE.test('alice.smith-2')).toBe(true);
    for (const bad of ['a', '-alice', 'alice smith', 'аlice', 'alice\n', 'x'.repeat(65)]) expect(USERNAME_RE.test(bad)).toBe(false);
  });

  it('reads stored roles and departments fail-closed', () => {
    expect(parseRoles('["duty","root",3]')).toEqual(['duty']);
    expect(parseRoles('not json')).toEqual([]);
    expect(parseDepartments('"*"')).toBe('*');
    expect(parseDepartments('{"all":true}')).toEqual([]);
  });
});

describe('session cookie parsing', () => {
  it('finds sg_session among other cookies and ignores malformed values', () => {
    const token = 'sgs_' + 'A'.repeat(43);
    expect(sessionCookieValue(`theme=dark; sg_session=${token}; x=1`)).toBe(token);
    expect(sessionCookieValue('sg_session=short')).toBeNull();
    expect(sessionCookieValue('sg_session=abc"def; x=1')).toBeNull();
    expect(sessionCookieValue('xsg_session=' + token)).toBeNull();
    expect(sessionCookieValue(undefined)).toBeNull();
  });
});
