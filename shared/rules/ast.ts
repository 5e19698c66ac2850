/**
 * The rule AST. Plain JSON data (strings, numbers, booleans, arrays, objects) so the collector
 * can store it and send it to agents; `formatRule` turns it back into canonical rule text.
 */

/** What happens to a device a rule applies to. */
export type RuleTarget = 'allow' | 'block' | 'reject';

export const RULE_TARGETS: readonly RuleTarget[] = ['allow', 'block', 'reject'];

/** How a rule's value set is compared with a device's attribute values (USBGuard semantics). */
export type SetOperator = 'all-of' | 'one-of' | 'none-of' | 'equals' | 'equals-ordered' | 'match-all';

export const SET_OPERATORS: readonly SetOperator[] = [
  'all-of',
  'one-of',
  'none-of',
  'equals',
  'equals-ordered',
  'match-all',
];

/** Operators accepted in front of a condition set; equals and equals-ordered mean all-of there. */
export type ConditionOperator = Exclude<SetOperator, 'match-all'>;

/**
 * One attribute's values and operator. `name "x"` and `name { "x" }` both parse to
 * `{ op: 'equals', values: ['x'] }`: USBGuard's default operator is `equals`.
 */
export interface ValueSet {
  readonly op: SetOperator;
  readonly values: readonly string[];
}

/**
 * The matching part of a rule. Device ids and interface types are stored in lowercase hex
 * (`'046d:*'`, `'08:06:*'`); strings are stored decoded (escapes resolved).
 */
export interface DeviceMatch {
  readonly id?: ValueSet;
  readonly serial?: ValueSet;
  readonly name?: ValueSet;
  readonly hash?: ValueSet;
  readonly parentHash?: ValueSet;
  readonly viaPort?: ValueSet;
  readonly withInterface?: ValueSet;
  readonly withConnectType?: ValueSet;
  /** Metadata only: never compared with a device. */
  readonly label?: ValueSet;
}

/** A rule condition. Times are seconds; `negated` is the leading `!`. */
export type Condition =
  | { readonly kind: 'localtime'; readonly negated: boolean; readonly begin: number; readonly end: number }
  | { readonly kind: 'allowed-matches'; readonly negated: boolean; readonly query: DeviceMatch }
  | { readonly kind: 'rule-applied'; readonly negated: boolean; readonly within: number | null }
  | { readonly kind: 'rule-evaluated'; readonly negated: boolean; readonly within: number | null }
  | { readonly kind: 'random'; readonly negated: boolean; readonly probability: number | null }
  | { readonly kind: 'true'; readonly negated: boolean }
  | { readonly kind: 'false'; readonly negated: boolean };

export type ConditionKind = Condition['kind'];

export interface ConditionSet {
  readonly op: ConditionOperator;
  readonly items: readonly Condition[];
}

/** One parsed rule. Absent attributes are absent keys (never `undefined` values). */
export interface Rule extends DeviceMatch {
  readonly target: RuleTarget;
  /**
   * seatguard extension, `allow` rules only: interface patterns (`cc:ss:pp` with wildcards) that
   * stay unauthorized although the device is allowed.
   */
  readonly exceptInterface?: readonly string[];
  readonly conditions?: ConditionSet;
}

/** Keys of {@link DeviceMatch} that hold a {@link ValueSet}. */
export type MatchKey = keyof DeviceMatch;

/** What a value of an attribute looks like in rule text. */
export type ValueKind = 'string' | 'device-id' | 'interface';

export interface AttributeSpec {
  readonly keyword: string;
  readonly key: MatchKey;
  readonly kind: ValueKind;
}

/** Matching attributes in canonical output order (the order `usbguard generate-policy` prints). */
export const MATCH_ATTRIBUTES: readonly AttributeSpec[] = [
  { keyword: 'id', key: 'id', kind: 'device-id' },
  { keyword: 'serial', key: 'serial', kind: 'string' },
  { keyword: 'name', key: 'name', kind: 'string' },
  { keyword: 'hash', key: 'hash', kind: 'string' },
  { keyword: 'parent-hash', key: 'parentHash', kind: 'string' },
  { keyword: 'via-port', key: 'viaPort', kind: 'string' },
  { keyword: 'with-interface', key: 'withInterface', kind: 'interface' },
  { keyword: 'with-connect-type', key: 'withConnectType', kind: 'string' },
  { keyword: 'label', key: 'label', kind: 'string' },
];

/** The most conditions one rule may carry (USBGuard keeps their state in a 64-bit mask). */
export const MAX_CONDITIONS = 64;

/** Longest duration accepted by rule-applied(...) / rule-evaluated(...): 9999:59:59. */
export const MAX_DURATION_SECONDS = 9999 * 3600 + 59 * 60 + 59;

/** Seconds in a day; localtime values are in [0, SECONDS_PER_DAY). */
export const SECONDS_PER_DAY = 86_400;
