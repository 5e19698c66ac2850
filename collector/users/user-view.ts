import { isRole, type Role } from '../auth/privileges.js';
import type { UserRow } from '../store/users-repo.js';

/** The roles stored on a user; anything that is not a known role is dropped (grants nothing). */
export function parseRoles(json: string): Role[] {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return [];
  }
  return Array.isArray(v) ? v.filter((r): r is Role => typeof r === 'string' && isRole(r)) : [];
}

/** The department scope stored on a user; unreadable means no department at all (fail closed). */
export function parseDepartments(json: string): string[] | '*' {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return [];
  }
  if (v === '*') return '*';
  return Array.isArray(v) ? v.filter((d): d is string => typeof d === 'string') : [];
}

/** What the API shows of a user: never the password hash. */
export interface UserView {
  id: string;
  username: string;
  display_name: string;
  roles: Role[];
  departments: string[] | '*';
  disabled: boolean;
  builtin: boolean;
  can_log_in: boolean;
  created_at: string;
  password_changed_at: string | null;
}

export function userView(u: UserRow): UserView {
  return {
    id: u.id,
    username: u.username,
    display_name: u.display_name,
    roles: parseRoles(u.roles),
    departments: parseDepartments(u.departments),
    disabled: u.disabled === 1,
    builtin: u.builtin === 1,
    can_log_in: u.password_hash !== null && u.disabled === 0,
    created_at: u.created_at,
    password_changed_at: u.password_changed_at,
  };
}
