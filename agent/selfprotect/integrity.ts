import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, renameSync, writeFileSync, type Stats } from 'node:fs';
import { join, relative } from 'node:path';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { EventBody } from '../../shared/protocol/messages.js';

/**
 * Self-integrity (docs/self-protection.md §3): the agent hashes its own code tree and the files of
 * its installation that it never writes itself (udev rule, unit, env file), and compares them with a
 * baseline kept in the state dir. The baseline is recorded once (first start: trust on first use)
 * and re-recorded only when a start carries an authorized upgrade (maintenance code, purpose
 * upgrade); a plain restart compares, so tampering cannot be laundered by restarting.
 */

export type IntegrityItemName = 'code' | 'udev_rule' | 'service_unit' | 'agent_config';
export const BASELINE_FILE = 'integrity-baseline.json';
/** Files hashed in the code tree, at most; more is reported, never silently skipped. */
export const MAX_CODE_FILES = 20_000;
/** agent.integrity events per check; the rest is summarized in one more. */
export const MAX_EVENTS_PER_CHECK = 20;
const MAX_FILE_BYTES = 256 * 1024 * 1024;

export interface WatchedFile {
  path: string;
  item: Exclude<IntegrityItemName, 'code'>;
  /** What the installer wrote (manifest); a file not yet in the baseline is accepted only with this hash. */
  installedSha256?: string;
}

interface FileRecord {
  path: string;
  item: IntegrityItemName;
  sha256: string | null;
  size: number;
  mtime_ms: number;
  ctime_ms: number;
  ino: number;
}

interface Baseline {
  v: 1;
  recorded_at: string;
  code_sha256: string;
  rebaselined_by: string | null;
  files: FileRecord[];
}

export interface IntegrityDeps {
  stateDir: string;
  /** Directories whose regular files are the agent's code. */
  codeRoots: readonly string[];
  /** Installation files to watch (from the install manifest); re-read at every check. */
  configFiles: () => readonly WatchedFile[];
  emit: (type: 'agent.integrity', body: EventBody<'agent.integrity'>) => void;
  log: Logger;
  nowMs: () => number;
}

export interface IntegrityStartResult {
  codeSha256: string;
  /** 'recorded': first start; 'rebaselined': an authorized upgrade; 'compared': a plain restart. */
  baseline: 'recorded' | 'rebaselined' | 'compared';
  /** Differences found at start (emitted by flush()). */
  findings: number;
}

