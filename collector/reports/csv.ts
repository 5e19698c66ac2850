import { Readable } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

/** UTF-8 byte order mark: without it Excel reads UTF-8 CSV as the local code page and garbles Chinese. */
export const CSV_BOM = '\uFEFF';

// OWASP CSV injection: a spreadsheet evaluates cells starting with these as formulas.
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One RFC 4180 cell. null/undefined → empty; objects → JSON. SECURITY: text starting with
 * = + - @ TAB or CR gets a leading ' so it is shown, never evaluated. Numbers and booleans are ours.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  let s = typeof v === 'string' ? v : JSON.stringify(v);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV record with its CRLF line end. */
export function csvRow(cells: readonly unknown[]): string {
  return cells.map(csvCell).join(',') + '\r\n';
}

/**
 * A CSV byte stream: BOM, header, then the rows of `pages()` — each page is one short synchronous
 * read, and the event loop runs between pages so ingest and other requests are not starved.
 */
export function csvStream(header: readonly string[], pages: () => Iterable<ReadonlyArray<readonly unknown[]>>): Readable {
  async function* generate(): AsyncGenerator<string> {
    yield CSV_BOM + csvRow(header);
    for (const rows of pages()) {
      if (rows.length > 0) yield rows.map(csvRow).join('');
      await yieldToLoop();
    }
  }
  return Readable.from(generate(), { objectMode: false });
}
