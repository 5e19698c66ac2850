import { existsSync, mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { systemClock } from '../../shared/clock.js';
import { isAppError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/logger.js';
import { createAuditLog } from '../../collector/audit/audit-log.js';
import { loadSigningKey } from '../../collector/audit/signing-key.js';
import { DB_FILE } from '../../collector/collector.js';
import { openStore, type Store } from '../../collector/store/store.js';
import type { ScryptParams } from '../../collector/users/password.js';
import { createUserService, type UserService } from '../../collector/users/user-service.js';
import type { UserView } from '../../collector/users/user-view.js';

/** Where a command writes; process.stdout / process.stderr in the CLI, buffers in tests. */
export interface TextSink {
  write(chunk: string): unknown;
}

export interface UserCliIo {
  out: TextSink;
  err: TextSink;
  /** The password source of `user add` (one line). */
  stdin?: NodeJS.ReadableStream;
}

/** Exit codes: 0 done, 1 refused (validation, duplicate, unknown user), 2 usage or I/O error. */
export const USER_EXIT = { ok: 0, refused: 1, usage: 2 } as const;

export interface UserAddOptions {
  data: string;
  username: string;
  roles: string[];
  departments?: string[];
  allDepartments?: boolean;
  displayName?: string;
  /** Tests pass cheaper parameters; the CLI uses the default. */
  scrypt?: ScryptParams;
}

/**
 * Reads one line (without its \n or \r\n) from `stream`, at most `maxBytes`; resolves at the
 * first newline or at the end of the stream.
 */
export function readLine(stream: NodeJS.ReadableStream, maxBytes = 4096): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
      stream.pause();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString('utf8').replace(/\r$/, ''));
    };
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      const nl = buf.indexOf(0x0a);
      const part = nl >= 0 ? buf.subarray(0, nl) : buf;
      size += part.length;
      if (size > maxBytes) return finish(new Error(`line longer than ${maxBytes} bytes`));
      chunks.push(part);
      if (nl >= 0) finish();
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(err);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.resume();
  });
}

function withService<T>(data: string, fn: (svc: UserService, store: Store) => T): T {
  // Through the database directly (WAL + busy_timeout), so it works beside a running collector.
  // The key is only read: checkpoints are the collector's job, and a CLI run as another OS user
  // must not create a key the collector cannot read.
  const store = openStore(join(data, DB_FILE));
  try {
    const audit = createAuditLog(store.db, { clock: systemClock, log: silentLogger(), signingKey: loadSigningKey(data, { create: false }) });
    return fn(createUserService({ store, audit, clock: systemClock, log: silentLogger() }), store);
  } finally {
    store.close();
  }
}

/** CLI changes are made by 'system'; the OS account that ran the command goes into the detail. */
function cliContext(): Record<string, unknown> {
  let osUser = 'unknown';
  try {
    osUser = userInfo().username;
  } catch {
    /* no passwd entry (containers) */
  }
  return { via: 'cli', os_user: osUser };
}

function report(io: UserCliIo, err: unknown): number {
  if (isAppError(err)) {
    io.err.write(`${err.code}: ${err.message}\n`);
    return err.code.startsWith('USER_ERR_') ? USER_EXIT.refused : USER_EXIT.usage;
  }
  io.err.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  return USER_EXIT.usage;
}

/**
 * `seatguard user add`: creates an account; the password is the first line of stdin (at least 10
 * characters). Audited as `user.create` by actor 'system' (via the CLI). Returns the exit code.
 */
export async function runUserAdd(opts: UserAddOptions, io: UserCliIo): Promise<number> {
  const deps = opts.departments ?? [];
  if (opts.allDepartments === true && deps.length > 0) {
    io.err.write('seatguard user add: give --department or --all-departments, not both\n');
    return USER_EXIT.usage;
  }
  if (opts.allDepartments !== true && deps.length === 0) {
    io.err.write('seatguard user add: give --department D (repeatable) or --all-departments\n');
    return USER_EXIT.usage;
  }
  if (!io.stdin) {
    io.err.write('seatguard user add: no stdin to read the password from\n');
    return USER_EXIT.usage;
  }
  let password: string;
  try {
    if ((io.stdin as { isTTY?: boolean }).isTTY) io.err.write('Password (one line): ');
    password = await readLine(io.stdin);
  } catch (err) {
    return report(io, err);
  }
  let created: UserView;
  try {
    mkdirSync(opts.data, { recursive: true, mode: 0o700 });
    const store = openStore(join(opts.data, DB_FILE));
    try {
      const audit = createAuditLog(store.db, { clock: systemClock, log: silentLogger(), signingKey: loadSigningKey(opts.data, { create: false }) });
      const svc = createUserService({ store, audit, clock: systemClock, log: silentLogger(), ...(opts.scrypt ? { scrypt: opts.scrypt } : {}) });
      created = await svc.create(
        {
          username: opts.username,
          password,
          roles: opts.roles,
          departments: opts.allDepartments === true ? '*' : deps,
          ...(opts.displayName === undefined ? {} : { displayName: opts.displayName }),
        },
        'system',
        cliContext(),
      );
    } finally {
      store.close();
    }
  } catch (err) {
    return report(io, err);
  }
  io.out.write(`created user ${created.username} (${created.id}) roles=${created.roles.join(',')} departments=${formatDepartments(created.departments)}\n`);
  return USER_EXIT.ok;
}

