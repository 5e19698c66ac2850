import type { Clock } from '../../shared/clock.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import type { Logger } from '../../shared/logger.js';
import { DEFAULT_POLICY, createRuleEvaluator, formatRule, parseRuleset, toRuleDevice, type Rule } from '../../shared/rules/index.js';
import type { PolicyDecision, UsbPolicy } from '../enforcement/policy.js';
import { readSavedPolicy, rulesSha256, writeSavedPolicy } from './policy-file.js';

/** A policy as policy.updated carries it. */
export interface PolicyUpdate {
  version: number;
  rules: string;
  sha256: string;
}

/** What the agent enforces now. Version 0 is the built-in DEFAULT_POLICY. */
export interface ActivePolicyInfo {
  version: number;
  sha256: string;
  ruleCount: number;
  source: 'default' | 'saved' | 'collector';
}

export type PolicyApplyResult = { ok: true; changed: boolean; detail: string } | { ok: false; detail: string };

/** The USBGuard-rules policy of the seat: a UsbPolicy whose ruleset the collector may replace. */
export interface RulesPolicy {
  readonly policy: UsbPolicy;
  current(): ActivePolicyInfo;
  /**
   * Verifies the hash, parses every line, saves, then swaps. Any problem keeps the previous policy
   * (SECURITY: never falls back to allow). `changed: false` when this exact policy is already active.
   */
  apply(update: PolicyUpdate): PolicyApplyResult;
}

export interface RulesPolicyDeps {
  /** Where policy.json is kept; null keeps the policy in memory only (simulations). */
  stateDir: string | null;
  /** `now()` feeds localtime conditions, `monotonic()` rule-applied/rule-evaluated windows. */
  clock: Clock;
  log: Logger;
}

interface Loaded {
  info: ActivePolicyInfo;
  rules: Rule[];
  lines: number[];
}

const DETAIL_MAX = 1024;
const REASON_MAX = 480;

function parseOrThrow(text: string): { rules: Rule[]; lines: number[] } {
  const parsed = parseRuleset(text);
  if (parsed.errors.length > 0) {
    const first = parsed.errors.slice(0, 5).map((e) => `line ${e.line}:${e.column} ${e.message}`);
    throw new Error(`${parsed.errors.length} invalid rule line(s): ${first.join('; ')}`);
  }
  // An empty ruleset would fall through to the implicit block for every device, keyboards
  // included: refused as almost certainly a mistake (the previous policy stays).
  if (parsed.rules.length === 0) throw new Error('the policy has no rules');
  return { rules: parsed.rules, lines: parsed.lines };
}

/** Creates the rules policy: the saved policy if there is a valid one, else DEFAULT_POLICY. */
export function createRulesPolicy(deps: RulesPolicyDeps): RulesPolicy {
  const log = deps.log.child({ component: 'rules-policy' });
  const evaluator = createRuleEvaluator({ clock: deps.clock });

  function builtIn(): Loaded {
    const { rules, lines } = parseOrThrow(DEFAULT_POLICY);
    return { info: { version: 0, sha256: rulesSha256(DEFAULT_POLICY), ruleCount: rules.length, source: 'default' }, rules, lines };
  }

  let loaded: Loaded = builtIn();
  if (deps.stateDir) {
    try {
      const saved = readSavedPolicy(deps.stateDir);
      if (saved) {
        const { rules, lines } = parseOrThrow(saved.rules);
        loaded = { info: { version: saved.version, sha256: saved.sha256, ruleCount: rules.length, source: 'saved' }, rules, lines };
        log.info({ version: saved.version, rules: rules.length }, 'saved usb policy loaded');
      }
    } catch (err) {
      // The built-in default blocks all storage; the collector sends the current policy on connect.
      log.error({ err }, 'saved usb policy is unusable; enforcing the built-in default');
    }
  }

  function toDecision(l: Loaded, ruleIndex: number, target: 'allow' | 'block' | 'reject', except: readonly string[], rule: Rule | null): PolicyDecision {
    const where = rule ? `policy v${l.info.version} line ${l.lines[ruleIndex] ?? '?'}: ${formatRule(rule)}` : `policy v${l.info.version}: no rule matched (implicit block)`;
    const text = sanitizeText(where, REASON_MAX);
    if (target === 'allow') return except.length > 0 ? { target, exceptInterfaces: except, rule: text } : { target, rule: text };
    return { target, rule: text };
  }

  const policy: UsbPolicy = {
    name: 'rules',
    decide(device) {
      const l = loaded;
      const r = evaluator.evaluate(l.rules, toRuleDevice(device.info));
      return toDecision(l, r.ruleIndex, r.target, r.exceptInterfaces, r.rule);
    },
  };

  return {
    policy,
    current: () => ({ ...loaded.info }),
    apply(update) {
      const detail = (s: string) => sanitizeText(s, DETAIL_MAX);
      if (rulesSha256(update.rules) !== update.sha256) {
        log.warn({ version: update.version }, 'usb policy refused: sha256 does not match its rules');
        return { ok: false, detail: 'sha256 does not match the rules text' };
      }
      if (loaded.info.source !== 'default' && loaded.info.version === update.version && loaded.info.sha256 === update.sha256) {
        return { ok: true, changed: false, detail: `${loaded.info.ruleCount} rules (already active)` };
      }
      let parsed: { rules: Rule[]; lines: number[] };
      try {
        parsed = parseOrThrow(update.rules);
      } catch (err) {
        const why = err instanceof Error ? err.message : 'invalid policy';
        log.warn({ version: update.version, problem: why.slice(0, 200) }, 'usb policy refused: it does not parse');
        return { ok: false, detail: detail(why) };
      }
      if (deps.stateDir) {
        try {
          writeSavedPolicy(deps.stateDir, { version: update.version, sha256: update.sha256, rules: update.rules });
        } catch (err) {
          // Not swapped: a policy that would silently revert at the next restart is worse than a refusal.
          log.error({ err, version: update.version }, 'usb policy refused: it could not be saved');
          return { ok: false, detail: 'the policy could not be saved on the seat' };
        }
      }
      loaded = { info: { version: update.version, sha256: update.sha256, ruleCount: parsed.rules.length, source: 'collector' }, ...parsed };
      log.info({ version: update.version, rules: parsed.rules.length }, 'usb policy replaced');
      return { ok: true, changed: true, detail: `${parsed.rules.length} rules` };
    },
  };
}
