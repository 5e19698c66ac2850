import type { Command } from 'commander';
import { ADMIN_EXIT, callAndPrint, clean, connectOf, connectOptions, field, listPath, processIo, withSession, type AdminCliIo, type ConnectOptions } from './admin-api.js';

/**
 * `seatguard unlock list|show|approve|reject|revoke|execute --url URL --user U [--ca FILE]`: the
 * unlock workflow from a terminal, through the collector's HTTP API. The password comes from
 * SEATGUARD_PASSWORD or the first line of stdin; the CLI logs in (client 'cli'), uses the bearer
 * session for its one call and logs out again (scripts/commands/admin-api.ts).
 */

export type UnlockCliIo = AdminCliIo;
export type { ConnectOptions };

/** Exit codes: 0 done, 1 refused by the collector (the error code is printed), 2 usage, login or network error. */
export const UNLOCK_EXIT = ADMIN_EXIT;

export type UnlockCliCall =
  | { action: 'list'; state?: string; agent?: string; limit?: number }
  | { action: 'show'; id: string }
  | { action: 'approve'; id: string; note?: string; allowReinsert?: boolean; anyPort?: boolean }
  | { action: 'execute'; id: string; allowReinsert?: boolean; anyPort?: boolean }
  | { action: 'reject' | 'revoke'; id: string; reason: string };

function caseLine(r: unknown): string {
  const dev = `${clean(field(r, 'device', 'vendor_id'))}:${clean(field(r, 'device', 'product_id'))} ${clean(field(r, 'device', 'serial'))}`;
  const until = field(r, 'grant', 'expires_at');
  return [
    clean(field(r, 'id'), 64),
    clean(field(r, 'state'), 16),
    clean(field(r, 'agent_id'), 64),
    dev,
    clean(field(r, 'requested_at'), 32),
    until === undefined || until === null ? '-' : `until ${clean(until, 32)}`,
    clean(field(r, 'reason'), 80),
  ].join('\t');
}

function printCase(io: UnlockCliIo, r: unknown): void {
  io.out.write(`${caseLine(r)}\n`);
}

function printShow(io: UnlockCliIo, body: unknown): void {
  const r = field(body, 'request');
  io.out.write(`${caseLine(r)}\n`);
  io.out.write(`requested by ${clean(field(r, 'requested_by'))}; approvals ${clean(field(r, 'approvals', 'length'))}/${clean(field(r, 'approvals_required'))}\n`);
  const grant = field(r, 'grant');
  if (grant) {
    io.out.write(
      `grant ${clean(field(grant, 'id'))} executor ${clean(field(grant, 'executor'))} ${clean(field(grant, 'starts_at'))} → ${clean(field(grant, 'expires_at'))}` +
        ` applied ${clean(field(grant, 'applied_at'))} relocked ${clean(field(grant, 'relocked_at'))}\n`,
    );
  }
  const trail = field(body, 'trail');
  for (const t of Array.isArray(trail) ? trail : []) {
    io.out.write(`  ${clean(field(t, 'ts'), 32)}\t${clean(field(t, 'action'), 64)}\t${clean(field(t, 'actor'), 128)}\n`);
  }
}

function pathOf(call: UnlockCliCall): { path: string; body?: unknown } {
  const id = 'id' in call ? encodeURIComponent(call.id) : '';
  switch (call.action) {
    case 'list':
      return { path: listPath('/api/v1/unlock-requests', call) };
    case 'show':
      return { path: `/api/v1/unlock-requests/${id}` };
    case 'approve':
      return {
        path: `/api/v1/unlock-requests/${id}/approve`,
        body: {
          note: call.note ?? '',
          ...(call.allowReinsert === undefined ? {} : { allow_reinsert: call.allowReinsert }),
          ...(call.anyPort === undefined ? {} : { any_port: call.anyPort }),
        },
      };
    case 'execute':
      return {
        path: `/api/v1/unlock-requests/${id}/execute`,
        body: {
          ...(call.allowReinsert === undefined ? {} : { allow_reinsert: call.allowReinsert }),
          ...(call.anyPort === undefined ? {} : { any_port: call.anyPort }),
        },
      };
    case 'reject':
    case 'revoke':
      return { path: `/api/v1/unlock-requests/${id}/${call.action}`, body: { reason: call.reason } };
  }
}

