import type { Clock } from '../clock.js';
import type { Condition, ConditionSet, Rule, RuleTarget } from './ast.js';
import { SECONDS_PER_DAY } from './ast.js';
import { deviceMatches, type RuleDevice } from './match.js';

/** The outcome of evaluating a ruleset for one device. */
export interface RuleDecision {
  readonly target: RuleTarget;
  /** True when no rule applied and the implicit target was used. */
  readonly implicit: boolean;
  /** Index of the deciding rule in the ruleset, -1 when implicit. */
  readonly ruleIndex: number;
  readonly rule: Rule | null;
  /** Interface patterns left unauthorized (from except-interface); empty unless target is allow. */
  readonly exceptInterfaces: readonly string[];
}

export interface RuleEvaluatorDeps {
  /** `now()` feeds localtime; `monotonic()` feeds rule-applied / rule-evaluated durations. */
  readonly clock: Clock;
  /** Uniform number in [0, 1) for random / random(p). Default Math.random. */
  readonly random?: () => number;
  /** Seconds since local midnight for an epoch time. Default: the process's local time zone. */
  readonly secondsOfDay?: (epochMs: number) => number;
  /** Target when no rule applies. Default `block` (fail closed, like USBGuard's ImplicitPolicyTarget). */
  readonly implicitTarget?: RuleTarget;
}

export interface EvaluationContext {
  /** Devices currently allowed, for allowed-matches(query). None when absent. */
  readonly allowedDevices?: readonly RuleDevice[];
}

/** Evaluates rulesets and remembers, per rule object, when it was last evaluated and applied. */
export interface RuleEvaluator {
  /**
   * First rule whose attributes match and whose conditions hold decides (USBGuard order). Every
   * rule looked at counts as evaluated; the deciding rule counts as applied.
   */
  evaluate(rules: readonly Rule[], device: RuleDevice, ctx?: EvaluationContext): RuleDecision;
  /** Drops all per-rule history (rule-applied / rule-evaluated start over). */
  reset(): void;
}

interface RuleHistory {
  evaluatedAt: number | null;
  appliedAt: number | null;
}

const NO_INTERFACES: readonly string[] = Object.freeze([]);

/** Local wall-clock seconds since midnight. */
export function localSecondsOfDay(epochMs: number): number {
  const d = new Date(epochMs);
  return d.getHours() * 3600 + d.getMinutes() * 60 + d.getSeconds();
}

/** Creates an evaluator. State lives in the returned object, keyed by rule object identity. */
export function createRuleEvaluator(deps: RuleEvaluatorDeps): RuleEvaluator {
  const { clock } = deps;
  const random = deps.random ?? Math.random;
  const secondsOfDay = deps.secondsOfDay ?? localSecondsOfDay;
  const implicitTarget = deps.implicitTarget ?? 'block';
  // A WeakMap lets replaced policies' rules be collected; re-parsed rules start without history.
  let history = new WeakMap<Rule, RuleHistory>();

  function within(at: number | null, seconds: number | null, nowMono: number): boolean {
    if (at === null) return false;
    // USBGuard treats a zero duration like no duration: "ever".
    if (seconds === null || seconds === 0) return true;
    return nowMono - at <= seconds * 1000;
  }

  function holds(c: Condition, h: RuleHistory, nowMono: number, ctx: EvaluationContext | undefined): boolean {
    switch (c.kind) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'random':
        return random() < (c.probability ?? 0.5);
      case 'rule-applied':
        return within(h.appliedAt, c.within, nowMono);
      case 'rule-evaluated':
        return within(h.evaluatedAt, c.within, nowMono);
      case 'localtime': {
        const t = ((Math.floor(secondsOfDay(clock.now())) % SECONDS_PER_DAY) + SECONDS_PER_DAY) % SECONDS_PER_DAY;
        // begin > end is the seatguard extension for ranges across midnight (22:00-06:00).
        return c.begin <= c.end ? t >= c.begin && t <= c.end : t >= c.begin || t <= c.end;
      }
      case 'allowed-matches': {
        const devices = ctx?.allowedDevices;
        if (!devices) return false;
        for (const d of devices) if (deviceMatches(c.query, d)) return true;
        return false;
      }
    }
  }

  function conditionsHold(set: ConditionSet, h: RuleHistory, nowMono: number, ctx: EvaluationContext | undefined): boolean {
    let trueCount = 0;
    for (const c of set.items) {
      const v = holds(c, h, nowMono, ctx) !== c.negated;
      if (v) trueCount++;
    }
    switch (set.op) {
      case 'one-of':
        return trueCount > 0;
      case 'none-of':
        return trueCount === 0;
      default: // all-of, equals, equals-ordered
        return trueCount === set.items.length;
    }
  }

  return {
    evaluate(rules, device, ctx) {
      const nowMono = clock.monotonic();
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i] as Rule;
        let h = history.get(rule);
        if (!h) {
          h = { evaluatedAt: null, appliedAt: null };
          history.set(rule, h);
        }
        // Conditions see the history from before this evaluation.
        const applies =
          deviceMatches(rule, device) && (!rule.conditions || conditionsHold(rule.conditions, h, nowMono, ctx));
        h.evaluatedAt = nowMono;
        if (applies) {
          h.appliedAt = nowMono;
          return {
            target: rule.target,
            implicit: false,
            ruleIndex: i,
            rule,
            exceptInterfaces: rule.target === 'allow' && rule.exceptInterface ? rule.exceptInterface : NO_INTERFACES,
          };
        }
      }
      return { target: implicitTarget, implicit: true, ruleIndex: -1, rule: null, exceptInterfaces: NO_INTERFACES };
    },
    reset() {
      history = new WeakMap();
    },
  };
}
