import type { Static } from 'typebox';
import type { SchemaCheck } from '../schema-check.js';
import type {
  SoftwareCategory as SoftwareCategorySchema,
  SoftwarePolicy as SoftwarePolicySchema,
  SoftwarePolicyMode as SoftwarePolicyModeSchema,
  SoftwareRule as SoftwareRuleSchema,
} from './software-policy.js';

/**
 * Software allow/deny policy: pure data plus a pure evaluator, shared by the agent (which enforces)
 * and the collector (which edits and displays). Nothing here touches the OS.
 *
 * Evaluation order (first hit wins):
 *   1. a deny rule that names the executable's sha256 (a known-bad binary is bad wherever it sits);
 *   2. any allow rule (seat-specific exceptions to the denylist);
 *   3. any other deny rule;
 *   4. the policy default.
 */

// ---------------------------------------------------------------------------------------------
// Debian version comparison (the algorithm of dpkg's verrevcmp, written from its description)
// ---------------------------------------------------------------------------------------------

interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

function parseDebianVersion(v: string): DebVersion {
  const s = v.trim();
  let epoch = 0;
  let rest = s;
  const colon = s.indexOf(':');
  if (colon > 0 && /^[0-9]+$/.test(s.slice(0, colon))) {
    epoch = Number.parseInt(s.slice(0, colon), 10);
    rest = s.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash >= 0) return { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) };
  return { epoch, upstream: rest, revision: '' };
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

// Sort weight of one character: '~' sorts before everything (even the end of the string), letters
// before the other non-digits. `c === -1` stands for "end of string".
function order(c: number): number {
  if (c === -1 || isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 126 /* ~ */) return -1;
  return c + 256;
}