/** Runs one unlock CLI call against the collector at `opts.url`; returns the exit code. */
export async function runUnlockCli(opts: ConnectOptions, call: UnlockCliCall, io: UnlockCliIo): Promise<number> {
  const { path, body } = pathOf(call);
  return withSession('seatguard unlock', opts, io, (api) =>
    callAndPrint(api, io, opts.json, path, body, (answer) => {
      if (call.action === 'list') {
        const rows = field(answer, 'requests');
        for (const r of Array.isArray(rows) ? rows : []) printCase(io, r);
        io.out.write(`${clean(field(answer, 'total'))} request(s)\n`);
      } else if (call.action === 'show') printShow(io, answer);
      else printCase(io, answer);
    }),
  );
}

/** Registers `seatguard unlock list|show|approve|reject|revoke|execute`. */
export function registerUnlockCommand(program: Command): Command {
  const unlock = program.command('unlock').description('USB unlock requests: list, show, approve, reject, execute, revoke (via the collector API)');
  const common = connectOptions;
  const run = async (o: ConnectOptions, call: UnlockCliCall) => {
    process.exitCode = await runUnlockCli(connectOf(o), call, processIo());
  };
  common(unlock.command('list').description('list requests (newest first)'))
    .option('--state <state>', 'pending|approved|active|rejected|cancelled|lapsed|ended')
    .option('--agent <agent_id>', 'only this seat')
    .option('--limit <n>', 'at most n (1-500)', (v) => Number.parseInt(v, 10))
    .action(async (o: ConnectOptions & { state?: string; agent?: string; limit?: number }) => {
      await run(o, {
        action: 'list',
        ...(o.state === undefined ? {} : { state: o.state }),
        ...(o.agent === undefined ? {} : { agent: o.agent }),
        ...(o.limit === undefined ? {} : { limit: o.limit }),
      });
    });
  common(unlock.command('show').argument('<id>', 'request id').description('one request with its audit trail')).action(
    async (id: string, o: ConnectOptions) => run(o, { action: 'show', id }),
  );
  common(unlock.command('approve').argument('<id>', 'request id').description('approve (a maintainer approval starts the grant at once)'))
    .option('--note <text>', 'approval note')
    .option('--allow-reinsert', 'keep the grant after the device is removed, until expiry')
    .option('--any-port', 'match the device on any port')
    .action(async (id: string, o: ConnectOptions & { note?: string; allowReinsert?: boolean; anyPort?: boolean }) =>
      run(o, {
        action: 'approve',
        id,
        ...(o.note === undefined ? {} : { note: o.note }),
        ...(o.allowReinsert === undefined ? {} : { allowReinsert: o.allowReinsert }),
        ...(o.anyPort === undefined ? {} : { anyPort: o.anyPort }),
      }),
    );
  common(unlock.command('execute').argument('<id>', 'request id').description('execute an approved request (maintainer): the grant starts now'))
    .option('--allow-reinsert', 'keep the grant after the device is removed, until expiry')
    .option('--any-port', 'match the device on any port')
    .action(async (id: string, o: ConnectOptions & { allowReinsert?: boolean; anyPort?: boolean }) =>
      run(o, {
        action: 'execute',
        id,
        ...(o.allowReinsert === undefined ? {} : { allowReinsert: o.allowReinsert }),
        ...(o.anyPort === undefined ? {} : { anyPort: o.anyPort }),
      }),
    );
  for (const action of ['reject', 'revoke'] as const) {
    common(unlock.command(action).argument('<id>', 'request id').description(action === 'reject' ? 'reject a request' : 'end an active grant now'))
      .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
      .action(async (id: string, o: ConnectOptions & { reason: string }) => run(o, { action, id, reason: o.reason }));
  }
  return unlock;
}
