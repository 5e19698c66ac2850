/**
 * Roles × actions, as data, default deny. Every API route and workflow step names one action and
 * asks `can(role, action)`; the test walks every combination. Department scoping (which seats a
 * user may act on) is checked separately by `inScope`.
 *
 * Separation of duties (regulations §4): requester ≠ approver ≠ executor is enforced by the
 * workflow; here the auditor can read everything including admins' own actions but change nothing,
 * and the admin manages users and policy but cannot approve or execute unlocks.
 */
export const ROLES = ['admin', 'maintainer', 'approver', 'duty', 'officer', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const ACTIONS = [
  'seat.read',
  'device.read',
  'event.read',
  'unlock.read',
  'unlock.request',
  'unlock.approve',
  'unlock.reject',
  'unlock.execute',
  'unlock.revoke',
  'unlock.offline_code',
  'alert.read',
  'alert.ack',
  'alert.assign',
  'alert.resolve',
  'handover.read',
  'report.read',
  'export',
  'audit.read',
  'audit.verify',
  'policy.read',
  'policy.manage',
  'user.manage',
  'enroll.manage',
  'agent.revoke',
  'backup.run',
  // Alert maintenance windows (engineer H2): silence agent.stopping / missed-heartbeat alerts of a seat.
  'agent.maintenance',
  // Agent self-protection (engineer H5): issue a single-use code to stop/upgrade/uninstall one seat's agent.
  'agent.maintenance_code',
] as const;
export type Action = (typeof ACTIONS)[number];

const READ_OPERATIONS: Action[] = ['seat.read', 'device.read', 'event.read', 'unlock.read', 'alert.read', 'handover.read', 'report.read'];

const MATRIX: Readonly<Record<Role, ReadonlySet<Action>>> = {
  // 系统管理员: runs the system, users, policy, enrollment, backups. Not an approver or executor.
  admin: new Set<Action>(['seat.read', 'policy.read', 'policy.manage', 'user.manage', 'enroll.manage', 'agent.revoke', 'backup.run', 'audit.verify']),
  // 电脑维护人员: executes unlocks (一人操作), may approve where policy lets a maintainer approve, offline codes.
  maintainer: new Set<Action>([...READ_OPERATIONS, 'unlock.request', 'unlock.approve', 'unlock.reject', 'unlock.execute', 'unlock.revoke', 'unlock.offline_code', 'policy.read', 'agent.maintenance', 'agent.maintenance_code']),
  // 部门主管: reviews requests of their own department.
  approver: new Set<Action>(['seat.read', 'device.read', 'unlock.read', 'unlock.request', 'unlock.approve', 'unlock.reject']),
  // 值班人员: 7x24 alerts, work orders, handover; may revoke (lock) but never unlock.
  duty: new Set<Action>([...READ_OPERATIONS, 'alert.ack', 'alert.assign', 'alert.resolve', 'unlock.request', 'unlock.revoke']),
  // 安全管理员: reads everything, exports, verifies the audit chain.
  officer: new Set<Action>([...READ_OPERATIONS, 'export', 'audit.read', 'audit.verify', 'policy.read', 'unlock.revoke', 'agent.maintenance_code']),
  // 安全审计员: read-only over everything including the admins' own actions.
  auditor: new Set<Action>([...READ_OPERATIONS, 'export', 'audit.read', 'audit.verify', 'policy.read']),
};

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

/** True when any of the roles grants the action. Unknown roles grant nothing. */
export function can(roles: readonly string[], action: Action): boolean {
  for (const r of roles) if (isRole(r) && MATRIX[r].has(action)) return true;
  return false;
}

/** Departments a user may act on: a list, or '*' for all. */
export type DepartmentScope = readonly string[] | '*';

/** True when a seat of `department` (null = unassigned) is inside the user's scope. */
export function inScope(scope: DepartmentScope, department: string | null): boolean {
  if (scope === '*') return true;
  return department !== null && scope.includes(department);
}
