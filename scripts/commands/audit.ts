import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { KeyObject } from 'node:crypto';
import { isAppError } from '../../shared/errors.js';
import { loadSigningKey, readPublicKeyFile } from '../../collector/audit/signing-key.js';
import { verifyAuditTrail, type VerifyResult } from '../../collector/audit/verify.js';
import { DB_FILE } from '../../collector/collector.js';
import { createAuditRepo, openDatabaseReadOnly } from '../../collector/store/audit-repo.js';

/** Where a command writes; process.stdout / process.stderr in the CLI, buffers in tests. */
export interface TextSink {
  write(chunk: string): unknown;
}

/** Exit codes: 0 intact, 1 broken (names the first broken row), 2 usage or I/O error. */
export const AUDIT_EXIT = { ok: 0, broken: 1, usage: 2 } as const;

export interface AuditVerifyOptions {
  data: string;
  /**
   * Ed25519 public key (SPKI PEM) kept away from the collector. When given, ONLY it is trusted:
   * someone who replaced the key in DATA/keys cannot vouch for their own checkpoints.
   */
  publicKey?: string;
  json?: boolean;
  out: TextSink;
  err: TextSink;
}

/**
 * `seatguard audit verify --data DIR`: opens the database read-only and walks the audit chain,
 * the event seals and the signed checkpoints. Returns the exit code; never exits itself.
 */
export function runAuditVerify(opts: AuditVerifyOptions): number {
  const dbPath = join(opts.data, DB_FILE);
  if (!existsSync(dbPath)) {
    opts.err.write(`seatguard audit verify: no collector database at ${dbPath}\n`);
    return AUDIT_EXIT.usage;
  }
  let keys: KeyObject[];
  try {
    if (opts.publicKey !== undefined) keys = [readPublicKeyFile(opts.publicKey)];
    else {
      const k = loadSigningKey(opts.data, { create: false });
      keys = k ? [k.publicKey] : [];
    }
  } catch (err) {
    opts.err.write(`${isAppError(err) ? `${err.code}: ` : ''}${err instanceof Error ? err.message : String(err)}\n`);
    return AUDIT_EXIT.usage;
  }
  let result: VerifyResult;
  try {
    const db = openDatabaseReadOnly(dbPath);
    try {
      const repo = createAuditRepo(db);
      result = db.transaction(() => verifyAuditTrail(repo, keys)).deferred();
    } finally {
      db.close();
    }
  } catch (err) {
    opts.err.write(`seatguard audit verify: cannot read ${dbPath}: ${err instanceof Error ? err.message : String(err)}\n`);
    return AUDIT_EXIT.usage;
  }
  if (opts.json === true) opts.out.write(`${JSON.stringify(result)}\n`);
  if (!result.ok) {
    const where = result.table === 'events' ? 'event' : result.table === 'audit_checkpoints' ? 'checkpoint' : 'record';
    opts.err.write(`AUDIT_ERR_BROKEN: audit trail broken at ${where} ${result.firstBrokenId} (${result.table}): ${result.reason}\n`);
    return AUDIT_EXIT.broken;
  }
  if (opts.json !== true) {
    opts.out.write(
      `audit trail intact: ${result.records} records, ${result.checkpoints} signed checkpoints, ${result.events} events sealed; ` +
        `head ${result.headId} ${result.headHash}` +
        (result.unsignedTail > 0 ? `; the last ${result.unsignedTail} records are not covered by a checkpoint yet` : '') +
        '\n',
    );
  }
  return AUDIT_EXIT.ok;
}

/** Registers `seatguard audit verify`. */
export function registerAuditCommand(program: Command): Command {
  const audit = program.command('audit').description('the tamper-evident audit trail');
  audit
    .command('verify')
    .description('check the hash chain, event seals and signed checkpoints; exit 1 names the first broken row')
    .requiredOption('--data <dir>', 'collector data directory')
    .option('--public-key <file>', 'trust only this Ed25519 public key (PEM) for checkpoint signatures')
    .option('--json', 'print the result as JSON')
    .action((o: { data: string; publicKey?: string; json?: boolean }) => {
      process.exitCode = runAuditVerify({
        data: o.data,
        ...(o.publicKey === undefined ? {} : { publicKey: o.publicKey }),
        ...(o.json === undefined ? {} : { json: o.json }),
        out: process.stdout,
        err: process.stderr,
      });
    });
  return audit;
}
