import {
  MATCH_ATTRIBUTES,
  MAX_CONDITIONS,
  RULE_TARGETS,
  SECONDS_PER_DAY,
  SET_OPERATORS,
  type AttributeSpec,
  type Condition,
  type ConditionKind,
  type ConditionOperator,
  type ConditionSet,
  type DeviceMatch,
  type Rule,
  type RuleTarget,
  type SetOperator,
  type ValueKind,
  type ValueSet,
} from './ast.js';
import { RuleParseError } from './errors.js';
import { Lexer, describeToken, type Token } from './lexer.js';
import { displayText } from './text.js';
import {
  formatTimeOfDay,
  parseDeviceId,
  parseDuration,
  parseInterfaceType,
  parseProbability,
  parseTimeRange,
} from './values.js';

/**
 * `seatguard` (default) accepts the seatguard extensions (except-interface, localtime ranges that
 * cross midnight); `usbguard` rejects them so a policy can be handed to USBGuard unchanged.
 */
export type RuleDialect = 'seatguard' | 'usbguard';

export interface ParseOptions {
  /** Default `seatguard`. */
  readonly dialect?: RuleDialect;
}

export type ParseResult = { ok: true; rule: Rule } | { ok: false; error: RuleParseError };

/** Parses one rule; throws {@link RuleParseError} with the position of the first problem. */
export function parseRule(text: string, options: ParseOptions = {}): Rule {
  return new Parser(text, options.dialect ?? 'seatguard').rule();
}

/** Like {@link parseRule}, but returns the error instead of throwing it. */
export function tryParseRule(text: string, options: ParseOptions = {}): ParseResult {
  try {
    return { ok: true, rule: parseRule(text, options) };
  } catch (err) {
    if (err instanceof RuleParseError) return { ok: false, error: err };
    throw err;
  }
}

// Lookups go through Maps so rule text like `__proto__` or `toString` can never reach an object
// prototype.
const ATTRIBUTES = new Map<string, AttributeSpec>(MATCH_ATTRIBUTES.map((a) => [a.keyword, a]));
const OPERATORS = new Set<string>(SET_OPERATORS);
const TARGETS = new Set<string>(RULE_TARGETS);

type ArgumentRule = 'none' | 'optional' | 'required';
const CONDITIONS = new Map<string, ArgumentRule>([
  ['localtime', 'required'],
  ['allowed-matches', 'required'],
  ['rule-applied', 'optional'],
  ['rule-evaluated', 'optional'],
  ['random', 'optional'],
  ['true', 'none'],
  ['false', 'none'],
]);

const ARGUMENT_EXAMPLES: Record<string, string> = {
  localtime: 'localtime(08:00-17:00)',
  'allowed-matches': 'allowed-matches(with-interface 03:00:*)',
};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface AttributeContext {
  /** Where the attribute list ends: the end of the rule, or `)` of an allowed-matches query. */
  readonly terminator: 'eof' | ')';
  readonly target: RuleTarget | null;
}

class Parser {
  readonly #lx: Lexer;
  readonly #dialect: RuleDialect;
  #tok: Token;

  constructor(text: string, dialect: RuleDialect) {
    this.#lx = new Lexer(text);
    this.#dialect = dialect;
    this.#tok = this.#lx.next();
  }

  rule(): Rule {
    const t = this.#tok;
    if (t.kind !== 'word') {
      throw new RuleParseError(t.start, `expected a rule target (allow, block or reject), found ${describeToken(t)}`);
    }
    if (!TARGETS.has(t.value)) {
      const why =
        t.value === 'match' || t.value === 'device'
          ? `the USBGuard target '${t.value}' is not supported: use allow, block or reject`
          : `unknown rule target '${displayText(t.value)}': expected allow, block or reject`;
      throw new RuleParseError(t.start, why);
    }
    const target = t.value as RuleTarget;
    this.#advance();
    const rule: Mutable<Rule> = { target };
    this.#attributes(rule, { terminator: 'eof', target });
    return rule;
  }

