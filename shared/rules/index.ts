/**
 * USBGuard's rule language with seatguard's extensions: parse, format, evaluate.
 * See docs/rules.md for the grammar and semantics.
 */
export * from './ast.js';
export { RuleParseError, displayColumn } from './errors.js';
export { parseRule, tryParseRule, type ParseOptions, type ParseResult, type RuleDialect } from './parser.js';
export { parseRuleset, scanRuleset, type ParsedRuleset, type RulesetError, type RulesetLine } from './ruleset.js';
export { formatRule, formatMatch, formatCondition } from './format.js';
export { deviceMatches, setMatches, deviceIdMatches, interfaceMatches, type RuleDevice } from './match.js';
export {
  createRuleEvaluator,
  localSecondsOfDay,
  type RuleDecision,
  type RuleEvaluator,
  type RuleEvaluatorDeps,
  type EvaluationContext,
} from './evaluator.js';
export {
  DEFAULT_POLICY,
  interfaceDecision,
  partitionInterfaces,
  toRuleDevice,
  type InterfaceDecision,
} from './policy.js';
export { displayText, displayLine, quoteRuleString } from './text.js';
