import type { Rule } from './ast.js';
import { RuleParseError, displayColumn } from './errors.js';
import { parseRule, type ParseOptions } from './parser.js';

/** One error of a ruleset file. `line` and `column` are 1-based (column in code points). */
export interface RulesetError {
  readonly line: number;
  readonly column: number;
  /** 0-based offset in the line, as in {@link RuleParseError.position}. */
  readonly position: number;
  readonly message: string;
}

export interface ParsedRuleset {
  readonly rules: Rule[];
  /** `lines[i]` is the 1-based line of `rules[i]`. */
  readonly lines: number[];
  readonly errors: RulesetError[];
}

/** One line of a ruleset file, classified. */
export type RulesetLine =
  | { readonly kind: 'blank' | 'comment'; readonly line: number; readonly text: string }
  | { readonly kind: 'rule'; readonly line: number; readonly text: string; readonly rule: Rule }
  | { readonly kind: 'error'; readonly line: number; readonly text: string; readonly error: RulesetError };

const BLANK = /^[ \t]*$/;
const COMMENT = /^[ \t]*#/;

/** Splits ruleset text into lines (LF or CRLF, leading BOM ignored) and parses each rule line. */
export function scanRuleset(text: string, options: ParseOptions = {}): RulesetLine[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const out: RulesetLine[] = [];
  const raw = body.split('\n');
  // A final newline does not start another line.
  if (raw.length > 1 && raw[raw.length - 1] === '') raw.pop();
  for (let i = 0; i < raw.length; i++) {
    const line = i + 1;
    const lineText = (raw[i] as string).endsWith('\r') ? (raw[i] as string).slice(0, -1) : (raw[i] as string);
    if (BLANK.test(lineText)) {
      out.push({ kind: 'blank', line, text: lineText });
    } else if (COMMENT.test(lineText)) {
      out.push({ kind: 'comment', line, text: lineText });
    } else {
      try {
        out.push({ kind: 'rule', line, text: lineText, rule: parseRule(lineText, options) });
      } catch (err) {
        if (!(err instanceof RuleParseError)) throw err;
        const error = { line, column: displayColumn(lineText, err.position), position: err.position, message: err.message };
        out.push({ kind: 'error', line, text: lineText, error });
      }
    }
  }
  return out;
}

/**
 * Parses a ruleset file: one rule per line, `#` comments, blank lines. Every bad line is reported
 * (first problem of each line); good lines are still returned.
 */
export function parseRuleset(text: string, options: ParseOptions = {}): ParsedRuleset {
  const rules: Rule[] = [];
  const lines: number[] = [];
  const errors: RulesetError[] = [];
  for (const l of scanRuleset(text, options)) {
    if (l.kind === 'rule') {
      rules.push(l.rule);
      lines.push(l.line);
    } else if (l.kind === 'error') {
      errors.push(l.error);
    }
  }
  return { rules, lines, errors };
}