  // A method call, so TypeScript does not carry narrowing of #tok across #advance().
  #current(): Token {
    return this.#tok;
  }

  #advance(): Token {
    const prev = this.#tok;
    this.#tok = this.#lx.next();
    return prev;
  }

  #col(position: number): number {
    return this.#lx.column(position);
  }

  // USBGuard's grammar needs blanks between attributes and between values (not inside braces).
  #requireSpace(t: Token): void {
    if (!t.spaced) throw new RuleParseError(t.start, `expected a space before ${describeToken(t)}`);
  }

  #attributes(rule: Mutable<Rule>, ctx: AttributeContext): void {
    const seen = new Map<string, number>();
    let first = true;
    for (;;) {
      const t = this.#tok;
      // At ')' or the end the caller decides; a query cut short reports its missing ')' there.
      if (t.kind === 'eof' || (ctx.terminator === ')' && t.kind === ')')) return;
      if (t.kind !== 'word') {
        throw new RuleParseError(t.start, `expected an attribute name, found ${describeToken(t)}`);
      }
      if (!(first && ctx.terminator === ')')) this.#requireSpace(t);
      const keyword = t.value;
      const earlier = seen.get(keyword);
      // `allow 1234:5678` is USBGuard shorthand for `allow id 1234:5678`, right after the target only.
      if (keyword.includes(':') && !ATTRIBUTES.has(keyword)) {
        if (!first) {
          throw new RuleParseError(
            t.start,
            `a bare device id is only allowed right after the target; write 'id ${displayText(keyword)}'`,
          );
        }
        this.#advance();
        rule.id = { op: 'equals', values: [parseDeviceId(keyword, t.start)] };
        seen.set('id', t.start);
        first = false;
        continue;
      }
      first = false;
      if (earlier !== undefined) {
        throw new RuleParseError(
          t.start,
          `duplicate attribute '${displayText(keyword)}' (already given at column ${this.#col(earlier)})`,
        );
      }
      const spec = ATTRIBUTES.get(keyword);
      if (spec) {
        this.#advance();
        seen.set(keyword, t.start);
        (rule as Mutable<DeviceMatch>)[spec.key] = this.#valueSet(spec);
      } else if (keyword === 'except-interface') {
        if (ctx.target === null) {
          throw new RuleParseError(t.start, "except-interface cannot be used inside allowed-matches(...)");
        }
        if (this.#dialect === 'usbguard') {
          throw new RuleParseError(t.start, 'except-interface is a seatguard extension, not USBGuard syntax');
        }
        if (ctx.target !== 'allow') {
          throw new RuleParseError(t.start, `except-interface is only valid on allow rules, not on ${ctx.target}`);
        }
        this.#advance();
        seen.set(keyword, t.start);
        rule.exceptInterface = this.#exceptInterface();
      } else if (keyword === 'if') {
        if (ctx.target === null) {
          throw new RuleParseError(t.start, 'conditions are not allowed inside allowed-matches(...)');
        }
        this.#advance();
        seen.set(keyword, t.start);
        rule.conditions = this.#conditions(t);
      } else if (OPERATORS.has(keyword)) {
        throw new RuleParseError(t.start, `set operator '${keyword}' must follow an attribute name`);
      } else if (TARGETS.has(keyword)) {
        throw new RuleParseError(t.start, `a rule has one target; '${keyword}' cannot appear again`);
      } else {
        throw new RuleParseError(t.start, `unknown attribute '${displayText(keyword)}'`);
      }
    }
  }

  // name "x" | name [op] { "x" "y" ... }
  #valueSet(spec: AttributeSpec): ValueSet {
    const name = spec.keyword;
    let t = this.#tok;
    if (t.kind === 'eof' || t.kind === ')' || t.kind === '}') {
      throw new RuleParseError(t.start, `expected a value for '${name}': ${kindHint(spec.kind)} or a { set }`);
    }
    this.#requireSpace(t);
    let op: SetOperator = 'equals';
    if (t.kind === 'word' && OPERATORS.has(t.value)) {
      op = t.value as SetOperator;
      this.#advance();
      t = this.#tok;
      if (t.kind !== '{') {
        throw new RuleParseError(t.start, `expected '{' after set operator '${op}', found ${describeToken(t)}`);
      }
      this.#requireSpace(t);
    }
    if (t.kind === '{') {
      const values = this.#set(t, name, (v) => this.#value(spec, v));
      return { op, values };
    }
    return { op, values: [this.#value(spec, t)] };
  }

  // { item item ... } — the opening brace is the current token.
  #set<T>(open: Token, what: string, item: (t: Token) => T): T[] {
    this.#advance();
    const items: T[] = [];
    for (;;) {
      const t = this.#tok;
      if (t.kind === '}') {
        if (items.length === 0) {
          throw new RuleParseError(open.start, `empty set: '${what}' needs at least one value between { and }`);
        }
        this.#advance();
        return items;
      }
      if (t.kind === 'eof' || t.kind === ')' || t.kind === '{') {
        const found = t.kind === '{' ? " (sets cannot be nested)" : `, found ${describeToken(t)}`;
        throw new RuleParseError(
          t.start,
          `expected '}' to close the set started at column ${this.#col(open.start)}${found}`,
        );
      }
      if (items.length > 0) this.#requireSpace(t);
      items.push(item(t));
    }
  }

  // Consumes the current token as one value of the attribute's kind.
  #value(spec: AttributeSpec, t: Token): string {
    const name = spec.keyword;
    if (spec.kind === 'string') {
      if (t.kind !== 'string') {
        throw new RuleParseError(t.start, `expected a quoted string for '${name}', found ${describeToken(t)}`);
      }
      this.#advance();
      return t.value;
    }
    if (t.kind !== 'word') {
      throw new RuleParseError(t.start, `expected ${kindHint(spec.kind)} for '${name}', found ${describeToken(t)}`);
    }
    if (OPERATORS.has(t.value)) {
      throw new RuleParseError(t.start, `set operator '${t.value}' must come right after '${name}'`);
    }
    this.#advance();
    return spec.kind === 'device-id' ? parseDeviceId(t.value, t.start) : parseInterfaceType(t.value, t.start);
  }

  #exceptInterface(): string[] {
    const spec: AttributeSpec = { keyword: 'except-interface', key: 'withInterface', kind: 'interface' };
    const t = this.#tok;
    if (t.kind === 'word' && OPERATORS.has(t.value)) {
      throw new RuleParseError(t.start, 'except-interface takes a pattern or a plain { set }, without a set operator');
    }
    return [...this.#valueSet(spec).values];
  }

  // if cond | if [op] { cond cond ... }
  #conditions(ifTok: Token): ConditionSet {
    let t = this.#tok;
    if (t.kind === 'eof' || t.kind === '}') {
      throw new RuleParseError(t.start, "expected a condition after 'if'");
    }
    this.#requireSpace(t);
    let op: ConditionOperator = 'equals';
    if (t.kind === 'word' && OPERATORS.has(t.value)) {
      if (t.value === 'match-all') {
        throw new RuleParseError(t.start, "set operator 'match-all' cannot be used with conditions");
      }
      op = t.value as ConditionOperator;
      this.#advance();
      t = this.#tok;
      if (t.kind !== '{') {
        throw new RuleParseError(t.start, `expected '{' after set operator '${op}', found ${describeToken(t)}`);
      }
      this.#requireSpace(t);
    }
    let items: Condition[];
    if (t.kind === '{') {
      items = this.#set(t, 'if', (c) => this.#condition(c));
      if (items.length > MAX_CONDITIONS) {
        throw new RuleParseError(ifTok.start, `too many conditions: at most ${MAX_CONDITIONS} per rule`);
      }
    } else {
      items = [this.#condition(t)];
    }
    return { op, items };
  }

  // [!]name[(argument)] — written without blanks, as in USBGuard.
  #condition(first: Token): Condition {
    let t = first;
    let negated = false;
    if (t.kind === '!') {
      negated = true;
      this.#advance();
      t = this.#tok;
      if (t.kind !== 'word' || t.spaced) {
        throw new RuleParseError(t.start, `expected a condition name right after '!', found ${describeToken(t)}`);
      }
    }
    if (t.kind !== 'word') {
      throw new RuleParseError(t.start, `expected a condition, found ${describeToken(t)}`);
    }
    const name = t.value;
    const argRule = CONDITIONS.get(name);
    if (argRule === undefined) {
      throw new RuleParseError(t.start, `unknown condition '${displayText(name)}'`);
    }
    const kind = name as ConditionKind;
    this.#advance();
    const open = this.#tok;
    const hasArg = open.kind === '(' && !open.spaced;
    if (open.kind === '(' && open.spaced) {
      throw new RuleParseError(open.start, `no space is allowed between '${name}' and '('`);
    }
    if (!hasArg) {
      if (argRule === 'required') {
        throw new RuleParseError(
          t.end,
          `condition '${name}' needs an argument, e.g. ${ARGUMENT_EXAMPLES[name] ?? `${name}(...)`}`,
        );
      }
      return noArgument(kind, negated);
    }
    if (argRule === 'none') {
      throw new RuleParseError(open.start, `condition '${name}' takes no argument`);
    }
    this.#advance();
    const unclosed = (at: Token): RuleParseError =>
      new RuleParseError(
        at.start,
        `expected ')' to close the argument of '${name}' opened at column ${this.#col(open.start)}, found ${describeToken(at)}`,
      );
    if (kind === 'allowed-matches') {
      if (this.#tok.kind === ')') throw new RuleParseError(this.#tok.start, 'allowed-matches needs a device query');
      const query: Mutable<DeviceMatch> = {};
      this.#attributes(query as Mutable<Rule>, { terminator: ')', target: null });
      const close = this.#current();
      if (close.kind !== ')') throw unclosed(close);
      this.#advance();
      return { kind, negated, query };
    }
    const arg = this.#tok;
    if (arg.kind === ')') throw new RuleParseError(arg.start, `empty argument for '${name}'`);
    if (arg.kind !== 'word' || arg.spaced) {
      throw new RuleParseError(arg.start, `expected the argument of '${name}' right after '(', found ${describeToken(arg)}`);
    }
    this.#advance();
    const close = this.#tok;
    if (close.kind !== ')' || close.spaced) throw unclosed(close);
    this.#advance();
    return this.#withArgument(kind, negated, arg);
  }

  #withArgument(kind: ConditionKind, negated: boolean, arg: Token): Condition {
    switch (kind) {
      case 'localtime': {
        const [begin, end] = parseTimeRange(arg.value, arg.start);
        if (begin > end && this.#dialect === 'usbguard') {
          throw new RuleParseError(
            arg.start,
            `localtime range ${formatTimeOfDay(begin)}-${formatTimeOfDay(end)} crosses midnight: a seatguard extension, USBGuard rejects it`,
          );
        }
        return { kind, negated, begin, end };
      }
      case 'rule-applied':
      case 'rule-evaluated': {
        const within = parseDuration(arg.value, arg.start);
        // USBGuard reads durations with strptime's %H, which stops at 23 hours.
        if (within >= SECONDS_PER_DAY && this.#dialect === 'usbguard') {
          throw new RuleParseError(
            arg.start,
            `duration '${displayText(arg.value)}' is 24 hours or more: a seatguard extension, USBGuard stops at 23:59:59`,
          );
        }
        return { kind, negated, within };
      }
      case 'random':
        return { kind, negated, probability: parseProbability(arg.value, arg.start) };
      default:
        throw new RuleParseError(arg.start, `condition '${kind}' takes no argument`);
    }
  }
}

function noArgument(kind: ConditionKind, negated: boolean): Condition {
  switch (kind) {
    case 'rule-applied':
    case 'rule-evaluated':
      return { kind, negated, within: null };
    case 'random':
      return { kind, negated, probability: null };
    case 'true':
    case 'false':
      return { kind, negated };
    default:
      throw new Error(`BUG: condition ${kind} requires an argument`);
  }
}

function kindHint(kind: ValueKind): string {
  switch (kind) {
    case 'string':
      return 'a quoted string';
    case 'device-id':
      return 'a device id vvvv:pppp';
    case 'interface':
      return 'an interface type cc:ss:pp';
  }
}
