import { isSafeText } from '../../shared/domain/sanitize.js';
import type { SensorScopeKind } from '../store/sensor-config-repo.js';

/** Which seats a sensor configuration applies to. The seat's own beats its department's beats the default. */
export type SensorScope = { kind: 'default' } | { kind: 'department'; department: string } | { kind: 'agent'; agentId: string };

const AGENT_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Parses the API form `default`, `department:<name>` or `agent:<agent_id>` (department names are
 * 1-64 printable characters, as at enrollment). Null when it is none of them.
 */
export function parseSensorScope(s: unknown): SensorScope | null {
  if (typeof s !== 'string' || s.length > 80) return null;
  if (s === 'default') return { kind: 'default' };
  if (s.startsWith('department:')) {
    const department = s.slice('department:'.length);
    return department.trim() !== '' && department === department.trim() && isSafeText(department, 64) ? { kind: 'department', department } : null;
  }
  if (s.startsWith('agent:')) {
    const agentId = s.slice('agent:'.length);
    return AGENT_ID_RE.test(agentId) ? { kind: 'agent', agentId } : null;
  }
  return null;
}

/** The API form of a scope. */
export function scopeString(scope: SensorScope): string {
  switch (scope.kind) {
    case 'default':
      return 'default';
    case 'department':
      return `department:${scope.department}`;
    case 'agent':
      return `agent:${scope.agentId}`;
  }
}

/** The table form (scope_kind, scope_key). */
export function scopeColumns(scope: SensorScope): { kind: SensorScopeKind; key: string } {
  switch (scope.kind) {
    case 'default':
      return { kind: 'default', key: '' };
    case 'department':
      return { kind: 'department', key: scope.department };
    case 'agent':
      return { kind: 'agent', key: scope.agentId };
  }
}

/** The scope of a stored row. */
export function scopeOfRow(row: { scope_kind: SensorScopeKind; scope_key: string }): SensorScope {
  if (row.scope_kind === 'department') return { kind: 'department', department: row.scope_key };
  if (row.scope_kind === 'agent') return { kind: 'agent', agentId: row.scope_key };
  return { kind: 'default' };
}
