import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import type { SchemaCheck } from '../schema-check.js';
import { compileSoftwarePolicyWith, type CompiledSoftwarePolicy } from './software-policy-core.js';

/**
 * Software policy format: the TypeBox schemas and the collector's compileSoftwarePolicy. The
 * version logic, evaluator and default denylist live in software-policy-core.ts (no TypeBox, so the
 * agent can load them) and are re-exported here, so importers of this module see one API.
 */
export * from './software-policy-core.js';

// ---------------------------------------------------------------------------------------------
// Policy format
// ---------------------------------------------------------------------------------------------

export const SoftwareCategory = Type.Union([
  Type.Literal('hacking'),
  Type.Literal('game'),
  Type.Literal('remote-access'),
  Type.Literal('other'),
]);
export type SoftwareCategory = Static<typeof SoftwareCategory>;

/** One allow or deny rule. Every matcher given must match (AND); at least one matcher is required. */
export const SoftwareRule = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' }),
    /** Package name or glob (dpkg/rpm name, Windows DisplayName). */
    package: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** Debian-style range, e.g. ">= 1.2, << 2.0"; requires `package`. */
    versions: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** Lowercase hex sha256 of a running executable. */
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
    /** Executable path glob; without a '/' or '\\' it matches the file name only. */
    path: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    /** Publisher or glob (Windows Uninstall key / Authenticode, rpm vendor), where available. */
    publisher: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    category: Type.Optional(SoftwareCategory),
    reason: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type SoftwareRule = Static<typeof SoftwareRule>;

export const SoftwarePolicyMode = Type.Union([Type.Literal('audit'), Type.Literal('enforce')]);
export type SoftwarePolicyMode = Static<typeof SoftwarePolicyMode>;

export const SoftwarePolicy = Type.Object(
  {
    /** audit: report only. enforce: also terminate denied processes (packages are reported only). */
    mode: SoftwarePolicyMode,
    /** Verdict when no rule matches: 'allow' is denylist mode, 'deny' is allowlist mode. */
    default: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
    allow: Type.Array(SoftwareRule, { maxItems: 5000 }),
    deny: Type.Array(SoftwareRule, { maxItems: 5000 }),
  },
  { additionalProperties: false },
);
export type SoftwarePolicy = Static<typeof SoftwarePolicy>;

const checkPolicy = Compile(SoftwarePolicy);

/** TypeBox's check of a policy, with errors naming the failing field (the collector's). */
export const SOFTWARE_POLICY_CHECK: SchemaCheck<SoftwarePolicy> = {
  check: (input): input is SoftwarePolicy => checkPolicy.Check(input),
  errors: (input) => checkPolicy.Errors(input).map((e) => `${e.instancePath || '/'} ${e.message}`),
};

/** Validates untrusted policy data (from the collector or a file) and compiles it; lists every error. */
export function compileSoftwarePolicy(input: unknown): { ok: true; policy: CompiledSoftwarePolicy } | { ok: false; errors: string[] } {
  return compileSoftwarePolicyWith(input, SOFTWARE_POLICY_CHECK);
}
