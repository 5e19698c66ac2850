import { describe, expect, it } from 'vitest';
import { ACTIONS, ROLES, can, inScope, type Action, type Role } from '../../../../collector/auth/privileges.js';

// The expected matrix, written out independently of the implementation so a change to either shows.
const EXPECTED: Record<Role, Action[]> = {
  admin: ['seat.read', 'policy.read', 'policy.manage', 'user.manage', 'enroll.manage', 'agent.revoke', 'backup.run', 'audit.verify'],
  maintainer: ['seat.read', 'device.read', 'event.read', 'unlock.read', 'alert.read', 'handover.read', 'report.read', 'unlock.request', 'unlock.approve', 'unlock.reject', 'unlock.execute', 'unlock.revoke', 'unlock.offline_code', 'policy.read', 'agent.maintenance', 'agent.maintenance_code'],
  approver: ['seat.read', 'device.read', 'unlock.read', 'unlock.request', 'unlock.approve', 'unlock.reject'],
  duty: ['seat.read', 'device.read', 'event.read', 'unlock.read', 'alert.read', 'handover.read', 'report.read', 'alert.ack', 'alert.assign', 'alert.resolve', 'unlock.request', 'unlock.revoke'],
  officer: ['seat.read', 'device.read', 'event.read', 'unlock.read', 'alert.read', 'handover.read', 'report.read', 'export', 'audit.read', 'audit.verify', 'policy.read', 'unlock.revoke', 'agent.maintenance_code'],
  auditor: ['seat.read', 'device.read', 'event.read', 'unlock.read', 'alert.read', 'handover.read', 'report.read', 'export', 'audit.read', 'audit.verify', 'policy.read'],
};

describe('privileges matrix', () => {
  for (const role of ROLES) {
    for (const action of ACTIONS) {
      const allowed = EXPECTED[role].includes(action);
      it(`${allowed ? 'allows' : 'denies'} ${role} → ${action}`, () => {
        expect(can([role], action)).toBe(allowed);
      });
    }
  }

  it('grants nothing to no roles or unknown roles', () => {
    for (const action of ACTIONS) {
      expect(can([], action)).toBe(false);
      expect(can(['root', 'superuser'], action)).toBe(false);
    }
  });

  it('never lets the auditor or the admin approve or execute an unlock', () => {
    for (const r of ['auditor', 'admin'] as const) {
      expect(can([r], 'unlock.approve')).toBe(false);
      expect(can([r], 'unlock.execute')).toBe(false);
    }
  });

  it('scopes departments: listed, wildcard and unassigned seats', () => {
    expect(inScope(['sales'], 'sales')).toBe(true);
    expect(inScope(['sales'], 'billing')).toBe(false);
    expect(inScope(['sales'], null)).toBe(false);
    expect(inScope('*', null)).toBe(true);
  });
});
