import { MATCH_ATTRIBUTES, type Condition, type ConditionSet, type DeviceMatch, type Rule, type ValueSet } from './ast.js';
import { quoteRuleString } from './text.js';
import { formatDuration, formatTimeOfDay } from './values.js';

/**
 * Canonical rule text: attributes in a fixed order (id serial name hash parent-hash via-port
 * with-interface with-connect-type except-interface label if), the default `equals` operator left
 * out, single values without braces. `parseRule(formatRule(r))` deep-equals `r`.
 */
export function formatRule(rule: Rule): string {
  const parts: string[] = [rule.target];
  const except = rule.exceptInterface;
  const exceptText =
    except && except.length > 0
      ? 'except-interface ' + (except.length === 1 ? except[0] : `{ ${except.join(' ')} }`)
      : null;
  pushMatch(parts, rule, false, exceptText);
  if (rule.conditions) parts.push('if ' + formatConditions(rule.conditions));
  return parts.join(' ');
}

/** The attribute part of a rule or an allowed-matches query, without target and conditions. */
export function formatMatch(match: DeviceMatch, inArgument: boolean): string {
  const parts: string[] = [];
  pushMatch(parts, match, inArgument, null);
  return parts.join(' ');
}

// except-interface goes right before label, the only non-matching attribute.
function pushMatch(parts: string[], match: DeviceMatch, inArgument: boolean, exceptText: string | null): void {
  for (const spec of MATCH_ATTRIBUTES) {
    if (spec.key === 'label' && exceptText !== null) parts.push(exceptText);
    const set = match[spec.key];
    if (set) parts.push(formatValueSet(spec.keyword, set, spec.kind, inArgument));
  }
}

function formatValueSet(keyword: string, set: ValueSet, kind: string, inArgument: boolean): string {
  const values = set.values.map((v) => (kind === 'string' ? quoteRuleString(v, inArgument) : v));
  if (set.op === 'equals' && values.length === 1) return `${keyword} ${values[0]}`;
  const op = set.op === 'equals' ? '' : set.op + ' ';
  return `${keyword} ${op}{ ${values.join(' ')} }`;
}

function formatConditions(set: ConditionSet): string {
  const items = set.items.map(formatCondition);
  if (set.op === 'equals' && items.length === 1) return items[0] as string;
  const op = set.op === 'equals' ? '' : set.op + ' ';
  return `${op}{ ${items.join(' ')} }`;
}

/** One condition as rule text, e.g. `!localtime(08:00-17:00)`. */
export function formatCondition(c: Condition): string {
  const bang = c.negated ? '!' : '';
  switch (c.kind) {
    case 'localtime': {
      const range = c.begin === c.end ? formatTimeOfDay(c.begin) : `${formatTimeOfDay(c.begin)}-${formatTimeOfDay(c.end)}`;
      return `${bang}localtime(${range})`;
    }
    case 'allowed-matches':
      return `${bang}allowed-matches(${formatMatch(c.query, true)})`;
    case 'rule-applied':
    case 'rule-evaluated':
      return c.within === null ? `${bang}${c.kind}` : `${bang}${c.kind}(${formatDuration(c.within)})`;
    case 'random':
      return c.probability === null ? `${bang}random` : `${bang}random(${formatProbability(c.probability)})`;
    case 'true':
    case 'false':
      return `${bang}${c.kind}`;
  }
}

// String(p) is the shortest text that reads back as the same double; it may use an exponent,
// which both seatguard and USBGuard (std::stod) accept.
function formatProbability(p: number): string {
  return String(p);
}
