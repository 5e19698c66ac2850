import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { isSafeText, sanitizeText } from '../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { AuditLog } from '../audit/audit-log.js';
import { hashSecret } from '../auth/hash-secret.js';
import { isRole, type Role } from '../auth/privileges.js';
import type { Store } from '../store/store.js';
import { DEFAULT_SCRYPT, hashPassword, passwordProblems, type ScryptParams } from './password.js';
import { userView, type UserView } from './user-view.js';

export interface NewUserInput {
  username: string;
  password: string;
  roles: readonly string[];
  /** Department names, or '*' for all. */
  departments: readonly string[] | '*';
  displayName?: string;
}

export interface UserService {
  /**
   * Validates, hashes the password and stores the user; audited as `user.create` by `actor`
   * (`context`, e.g. { via: 'cli', os_user }, goes into the record's detail).
   */
  create(input: NewUserInput, actor: string, context?: Record<string, unknown>): Promise<UserView>;
  list(): UserView[];
  get(id: string): UserView | undefined;
  getByUsername(username: string): UserView | undefined;
  /** Disables the account and ends its sessions and API tokens; audited as `user.disable`. */
  disable(id: string, actor: string, context?: Record<string, unknown>): UserView;
  /** Creates an API token acting as `userId`; returns the plaintext once. Audited as `token.api_create`. */
  createApiToken(userId: string, name: string, actor: string): { id: number; token: string };
}

export const USERNAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$/;
// 安全审计员 may not also hold these (regulations §4): whoever audits must not run, approve or execute.
const AUDITOR_EXCLUDES: readonly Role[] = ['admin', 'approver', 'maintainer'];

const invalid = (what: string) => new AppError('USER_ERR_INVALID', formatError('USER_ERR_INVALID', what), { details: { problem: what } });

/** Roles after validation: known, no duplicates, at least one, separation of duties respected. */
export function checkRoles(roles: readonly string[]): Role[] {
  if (roles.length === 0) throw invalid('at least one role is required');
  const out: Role[] = [];
  for (const r of roles) {
    if (!isRole(r)) throw invalid(`unknown role ${JSON.stringify(sanitizeText(r, 32))}`);
    if (!out.includes(r)) out.push(r);
  }
  if (out.includes('auditor')) {
    const clash = out.find((r) => AUDITOR_EXCLUDES.includes(r));
    if (clash) throw new AppError('USER_ERR_ROLE_CONFLICT', formatError('USER_ERR_ROLE_CONFLICT', 'auditor', clash));
  }
  return out;
}

/** Department scope after validation: '*' or 1-100 distinct printable names of 1-64 characters. */
export function checkDepartments(d: readonly string[] | '*'): string[] | '*' {
  if (d === '*') return '*';
  if (d.length === 0) throw invalid('give at least one department or all departments');
  if (d.length > 100) throw invalid('at most 100 departments');
  for (const name of d) {
    if (name.trim() === '' || name === '*' || !isSafeText(name, 64)) throw invalid('department names are 1-64 printable characters');
  }
  return [...new Set(d)];
}

/** User accounts: creation rules, separation of duties, disabling, token issuing. */
export function createUserService(deps: { store: Store; audit: AuditLog; clock: Clock; log: Logger; scrypt?: ScryptParams }): UserService {
  const { store, audit, clock } = deps;
  const log = deps.log.child({ component: 'users' });
  const iso = () => new Date(clock.now()).toISOString();

  function mustGet(id: string) {
    const row = store.users.get(id);
    if (!row) throw new AppError('USER_ERR_NOT_FOUND', formatError('USER_ERR_NOT_FOUND', sanitizeText(id, 64)));
    return row;
  }

  return {
    async create(input, actor, context = {}) {
      if (!USERNAME_RE.test(input.username)) throw invalid('user name must be 2-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');
      const roles = checkRoles(input.roles);
      const departments = checkDepartments(input.departments);
      const problems = passwordProblems(input.password);
      if (problems.length > 0) throw invalid(problems.join('; '));
      const displayName = sanitizeText(input.displayName ?? input.username, 128) || input.username;
      if (store.users.getByUsername(input.username)) throw new AppError('USER_ERR_EXISTS', formatError('USER_ERR_EXISTS', input.username));
      const passwordHash = await hashPassword(input.password, deps.scrypt ?? DEFAULT_SCRYPT);
      const id = `usr_${randomBytes(12).toString('hex')}`;
      const now = iso();
      store.transaction(() => {
        // Re-checked under the write lock: the hash above took long enough for a race.
        if (store.users.getByUsername(input.username)) throw new AppError('USER_ERR_EXISTS', formatError('USER_ERR_EXISTS', input.username));
        store.users.insert({
          id,
          username: input.username,
          display_name: displayName,
          password_hash: passwordHash,
          roles: JSON.stringify(roles),
          departments: JSON.stringify(departments),
          created_at: now,
          password_changed_at: now,
        });
        audit.append({ actor, action: 'user.create', targetType: 'user', targetId: id, detail: { ...context, username: input.username, roles, departments } });
      });
      log.info({ user_id: id, roles }, 'user created');
      return userView(mustGet(id));
    },

    list: () => store.users.list().map(userView),
    get: (id) => {
      const row = store.users.get(id);
      return row ? userView(row) : undefined;
    },
    getByUsername: (username) => {
      const row = store.users.getByUsername(username);
      return row ? userView(row) : undefined;
    },

    disable(id, actor, context = {}) {
      const row = mustGet(id);
      store.transaction(() => {
        const now = iso();
        store.users.setDisabled(row.id, true);
        const sessions = store.users.revokeUserSessions(row.id, now);
        const tokens = store.users.revokeUserApiTokens(row.id, now);
        audit.append({
          actor,
          action: 'user.disable',
          targetType: 'user',
          targetId: row.id,
          detail: { ...context, username: row.username, sessions_ended: sessions, tokens_revoked: tokens },
        });
      });
      log.info({ user_id: row.id }, 'user disabled');
      return userView(mustGet(row.id));
    },

    createApiToken(userId, name, actor) {
      const owner = mustGet(userId);
      if (owner.disabled === 1) throw invalid('the user is disabled');
      const cleanName = sanitizeText(name, 64);
      if (cleanName === '') throw invalid('token name is required');
      const token = `sga_${randomBytes(32).toString('base64url')}`;
      const id = store.transaction(() => {
        const tokenId = store.users.insertApiToken(hashSecret(token), cleanName, owner.id, iso());
        audit.append({ actor, action: 'token.api_create', targetType: 'api_token', targetId: String(tokenId), detail: { user_id: owner.id, name: cleanName } });
        return tokenId;
      });
      log.info({ user_id: owner.id, token_id: id }, 'api token created');
      return { id, token };
    },
  };
}
