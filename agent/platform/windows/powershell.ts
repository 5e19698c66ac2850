import { execFile } from 'node:child_process';
import { sanitizeText } from '../../../shared/domain/sanitize.js';
import type { CommandResult, PowerShellRunner } from '../sensors.js';

export interface PowerShellRunnerOptions {
  /** Default 'powershell.exe' (Windows PowerShell 5.1, present on every supported Windows). */
  exe?: string;
  timeoutMs?: number;
}

/**
 * Runs one script with `-EncodedCommand` (UTF-16LE base64), so nothing in the script is ever
 * re-parsed by a shell. Output is forced to UTF-8. Never rejects.
 */
export function createPowerShellRunner(opts: PowerShellRunnerOptions = {}): PowerShellRunner {
  return (script) =>
    new Promise<CommandResult>((resolve) => {
      const full = `[Console]::OutputEncoding = [System.Text.Encoding]::UTF8; $ProgressPreference = 'SilentlyContinue'; ${script}`;
      const encoded = Buffer.from(full, 'utf16le').toString('base64');
      execFile(
        opts.exe ?? 'powershell.exe',
        ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encoded],
        { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 32 * 1024 * 1024, windowsHide: true, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (!err) return resolve({ code: 0, stdout, stderr });
          const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
          if (typeof e.code === 'number') return resolve({ code: e.code, stdout, stderr });
          resolve({ code: null, stdout, stderr, error: e.killed ? 'timeout' : String(e.code ?? e.message) });
        },
      );
    });
}

/** Quotes a value for a single-quoted PowerShell string. */
export function psQuote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** A `Get-CimInstance … | Select-Object … | ConvertTo-Json` script that fails (exit 1) on CIM errors. */
export function cimQueryScript(namespace: string, className: string, properties: readonly string[], filter?: string): string {
  const f = filter ? ` -Filter ${psQuote(filter)}` : '';
  return (
    `Get-CimInstance -Namespace ${psQuote(namespace)} -ClassName ${psQuote(className)}${f} -ErrorAction Stop` +
    ` | Select-Object ${properties.map(psQuote).join(',')} | ConvertTo-Json -Compress -Depth 3`
  );
}

export type CimFailure = { kind: 'invalid_namespace' | 'invalid_class' | 'access_denied' | 'not_supported' | 'failed'; detail: string };

// WBEM_E_* HRESULTs as PowerShell prints them in FullyQualifiedErrorId.
const HRESULTS: Record<string, CimFailure['kind']> = {
  '0x8004100e': 'invalid_namespace',
  '0x80041010': 'invalid_class',
  '0x80041003': 'access_denied',
  '0x8004100c': 'not_supported',
};

/**
 * Windows PowerShell started with -EncodedCommand and redirected pipes writes its error stream as
 * CLIXML ("#< CLIXML" then <S S="Error">…</S> elements). Returns the plain error text either way.
 */
export function decodeClixmlErrors(stderr: string): string {
  if (!stderr.startsWith('#< CLIXML')) return stderr;
  const parts = [...stderr.matchAll(/<S S="Error">([\s\S]*?)<\/S>/g)].map((m) => m[1] ?? '');
  return parts
    .join('')
    .replace(/_x([0-9A-Fa-f]{4})_/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

/** Classifies a failed CIM query from its stderr (HRESULT first, then the message text). */
export function classifyCimFailure(r: CommandResult): CimFailure {
  if (r.error) return { kind: 'failed', detail: `powershell could not run (${r.error})` };
  const text = decodeClixmlErrors(r.stderr);
  const hr = /HRESULT (0x[0-9a-fA-F]{8})/.exec(text)?.[1]?.toLowerCase();
  let kind: CimFailure['kind'] | undefined = hr ? HRESULTS[hr] : undefined;
  if (!kind) {
    if (/invalid namespace/i.test(text)) kind = 'invalid_namespace';
    else if (/invalid class|not found/i.test(text)) kind = 'invalid_class';
    else if (/access (is )?denied/i.test(text)) kind = 'access_denied';
    else kind = 'failed';
  }
  const first = text.split(/\r?\n/).find((l) => l.trim().length > 0)?.trim() ?? `exit ${String(r.code)}`;
  return { kind, detail: first.slice(0, 160) };
}

/**
 * Parses ConvertTo-Json output into a list of objects: PowerShell prints nothing for an empty
 * pipeline, a bare object for one item and an array for several. Throws on anything else.
 */
export function parsePowerShellJson(stdout: string): Record<string, unknown>[] {
  const text = stdout.replace(/^\uFEFF/, '').trim();
  if (text === '') return [];
  const v: unknown = JSON.parse(text);
  const items = Array.isArray(v) ? v : [v];
  return items.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x));
}

/** Runs a CIM query and returns its rows, or the classified failure. Never throws. */
export async function runCimQuery(
  run: PowerShellRunner,
  namespace: string,
  className: string,
  properties: readonly string[],
  filter?: string,
): Promise<{ ok: true; rows: Record<string, unknown>[] } | { ok: false; failure: CimFailure }> {
  let r: CommandResult;
  try {
    r = await run(cimQueryScript(namespace, className, properties, filter));
  } catch (err) {
    return { ok: false, failure: { kind: 'failed', detail: err instanceof Error ? err.message.slice(0, 160) : 'runner failed' } };
  }
  if (r.code !== 0) return { ok: false, failure: classifyCimFailure(r) };
  try {
    return { ok: true, rows: parsePowerShellJson(r.stdout) };
  } catch {
    return { ok: false, failure: { kind: 'failed', detail: 'output is not JSON' } };
  }
}

// "/Date(ms)/" (Windows PowerShell 5.1 ConvertTo-Json of a DateTime; an offset may follow the ms).
const MS_DATE = /^\/Date\((-?[0-9]{1,15})(?:[+-][0-9]{4})?\)\/$/;
// CIM_DATETIME "yyyymmddHHMMSS.mmmmmm+UUU": what Get-WmiObject (not Get-CimInstance) returns.
const CIM_DATETIME = /^([0-9]{4})([0-9]{2})([0-9]{2})[0-9]{6}\.[0-9*]{6}[+-][0-9*]{3}$/;

/**
 * The text of a PowerShell DateTime as ConvertTo-Json wrote it. A DateTime that carries PowerShell
 * type extensions is written as an object `{ value, DisplayHint, DateTime }`; its `value` is the date.
 */
export function psDateText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const inner = (v as Record<string, unknown>).value;
    if (typeof inner === 'string') return inner;
  }
  return null;
}

/**
 * A PowerShell/WMI date as YYYY-MM-DD: "/Date(ms)/" (5.1), ISO 8601 (7.x), CIM_DATETIME
 * (Get-WmiObject) or the 5.1 wrapper object. Anything else comes back sanitized as given.
 */
export function psDate(v: unknown): string | null {
  const text = psDateText(v)?.trim();
  if (!text) return null;
  const ms = MS_DATE.exec(text);
  if (ms) return new Date(Number(ms[1])).toISOString().slice(0, 10);
  const cim = CIM_DATETIME.exec(text);
  if (cim && Number(cim[2]) >= 1 && Number(cim[2]) <= 12 && Number(cim[3]) >= 1 && Number(cim[3]) <= 31) return `${cim[1]}-${cim[2]}-${cim[3]}`;
  const d = Date.parse(text);
  return Number.isNaN(d) ? sanitizeText(text, 64) : new Date(d).toISOString().slice(0, 10);
}