function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const at = (s: string, k: number) => (k < s.length ? s.charCodeAt(k) : -1);
  while (i < a.length || j < b.length) {
    // Non-digit prefix, compared character by character with the order() weights.
    while ((i < a.length && !isDigit(at(a, i))) || (j < b.length && !isDigit(at(b, j)))) {
      const ac = order(at(a, i));
      const bc = order(at(b, j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    // Numeric part, compared as a number of arbitrary length (leading zeros ignored).
    while (at(a, i) === 48) i++;
    while (at(b, j) === 48) j++;
    let firstDiff = 0;
    while (isDigit(at(a, i)) && isDigit(at(b, j))) {
      if (firstDiff === 0) firstDiff = at(a, i) - at(b, j);
      i++;
      j++;
    }
    if (isDigit(at(a, i))) return 1;
    if (isDigit(at(b, j))) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

/** Compares two Debian version strings as dpkg does: negative, 0 or positive (like a sort comparator). */
export function compareDebianVersions(a: string, b: string): number {
  const va = parseDebianVersion(a);
  const vb = parseDebianVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  const u = verrevcmp(va.upstream, vb.upstream);
  if (u !== 0) return Math.sign(u);
  return Math.sign(verrevcmp(va.revision, vb.revision));
}

export type VersionRelation = '<<' | '<=' | '=' | '>=' | '>>';

export interface VersionConstraint {
  op: VersionRelation;
  version: string;
}

const RELATION = /^\s*(<<|<=|>=|>>|=)\s*([0-9][A-Za-z0-9.+~:-]*)\s*$/;

/**
 * Parses a Debian-style version range: comma-separated relations that must all hold, e.g.
 * ">= 1.2, << 2.0". The deprecated bare "<" and ">" are refused (dpkg reads them as <= and >=).
 */
export function parseVersionRange(range: string): VersionConstraint[] | { error: string } {
  const parts = range.split(',');
  const out: VersionConstraint[] = [];
  for (const p of parts) {
    const m = RELATION.exec(p);
    if (!m) return { error: `bad version relation ${JSON.stringify(p.trim().slice(0, 64))}` };
    out.push({ op: m[1] as VersionRelation, version: m[2] ?? '' });
  }
  return out.length > 0 ? out : { error: 'empty version range' };
}

/** True when `version` satisfies every constraint. */
export function versionSatisfies(version: string, constraints: readonly VersionConstraint[]): boolean {
  return constraints.every(({ op, version: ref }) => {
    const c = compareDebianVersions(version, ref);
    switch (op) {
      case '<<':
        return c < 0;
      case '<=':
        return c <= 0;
      case '=':
        return c === 0;
      case '>=':
        return c >= 0;
      case '>>':
        return c > 0;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Globs: '*' and '?' within one path segment, '**' across segments. No braces or classes.
// ---------------------------------------------------------------------------------------------

/** Compiles a glob to an anchored RegExp. `caseInsensitive` for deny rules (see matchesRule). */
export function globToRegExp(glob: string, caseInsensitive: boolean): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else {
        re += '[^/\\\\]*';
      }
    } else if (c === '?') {
      re += '[^/\\\\]';
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`, caseInsensitive ? 'is' : 's');
}

// Types of the policy format, whose schemas stay in software-policy.ts (type-only imports are erased,
// so this module loads without TypeBox).
type SoftwareCategory = Static<typeof SoftwareCategorySchema>;
type SoftwareRule = Static<typeof SoftwareRuleSchema>;
type SoftwarePolicyMode = Static<typeof SoftwarePolicyModeSchema>;
type SoftwarePolicy = Static<typeof SoftwarePolicySchema>;

interface CompiledRule {
  rule: SoftwareRule;
  pkg: RegExp | null;
  versions: VersionConstraint[] | null;
  path: RegExp | null;
  pathIsBasename: boolean;
  publisher: RegExp | null;
}

/** A validated policy with its globs and ranges compiled; build it with {@link compileSoftwarePolicy}. */
export interface CompiledSoftwarePolicy {
  readonly source: SoftwarePolicy;
  readonly mode: SoftwarePolicyMode;
  readonly allow: readonly CompiledRule[];
  readonly deny: readonly CompiledRule[];
}

function compileRule(rule: SoftwareRule, isDeny: boolean, where: string, errors: string[]): CompiledRule | null {
  // SECURITY: deny rules match case-insensitively (a renamed "NMAP" is still caught); allow rules
  // are case-sensitive so "/opt/App" cannot be used to slip past an allow of "/opt/app".
  const ci = isDeny;
  if (!rule.package && !rule.sha256 && !rule.path && !rule.publisher) {
    errors.push(`${where}: rule ${rule.id} has no matcher (package, sha256, path or publisher)`);
    return null;
  }
  let versions: VersionConstraint[] | null = null;
  if (rule.versions !== undefined) {
    if (!rule.package) errors.push(`${where}: rule ${rule.id} has versions without package`);
    const parsed = parseVersionRange(rule.versions);
    if ('error' in parsed) errors.push(`${where}: rule ${rule.id}: ${parsed.error}`);
    else versions = parsed;
  }
  return {
    rule,
    pkg: rule.package ? globToRegExp(rule.package, ci) : null,
    versions,
    path: rule.path ? globToRegExp(rule.path, ci) : null,
    pathIsBasename: rule.path ? !/[/\\]/.test(rule.path) : false,
    publisher: rule.publisher ? globToRegExp(rule.publisher, true) : null,
  };
}

/**
 * Validates untrusted policy data (from the collector or a file) with `schema` and compiles it;
 * lists every error. The collector passes TypeBox's check (software-policy.ts compileSoftwarePolicy),
 * the agent the generated one.
 */
export function compileSoftwarePolicyWith(
  input: unknown,
  schema: SchemaCheck<SoftwarePolicy>,
): { ok: true; policy: CompiledSoftwarePolicy } | { ok: false; errors: string[] } {
  if (!schema.check(input)) return { ok: false, errors: schema.errors(input).slice(0, 20) };
  const src = input;
  const errors: string[] = [];
  const ids = new Set<string>();
  for (const r of [...src.allow, ...src.deny]) {
    if (ids.has(r.id)) errors.push(`duplicate rule id ${r.id}`);
    ids.add(r.id);
  }
  const allow = src.allow.map((r, i) => compileRule(r, false, `allow[${i}]`, errors));
  const deny = src.deny.map((r, i) => compileRule(r, true, `deny[${i}]`, errors));
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    policy: Object.freeze({
      source: src,
      mode: src.mode,
      allow: allow.filter((r): r is CompiledRule => r !== null),
      deny: deny.filter((r): r is CompiledRule => r !== null),
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/** What is being judged: an installed package or a running executable. */
export type SoftwareSubject =
  | { kind: 'package'; name: string; version: string | null; publisher?: string | null }
  | { kind: 'process'; path: string | null; sha256: string | null; publisher?: string | null };

export interface SoftwareVerdict {
  verdict: 'allow' | 'deny';
  /** Matching rule id, or "default". */
  ruleId: string;
  category: SoftwareCategory | null;
  reason: string;
}

function basename(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return i >= 0 ? p.slice(i + 1) : p;
}

/**
 * True when every matcher of the rule matches the subject. A matcher whose subject field is absent
 * does not match, except that an unknown package version matches a deny rule's range: fail closed.
 */
function matchesRule(c: CompiledRule, s: SoftwareSubject, isDeny: boolean): boolean {
  if (c.pkg) {
    if (s.kind !== 'package' || !c.pkg.test(s.name)) return false;
    if (c.versions) {
      if (s.version === null) {
        if (!isDeny) return false;
      } else if (!versionSatisfies(s.version, c.versions)) {
        return false;
      }
    }
  }
  if (c.rule.sha256) {
    if (s.kind !== 'process' || s.sha256 === null || s.sha256.toLowerCase() !== c.rule.sha256) return false;
  }
  if (c.path) {
    if (s.kind !== 'process' || s.path === null) return false;
    if (!c.path.test(c.pathIsBasename ? basename(s.path) : s.path)) return false;
  }
  if (c.publisher) {
    if (!s.publisher || !c.publisher.test(s.publisher)) return false;
  }
  return true;
}

function verdictOf(verdict: 'allow' | 'deny', c: CompiledRule): SoftwareVerdict {
  return {
    verdict,
    ruleId: c.rule.id,
    category: c.rule.category ?? null,
    reason: c.rule.reason ?? `${verdict} rule ${c.rule.id}`,
  };
}

/** Judges one subject against a compiled policy (order in the module comment). Pure. */
export function evaluateSoftware(policy: CompiledSoftwarePolicy, subject: SoftwareSubject): SoftwareVerdict {
  for (const c of policy.deny) if (c.rule.sha256 && matchesRule(c, subject, true)) return verdictOf('deny', c);
  for (const c of policy.allow) if (matchesRule(c, subject, false)) return verdictOf('allow', c);
  for (const c of policy.deny) if (!c.rule.sha256 && matchesRule(c, subject, true)) return verdictOf('deny', c);
  const d = policy.source.default;
  return { verdict: d, ruleId: 'default', category: null, reason: `no rule matched; policy default is ${d}` };
}

// ---------------------------------------------------------------------------------------------
// Default denylists (data). Debian/rpm names are exact; Windows DisplayNames use globs.
// ---------------------------------------------------------------------------------------------

const HACKING_PACKAGES = [
  'nmap', 'zenmap', 'ncrack', 'masscan', 'wireshark', 'wireshark-qt', 'wireshark-gtk', 'tshark',
  'john', 'johnny', 'hydra', 'hydra-gtk', 'medusa', 'aircrack-ng', 'reaver', 'bully', 'wifite',
  'kismet', 'metasploit-framework', 'sqlmap', 'nikto', 'ettercap-common', 'ettercap-graphical',
  'ettercap-text-only', 'bettercap', 'hashcat', 'ophcrack', 'fcrackzip', 'dsniff', 'responder',
  'yersinia', 'hping3', 'macchanger', 'mitmproxy', 'beef-xss', 'zaproxy', 'burpsuite',
];

const WINDOWS_HACKING_PACKAGES = ['Nmap*', 'Wireshark*', 'Metasploit*', 'Burp Suite*', 'Cain & Abel*', 'Hashcat*', 'OWASP ZAP*'];

const GAME_PACKAGES = [
  'steam', 'steam-installer', 'steam-launcher', 'steam-libs-*', 'supertux', 'supertuxkart', '0ad',
  'wesnoth', 'wesnoth-*', 'minetest', 'luanti', 'openarena', 'xonotic', 'hedgewars', 'warzone2100',
  'frozen-bubble', 'neverball', 'pingus', 'aisleriot', 'gnome-mines', 'gnome-sudoku', 'gnome-chess',
  'kpat', 'ksudoku', 'lutris', 'playonlinux',
];

const WINDOWS_GAME_PACKAGES = [
  'Steam', 'Epic Games Launcher', 'Battle.net', 'EA app', 'Ubisoft Connect', 'GOG GALAXY*',
  'Riot Client', 'Minecraft Launcher', 'Roblox Player*',
];

const HACKING_EXECUTABLES = [
  'nmap', 'nmap.exe', 'zenmap', 'ncrack', 'masscan', 'wireshark', 'wireshark.exe', 'tshark', 'dumpcap',
  'john', 'hydra', 'medusa', 'aircrack-ng', 'airodump-ng', 'aireplay-ng', 'msfconsole', 'msfvenom',
  'sqlmap', 'nikto', 'ettercap', 'bettercap', 'hashcat', 'hashcat.bin', 'hashcat.exe',
];

const GAME_EXECUTABLES = ['steam', 'steam.exe', 'supertux2', 'supertuxkart', 'pyrogenesis', 'wesnoth', 'minetest', 'luanti'];

function slug(s: string): string {
  return s.toLowerCase().replace(/\*/g, '-all').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x';
}

function rulesFor(kind: 'package' | 'path', group: string, names: string[], category: SoftwareCategory): SoftwareRule[] {
  const label = category === 'hacking' ? 'security/hacking tool' : 'game';
  return names.map((n) => ({
    id: `default.${category}.${group}.${slug(n)}`,
    [kind]: n,
    category,
    reason: `${label} not permitted on call-center seats`,
  }));
}

/** Built-in denylist: known hacking tools and games, by package name and executable name. */
export const DEFAULT_DENYLIST: readonly SoftwareRule[] = Object.freeze([
  ...rulesFor('package', 'pkg', HACKING_PACKAGES, 'hacking'),
  ...rulesFor('package', 'win', WINDOWS_HACKING_PACKAGES, 'hacking'),
  ...rulesFor('package', 'pkg', GAME_PACKAGES, 'game'),
  ...rulesFor('package', 'win', WINDOWS_GAME_PACKAGES, 'game'),
  ...rulesFor('path', 'exe', HACKING_EXECUTABLES, 'hacking'),
  ...rulesFor('path', 'exe', GAME_EXECUTABLES, 'game'),
]);

/** Policy used until the collector sends one: denylist mode, audit only (alerts, never kills). */
export const DEFAULT_SOFTWARE_POLICY: SoftwarePolicy = Object.freeze({
  mode: 'audit',
  default: 'allow',
  allow: [],
  deny: [...DEFAULT_DENYLIST],
});