function formatDepartments(d: string[] | '*'): string {
  return d === '*' ? '*' : d.join(',');
}

/** `seatguard user list`: one line per account (never a hash). */
export function runUserList(opts: { data: string; json?: boolean }, io: UserCliIo): number {
  if (!existsSync(join(opts.data, DB_FILE))) {
    io.err.write(`seatguard user list: no collector database in ${opts.data}\n`);
    return USER_EXIT.usage;
  }
  try {
    const users = withService(opts.data, (svc) => svc.list());
    if (opts.json === true) {
      io.out.write(`${JSON.stringify(users, null, 2)}\n`);
      return USER_EXIT.ok;
    }
    for (const u of users) {
      const state = u.disabled ? 'disabled' : u.builtin ? 'builtin' : 'active';
      io.out.write(`${u.username}\t${u.id}\t${u.roles.join(',')}\t${formatDepartments(u.departments)}\t${state}\n`);
    }
    return USER_EXIT.ok;
  } catch (err) {
    return report(io, err);
  }
}

/** `seatguard user disable --username U`: disables the account and ends its sessions and tokens. */
export function runUserDisable(opts: { data: string; username: string }, io: UserCliIo): number {
  if (!existsSync(join(opts.data, DB_FILE))) {
    io.err.write(`seatguard user disable: no collector database in ${opts.data}\n`);
    return USER_EXIT.usage;
  }
  try {
    const user = withService(opts.data, (svc) => {
      const found = svc.getByUsername(opts.username);
      if (!found) return undefined;
      return svc.disable(found.id, 'system', cliContext());
    });
    if (!user) {
      io.err.write(`USER_ERR_NOT_FOUND: User ${opts.username} not found\n`);
      return USER_EXIT.refused;
    }
    io.out.write(`disabled user ${user.username} (${user.id})\n`);
    return USER_EXIT.ok;
  } catch (err) {
    return report(io, err);
  }
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** Registers `seatguard user add|list|disable`. */
export function registerUserCommand(program: Command): Command {
  const io = (): UserCliIo => ({ out: process.stdout, err: process.stderr, stdin: process.stdin });
  const user = program.command('user').description('console and API user accounts');
  user
    .command('add')
    .description('create a user; the password is read from stdin (one line, at least 10 characters)')
    .requiredOption('--data <dir>', 'collector data directory')
    .requiredOption('--username <name>', 'user name (2-64 of A-Z a-z 0-9 . _ -)')
    .requiredOption('--role <role>', 'admin|maintainer|approver|duty|officer|auditor (repeatable)', collect, [])
    .option('--department <name>', 'department in scope (repeatable)', collect, [])
    .option('--all-departments', 'all departments in scope')
    .option('--display-name <name>', 'name shown in the console')
    .action(async (o: { data: string; username: string; role: string[]; department: string[]; allDepartments?: boolean; displayName?: string }) => {
      process.exitCode = await runUserAdd(
        {
          data: o.data,
          username: o.username,
          roles: o.role,
          departments: o.department,
          ...(o.allDepartments === undefined ? {} : { allDepartments: o.allDepartments }),
          ...(o.displayName === undefined ? {} : { displayName: o.displayName }),
        },
        io(),
      );
    });
  user
    .command('list')
    .description('list user accounts')
    .requiredOption('--data <dir>', 'collector data directory')
    .option('--json', 'JSON output')
    .action((o: { data: string; json?: boolean }) => {
      process.exitCode = runUserList(o, io());
    });
  user
    .command('disable')
    .description('disable a user and end its sessions and API tokens')
    .requiredOption('--data <dir>', 'collector data directory')
    .requiredOption('--username <name>', 'user name')
    .action((o: { data: string; username: string }) => {
      process.exitCode = runUserDisable(o, io());
    });
  return user;
}
