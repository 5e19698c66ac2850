import { AppError } from '../errors.js';

/**
 * A rule that does not parse. `position` is the 0-based offset of the offending character in the
 * rule text (UTF-16 units, i.e. the column for ASCII text); `message` is the reason alone.
 */
export class RuleParseError extends AppError {
  readonly position: number;

  constructor(position: number, reason: string) {
    super('RULES_ERR_PARSE', reason, { details: { position } });
    this.name = 'RuleParseError';
    this.position = position;
  }
}

/** 1-based column of `position` in `text`, counted in code points (what an editor shows). */
export function displayColumn(text: string, position: number): number {
  let col = 1;
  for (let i = 0; i < position && i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Count a surrogate pair once.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < position) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    col++;
  }
  return col;
}