export interface Integrity {
  /** Hashes everything (no stat shortcut), loads or records the baseline. Call once, before agent.started. */
  start(opts?: { rebaselineBy?: string | null }): IntegrityStartResult;
  /** Emits what start() found. Separate so the events follow agent.started in the outbox. */
  flush(): number;
  /** Re-checks with the stat fast path (size, mtime, ctime, inode; hash only on change); emits; returns events emitted. */
  check(): number;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface Finding {
  item: IntegrityItemName;
  path: string;
  expected: string | null;
  actual: string | null;
  detail: string;
}

export function createIntegrity(deps: IntegrityDeps): Integrity {
  const log = deps.log.child({ component: 'integrity' });
  const baselinePath = join(deps.stateDir, BASELINE_FILE);
  let baseline: Baseline | null = null;
  /** path → last stat + hash, for the fast path. */
  const cache = new Map<string, FileRecord>();
  /** path → the actual hash already reported, so one change is one event per run. */
  const reported = new Map<string, string | null>();
  let pending: Finding[] = [];

  function hashFile(path: string, item: IntegrityItemName, st: Stats, useCache: boolean): FileRecord {
    const prev = cache.get(path);
    if (useCache && prev && prev.size === st.size && prev.mtime_ms === st.mtimeMs && prev.ctime_ms === st.ctimeMs && prev.ino === st.ino) return prev;
    let sha: string | null = null;
    if (st.size <= MAX_FILE_BYTES) {
      try {
        sha = sha256(readFileSync(path));
      } catch {
        sha = null;
      }
    }
    const rec: FileRecord = { path, item, sha256: sha, size: st.size, mtime_ms: st.mtimeMs, ctime_ms: st.ctimeMs, ino: st.ino };
    cache.set(path, rec);
    return rec;
  }

  function statFile(path: string): Stats | null {
    try {
      const st = lstatSync(path);
      return st.isFile() ? st : null;
    } catch {
      return null;
    }
  }

  /** Every regular file under the code roots, sorted; symlinks and specials count as not-a-file. */
  function walkCode(): { files: string[]; truncated: boolean } {
    const files: string[] = [];
    let truncated = false;
    const walk = (dir: string) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (files.length >= MAX_CODE_FILES) {
          truncated = true;
          return;
        }
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else files.push(p);
      }
    };
    for (const r of deps.codeRoots) walk(r);
    return { files: files.sort(), truncated };
  }

  function scan(useCache: boolean): { code: FileRecord[]; config: FileRecord[]; codeSha: string; truncated: boolean } {
    const { files, truncated } = walkCode();
    const code: FileRecord[] = [];
    for (const p of files) {
      const st = statFile(p);
      code.push(st ? hashFile(p, 'code', st, useCache) : { path: p, item: 'code', sha256: null, size: 0, mtime_ms: 0, ctime_ms: 0, ino: 0 });
    }
    const config: FileRecord[] = [];
    for (const w of deps.configFiles()) {
      const st = statFile(w.path);
      config.push(st ? hashFile(w.path, w.item, st, useCache) : { path: w.path, item: w.item, sha256: null, size: 0, mtime_ms: 0, ctime_ms: 0, ino: 0 });
    }
    const lines = code.map((c) => `${rootRelative(c.path)}\0${c.sha256 ?? '-'}\n`).join('');
    return { code, config, codeSha: sha256(lines), truncated };
  }

  function rootRelative(p: string): string {
    for (const r of deps.codeRoots) {
      const rel = relative(r, p);
      if (!rel.startsWith('..')) return `${r.split('/').pop() ?? ''}/${rel}`;
    }
    return p;
  }

  function loadBaseline(): Baseline | null {
    let text: string;
    try {
      text = readFileSync(baselinePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new AppError('INTEGRITY_ERR_BASELINE', formatError('INTEGRITY_ERR_BASELINE', baselinePath, (err as Error).message), { cause: err });
    }
    try {
      const b = JSON.parse(text) as Baseline;
      if (b.v !== 1 || !Array.isArray(b.files) || typeof b.code_sha256 !== 'string') throw new Error('unexpected shape');
      return b;
    } catch (err) {
      throw new AppError('INTEGRITY_ERR_BASELINE', formatError('INTEGRITY_ERR_BASELINE', baselinePath, (err as Error).message), { cause: err });
    }
  }

  function saveBaseline(b: Baseline): void {
    const tmp = `${baselinePath}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify(b)}\n`, { mode: 0o600 });
      renameSync(tmp, baselinePath);
    } catch (err) {
      throw new AppError('INTEGRITY_ERR_BASELINE', formatError('INTEGRITY_ERR_BASELINE', baselinePath, (err as Error).message), { cause: err });
    }
  }

  function compare(b: Baseline, s: ReturnType<typeof scan>): Finding[] {
    const out: Finding[] = [];
    const base = new Map(b.files.map((f) => [f.path, f]));
    const now = new Map([...s.code, ...s.config].map((f) => [f.path, f]));
    for (const f of b.files) {
      const cur = now.get(f.path);
      // A config file the manifest no longer lists is still watched: deleting the manifest must not hide it.
      const actual = cur ? cur.sha256 : f.item === 'code' ? null : hashNow(f.path, f.item);
      if (actual === f.sha256) continue;
      out.push({ item: f.item, path: f.path, expected: f.sha256, actual, detail: actual === null ? 'missing' : 'changed' });
    }
    for (const f of s.code) if (!base.has(f.path)) out.push({ item: 'code', path: f.path, expected: null, actual: f.sha256, detail: 'added' });
    for (const w of deps.configFiles()) {
      if (base.has(w.path)) continue;
      const cur = now.get(w.path);
      // Newly installed files join the baseline when they are what the installer wrote.
      if (cur && cur.sha256 !== null && cur.sha256 === w.installedSha256) {
        b.files.push(cur);
        baselineDirty = true;
        continue;
      }
      out.push({ item: w.item, path: w.path, expected: w.installedSha256 ?? null, actual: cur?.sha256 ?? null, detail: cur ? 'differs from what install wrote' : 'missing' });
    }
    if (s.truncated) out.push({ item: 'code', path: deps.codeRoots[0] ?? '/', expected: b.code_sha256, actual: s.codeSha, detail: `more than ${MAX_CODE_FILES} files in the code tree` });
    return out;
  }

  let baselineDirty = false;

  function hashNow(path: string, item: IntegrityItemName): string | null {
    const st = statFile(path);
    return st ? hashFile(path, item, st, true).sha256 : null;
  }

  function emitFindings(findings: Finding[]): number {
    const fresh = findings.filter((f) => !reported.has(f.path) || reported.get(f.path) !== f.actual);
    const paths = new Set(findings.map((f) => f.path));
    // A file back at its baseline may be reported again if it changes again.
    for (const p of [...reported.keys()]) if (!paths.has(p)) reported.delete(p);
    let n = 0;
    for (const f of fresh) {
      reported.set(f.path, f.actual);
      if (n >= MAX_EVENTS_PER_CHECK) continue;
      emit(f);
      n++;
    }
    if (fresh.length > MAX_EVENTS_PER_CHECK) {
      const first = fresh[MAX_EVENTS_PER_CHECK]!;
      emit({ ...first, detail: `${fresh.length - MAX_EVENTS_PER_CHECK} more changed files not listed; first: ${first.detail}` });
      n++;
    }
    return n;
  }

  function emit(f: Finding): void {
    log.warn({ item: f.item, path: f.path, detail: f.detail }, 'integrity change detected');
    try {
      deps.emit('agent.integrity', { item: f.item, path: f.path.slice(0, 1024), expected_sha256: f.expected, actual_sha256: f.actual, detail: f.detail.slice(0, 512) });
    } catch (err) {
      log.error({ err }, 'could not record agent.integrity');
    }
  }

  function record(s: ReturnType<typeof scan>, by: string | null): Baseline {
    const b: Baseline = { v: 1, recorded_at: new Date(deps.nowMs()).toISOString(), code_sha256: s.codeSha, rebaselined_by: by, files: [...s.code, ...s.config.filter((f) => f.sha256 !== null)] };
    saveBaseline(b);
    return b;
  }

  return {
    start(opts = {}) {
      const s = scan(false);
      let stored: Baseline | null;
      try {
        stored = loadBaseline();
      } catch (err) {
        // A damaged baseline is itself a finding; it is kept as evidence until an upgrade code replaces it.
        log.error({ err }, 'integrity baseline unreadable');
        if (!opts.rebaselineBy) {
          pending = [{ item: 'code', path: baselinePath, expected: null, actual: null, detail: 'integrity baseline damaged or unreadable' }];
          return { codeSha256: s.codeSha, baseline: 'compared', findings: 1 };
        }
        stored = null;
      }
      if (opts.rebaselineBy) {
        baseline = record(s, opts.rebaselineBy);
        log.info({ code_sha256: s.codeSha, by: opts.rebaselineBy }, 'integrity baseline re-recorded (authorized upgrade)');
        return { codeSha256: s.codeSha, baseline: 'rebaselined', findings: 0 };
      }
      if (!stored) {
        baseline = record(s, null);
        log.info({ code_sha256: s.codeSha, files: baseline.files.length }, 'integrity baseline recorded (first start)');
        return { codeSha256: s.codeSha, baseline: 'recorded', findings: 0 };
      }
      baseline = stored;
      pending = compare(stored, s);
      if (baselineDirty) saveBaseline(stored);
      baselineDirty = false;
      return { codeSha256: s.codeSha, baseline: 'compared', findings: pending.length };
    },

    flush() {
      const p = pending;
      pending = [];
      return emitFindings(p);
    },

    check() {
      if (!baseline) return 0;
      const findings = compare(baseline, scan(true));
      if (baselineDirty) {
        try {
          saveBaseline(baseline);
        } catch (err) {
          log.error({ err }, 'could not save the integrity baseline');
        }
        baselineDirty = false;
      }
      return emitFindings(findings);
    },
  };
}
