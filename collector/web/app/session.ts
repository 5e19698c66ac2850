import { apiGet, apiPost, setCsrfToken } from './api.js';
import { arr, get, obj, str, text } from './json.js';

/** The logged-in user as the console knows it. */
export interface User {
  id: string;
  username: string;
  roles: string[];
  /** Department scope: '*' or a list. */
  departments: string[] | '*';
}

let user: User | null = null;
/** role → actions, from /assets/privileges.json (generated from collector/auth/privileges.ts). */
let matrix: Record<string, readonly string[]> = {};

export function currentUser(): User | null {
  return user;
}

/**
 * True when one of the user's roles allows `action`. Only hides buttons: the server checks
 * every request again, so a stale or edited matrix cannot grant anything.
 */
export function can(action: string): boolean {
  if (!user) return false;
  return user.roles.some((r) => (matrix[r] ?? []).includes(action));
}

function readUser(v: unknown): User | null {
  const u = obj(get(v, 'user')) ?? obj(v);
  if (!u) return null;
  const id = text(u.id);
  const username = str(u.username);
  if (id === null || username === null) return null;
  const deps = u.departments;
  return {
    id,
    username,
    roles: arr(u.roles).filter((r): r is string => typeof r === 'string'),
    departments: deps === '*' ? '*' : arr(deps).filter((d): d is string => typeof d === 'string'),
  };
}

function adopt(answer: unknown): User | null {
  user = readUser(answer);
  const csrf = str(get(answer, 'csrf_token')) ?? str(get(answer, 'csrfToken'));
  if (csrf !== null) setCsrfToken(csrf);
  return user;
}

/** Loads the role matrix once per page load. */
export async function loadPrivileges(): Promise<void> {
  const m = obj(await apiGet('/assets/privileges.json'));
  const roles = obj(m?.roles) ?? {};
  const next: Record<string, readonly string[]> = {};
  for (const [role, actions] of Object.entries(roles)) next[role] = arr(actions).filter((a): a is string => typeof a === 'string');
  matrix = next;
}

/** Restores the session from the cookie; null when not logged in. */
export async function restore(): Promise<User | null> {
  try {
    return adopt(await apiGet('/api/v1/auth/me', { quiet401: true }));
  } catch {
    user = null;
    return null;
  }
}

export async function login(username: string, password: string): Promise<User | null> {
  return adopt(await apiPost('/api/v1/auth/login', { username, password }, { quiet401: true }));
}

export async function logout(): Promise<void> {
  try {
    await apiPost('/api/v1/auth/logout', {}, { quiet401: true });
  } finally {
    user = null;
    setCsrfToken(null);
  }
}

/** Forgets the user locally (after a 401). */
export function drop(): void {
  user = null;
  setCsrfToken(null);
}
