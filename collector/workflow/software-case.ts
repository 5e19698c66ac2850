import { isSafeText } from '../../shared/domain/sanitize.js';
import { parseVersionRange, versionSatisfies, type SoftwareRule } from '../../shared/domain/software-policy.js';
import type { CaseBase, UnlockPolicy } from './unlock-machine.js';

/**
 * A software install case (严禁私自安装、卸载软件,如需安装,需报请相关部门审批): the unlock
 * workflow's case fields (same state machine, roles and separation of duties, see
 * unlock-machine.ts) plus what may be installed. Pure data and pure helpers; no I/O.
 *
 * While the case is `active`, the seat's effective software policy carries one allow rule for exactly
 * that package (and version range) or that executable hash, on that one seat.
 */

/** What the request allows: a package by exact name (optionally a version range), or one executable by sha256. */
export interface SoftwareTarget {
  package: string | null;
  /** Debian-style range, e.g. ">= 1.2, << 2" (only with a package). */
  versions: string | null;
  sha256: string | null;
}

export interface SoftwareCase extends CaseBase {
  target: SoftwareTarget;
  /** No expiry: the allow rule stays until revoked. `durationMs` is then {@link PERMANENT_DURATION_MS}. */
  permanent: boolean;
}

/**
 * The machine computes `expiresAt = start + durationMs`; a permanent approval uses this span (about
 * 100 years) so the machine stays unchanged, while the store keeps no expiry for it and the API
 * shows `expires_at: null`.
 */
export const PERMANENT_DURATION_MS = 100 * 365 * 86_400_000;

export interface SoftwarePolicyBounds {
  /** Shortest and longest time-boxed approval. */
  minDurationMs: number;
  maxDurationMs: number;
  /** 1, or 2 different approvers (four-eyes). */
  approvalsRequired: 1 | 2;
  /** Undecided requests lapse after this. */
  requestTtlMs: number;
}

/** Defaults: installs are meant to stay, so a request without a duration is permanent. */
export const DEFAULT_SOFTWARE_POLICY_BOUNDS: Readonly<SoftwarePolicyBounds> = Object.freeze({
  minDurationMs: 60 * 60_000,
  maxDurationMs: 365 * 86_400_000,
  approvalsRequired: 1,
  requestTtlMs: 7 * 86_400_000,
});

/** The machine's policy for software cases: the unlock policy's executor rules, the software bounds. */
export function machinePolicy(unlock: Readonly<UnlockPolicy>, bounds: Readonly<SoftwarePolicyBounds>): UnlockPolicy {
  return {
    ...unlock,
    minDurationMs: bounds.minDurationMs,
    maxDurationMs: Math.max(bounds.maxDurationMs, PERMANENT_DURATION_MS),
    approvalsRequired: bounds.approvalsRequired,
    requestTtlMs: bounds.requestTtlMs,
  };
}

// Characters with a meaning in the policy's globs: an approval names exactly one package.
const GLOB_CHARS = /[*?[\]{}\\]/;
const SHA256_RE = /^[0-9a-f]{64}$/;

/**
 * Checks an untrusted target; returns the normalized target or a one-line problem. Exactly one of
 * package or sha256: an allow rule with both could never match (a package has no hash, a process
 * no package name).
 */
export function checkTarget(input: { package?: string | null; versions?: string | null; sha256?: string | null }): { ok: true; target: SoftwareTarget } | { ok: false; problem: string } {
  const pkg = input.package ?? null;
  const versions = input.versions === undefined || input.versions === null || input.versions.trim() === '' ? null : input.versions.trim();
  const sha = input.sha256 === undefined || input.sha256 === null ? null : input.sha256.toLowerCase();
  if ((pkg === null) === (sha === null)) return { ok: false, problem: 'give either a package name or an executable sha256, not both' };
  if (pkg !== null) {
    if (pkg.length === 0 || pkg !== pkg.trim() || !isSafeText(pkg, 128)) return { ok: false, problem: 'the package name must be 1-128 printable characters without surrounding spaces' };
    if (GLOB_CHARS.test(pkg)) return { ok: false, problem: 'the package name must be exact (no * ? [ ] { } or backslash)' };
  }
  if (versions !== null) {
    if (pkg === null) return { ok: false, problem: 'a version range needs a package name' };
    if (versions.length > 128) return { ok: false, problem: 'the version range is longer than 128 characters' };
    const parsed = parseVersionRange(versions);
    if ('error' in parsed) return { ok: false, problem: `version range: ${parsed.error}` };
  }
  if (sha !== null && !SHA256_RE.test(sha)) return { ok: false, problem: 'sha256 must be 64 hex digits' };
  return { ok: true, target: { package: pkg, versions, sha256: sha } };
}

/** Id of the allow rule of a case (the protocol's rule id alphabet, at most 64 characters). */
export const allowRuleId = (caseId: string): string => `swreq:${caseId}`;

/** The allow rule an active case puts into its seat's software policy. */
export function allowRuleOf(c: Pick<SoftwareCase, 'id' | 'target'>): SoftwareRule {
  const t = c.target;
  return {
    id: allowRuleId(c.id),
    ...(t.package === null ? {} : { package: t.package }),
    ...(t.versions === null ? {} : { versions: t.versions }),
    ...(t.sha256 === null ? {} : { sha256: t.sha256 }),
    reason: `approved software request ${c.id}`,
  };
}

/** True when an installed package is what the case approved (same exact name, version inside the range). */
export function fulfils(target: SoftwareTarget, pkg: { name: string; version: string | null }): boolean {
  if (target.package === null || pkg.name !== target.package) return false;
  if (target.versions === null) return true;
  if (pkg.version === null) return false;
  const range = parseVersionRange(target.versions);
  return !('error' in range) && versionSatisfies(pkg.version, range);
}

/** One-line label of a target for logs and the audit trail. */
export function targetLabel(t: SoftwareTarget): string {
  if (t.package !== null) return t.versions === null ? t.package : `${t.package} (${t.versions})`;
  return `sha256:${t.sha256 ?? ''}`;
}
