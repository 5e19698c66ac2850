import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  displayColumn,
  displayLine,
  displayText,
  formatRule,
  scanRuleset,
  tryParseRule,
  type RuleDialect,
} from '../../shared/rules/index.js';

/** Where `rules check` writes; process.stdout / process.stderr in the CLI, buffers in tests. */
export interface TextSink {
  write(chunk: string): unknown;
}

export interface RulesCheckOptions {
  /** Ruleset file to check (one rule per line). Exactly one of `file` and `rule`. */
  readonly file?: string;
  /** A single rule to check. */
  readonly rule?: string;
  /** Print the canonical form of every rule (comments and blank lines of a file are kept). */
  readonly format?: boolean;
  /** Reject seatguard extensions (strict USBGuard compatibility). */
  readonly usbguard?: boolean;
  /** Normal output (canonical rules, "ok" summary). */
  readonly out: TextSink;
  /** Diagnostics; defaults to `out`. */
  readonly err?: TextSink;
}

/** Exit codes: 0 all rules valid, 1 at least one invalid rule, 2 usage or I/O error. */
export const RULES_EXIT = { ok: 0, invalid: 1, usage: 2 } as const;

// Ruleset files are small; a cap keeps a mistaken path (a disk image, /dev/zero) from eating memory.
const MAX_RULESET_BYTES = 4 * 1024 * 1024;

function diagnostic(source: string, line: number, lineText: string, position: number, message: string): string {
  const col = displayColumn(lineText, position);
  const shown = displayLine(lineText);
  const caret = ' '.repeat(col - 1) + '^';
  return `${source}:${line}:${col}: ${message}\n  ${shown}\n  ${caret}\n`;
}

/**
 * `seatguard rules check`: validates a ruleset file or one rule and prints every bad line as
 * `FILE:LINE:COL: reason`, the line and a caret. Returns the exit code; never exits itself.
 */
export function runRulesCheck(opts: RulesCheckOptions): number {
  const err = opts.err ?? opts.out;
  const dialect: RuleDialect = opts.usbguard ? 'usbguard' : 'seatguard';
  if ((opts.file === undefined) === (opts.rule === undefined)) {
    err.write('seatguard rules check: give either FILE or --rule TEXT\n');
    return RULES_EXIT.usage;
  }
  if (opts.rule !== undefined) {
    const text = opts.rule;
    if (text.includes('\n') || text.includes('\r')) {
      err.write('seatguard rules check: --rule takes a single line\n');
      return RULES_EXIT.usage;
    }
    const res = tryParseRule(text, { dialect });
    if (!res.ok) {
      err.write(diagnostic('<rule>', 1, text, res.error.position, res.error.message));
      return RULES_EXIT.invalid;
    }
    opts.out.write(opts.format ? formatRule(res.rule) + '\n' : 'ok: 1 rule\n');
    return RULES_EXIT.ok;
  }

  const file = opts.file as string;
  let text: string;
  try {
    const buf = readFileSync(file);
    if (buf.length > MAX_RULESET_BYTES) {
      err.write(`${displayText(file, 200)}: file is larger than ${MAX_RULESET_BYTES} bytes\n`);
      return RULES_EXIT.usage;
    }
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch (e) {
    const why = e instanceof TypeError ? 'not valid UTF-8' : ((e as NodeJS.ErrnoException).code ?? 'cannot read');
    err.write(`${displayText(file, 200)}: ${why}\n`);
    return RULES_EXIT.usage;
  }

  const source = displayText(file, 200);
  const lines = scanRuleset(text, { dialect });
  let bad = 0;
  let good = 0;
  const formatted: string[] = [];
  for (const l of lines) {
    if (l.kind === 'error') {
      bad++;
      err.write(diagnostic(source, l.line, l.text, l.error.position, l.error.message));
    } else if (l.kind === 'rule') {
      good++;
      formatted.push(formatRule(l.rule));
    } else {
      formatted.push(l.text);
    }
  }
  if (bad > 0) {
    err.write(`${bad} invalid rule${bad === 1 ? '' : 's'} in ${source}\n`);
    return RULES_EXIT.invalid;
  }
  opts.out.write(opts.format ? formatted.map((l) => l + '\n').join('') : `ok: ${good} rule${good === 1 ? '' : 's'}\n`);
  return RULES_EXIT.ok;
}

/** Adds `rules check [FILE] [--rule TEXT] [--format] [--usbguard]` to the seatguard CLI. */
export function registerRulesCommand(program: Command): void {
  const rules = program.command('rules').description('USB policy rules (USBGuard rule language)');
  rules
    .command('check')
    .description('check a ruleset file or one rule; exit 0 when valid, 1 when not, 2 on usage errors')
    .argument('[file]', 'ruleset file: one rule per line, # comments')
    .option('--rule <text>', 'check this single rule instead of a file')
    .option('--format', 'print the canonical form of the rules')
    .option('--usbguard', 'strict USBGuard compatibility: reject seatguard extensions')
    .action((file: string | undefined, flags: { rule?: string; format?: boolean; usbguard?: boolean }) => {
      process.exitCode = runRulesCheck({
        ...(file !== undefined ? { file } : {}),
        ...(flags.rule !== undefined ? { rule: flags.rule } : {}),
        format: flags.format === true,
        usbguard: flags.usbguard === true,
        out: process.stdout,
        err: process.stderr,
      });
    });
}
