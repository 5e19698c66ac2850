import { RuleParseError, displayColumn } from './errors.js';
import { displayText } from './text.js';

/** Token kinds. A `#` outside a string ends the rule like the end of text (a trailing comment). */
export type TokenKind = 'word' | 'string' | '{' | '}' | '(' | ')' | '!' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** 0-based offset of the first character in the rule text. */
  readonly start: number;
  readonly end: number;
  /** Raw text for words, the decoded value for strings, the character for punctuation. */
  readonly value: string;
  /** True when blanks (space or tab) precede the token. */
  readonly spaced: boolean;
}

const PUNCT = new Set(['{', '}', '(', ')', '!']);

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function isControl(c: number): boolean {
  return c < 0x20 || c === 0x7f;
}

// Words run until a blank, a quote, punctuation, a comment or a control character.
function isWordChar(c: number): boolean {
  return !(
    isBlank(c) ||
    isControl(c) ||
    c === 0x22 /* " */ ||
    c === 0x23 /* # */ ||
    c === 0x7b /* { */ ||
    c === 0x7d /* } */ ||
    c === 0x28 /* ( */ ||
    c === 0x29 /* ) */ ||
    c === 0x21 /* ! */
  );
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

// ignoreBOM keeps a decoded U+FEFF: by default TextDecoder would silently drop a leading one.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** On-demand tokenizer over one rule line; the parser pulls tokens with {@link Lexer.next}. */
export class Lexer {
  readonly text: string;
  #pos: number;

  constructor(text: string) {
    this.text = text;
    this.#pos = 0;
  }

  /** Column (1-based, code points) of an offset, for messages. */
  column(position: number): number {
    return displayColumn(this.text, position);
  }

  next(): Token {
    const text = this.text;
    const from = this.#pos;
    let i = from;
    while (i < text.length && isBlank(text.charCodeAt(i))) i++;
    const spaced = i > from;
    if (i >= text.length || text[i] === '#') {
      this.#pos = text.length;
      return { kind: 'eof', start: i, end: i, value: '', spaced };
    }
    const ch = text[i] as string;
    if (ch === '"') return this.#string(i, spaced);
    if (PUNCT.has(ch)) {
      this.#pos = i + 1;
      return { kind: ch as TokenKind, start: i, end: i + 1, value: ch, spaced };
    }
    const code = text.charCodeAt(i);
    if (isControl(code)) {
      throw new RuleParseError(
        i,
        code === 0x0a || code === 0x0d
          ? 'a rule must fit on one line'
          : `unexpected control character ${displayText(ch)}`,
      );
    }
    let j = i;
    while (j < text.length && isWordChar(text.charCodeAt(j))) j++;
    this.#pos = j;
    return { kind: 'word', start: i, end: j, value: text.slice(i, j), spaced };
  }

  // Strings may hold any character but a line break; \xHH runs are decoded as UTF-8 bytes, the way
  // `usbguard generate-policy` writes non-ASCII device names.
  #string(start: number, spaced: boolean): Token {
    const text = this.text;
    let out = '';
    let bytes: number[] = [];
    let bytesAt = -1;
    const flush = (): void => {
      if (bytes.length === 0) return;
      try {
        out += utf8.decode(Uint8Array.from(bytes));
      } catch {
        throw new RuleParseError(bytesAt, 'the \\x escapes here do not form valid UTF-8 text');
      }
      bytes = [];
    };
    let i = start + 1;
    for (;;) {
      if (i >= text.length) {
        throw new RuleParseError(
          start,
          `unterminated string: no closing '"' for the string started at column ${this.column(start)}`,
        );
      }
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x0a || c === 0x0d) {
        throw new RuleParseError(
          start,
          `unterminated string: line break inside the string started at column ${this.column(start)}`,
        );
      }
      if (c === 0x5c /* \ */) {
        const e = text.charCodeAt(i + 1);
        if (e === 0x78 /* x */) {
          if (!isHex(text.charCodeAt(i + 2)) || !isHex(text.charCodeAt(i + 3))) {
            throw new RuleParseError(
              i,
              `invalid escape '${displayText(text.slice(i, i + 4))}': \\x needs two hex digits`,
            );
          }
          if (bytes.length === 0) bytesAt = i;
          bytes.push(parseInt(text.slice(i + 2, i + 4), 16));
          i += 4;
          continue;
        }
        flush();
        if (e === 0x22 || e === 0x5c) {
          out += text[i + 1];
          i += 2;
          continue;
        }
        if (Number.isNaN(e)) {
          throw new RuleParseError(
            start,
            `unterminated string: no closing '"' for the string started at column ${this.column(start)}`,
          );
        }
        throw new RuleParseError(
          i,
          `unknown escape '${displayText(text.slice(i, i + 2))}': strings allow only \\", \\\\ and \\xHH`,
        );
      }
      flush();
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = text.charCodeAt(i + 1);
        if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) {
          throw new RuleParseError(i, 'the string contains an unpaired UTF-16 surrogate');
        }
        out += text.slice(i, i + 2);
        i += 2;
        continue;
      }
      out += text[i];
      i++;
    }
    flush();
    this.#pos = i + 1;
    return { kind: 'string', start, end: i + 1, value: out, spaced };
  }
}

/** How a token is named in a message: the word itself, or what kind of thing it is. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'the end of the rule';
    case 'string':
      return 'a quoted string';
    case 'word':
      return `'${displayText(t.value)}'`;
    default:
      return `'${t.value}'`;
  }
}
