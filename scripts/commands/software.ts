import type { Command } from 'commander';
import { parseDuration } from '../../collector/cli-args.js';
import { ADMIN_EXIT, callAndPrint, clean, connectOf, connectOptions, field, listPath, processIo, withSession, type AdminCliIo, type ConnectOptions } from './admin-api.js';

/**
 * `seatguard software list|show|request|approve|reject|execute|revoke|cancel --url URL --user U`:
 * software install cases (docs/software-requests.md) from a terminal, through the collector's
 * /api/v1/software-requests routes, with the conventions of `seatguard unlock` (admin-api.ts).
 */

export type SoftwareCliCall =
  | { action: 'list'; state?: string; agent?: string; limit?: number; offset?: number }
  | { action: 'show'; id: string }
  | { action: 'request'; agent: string; package?: string; versions?: string; sha256?: string; reason: string; durationMs?: number }
  | { action: 'approve'; id: string; note?: string }
  | { action: 'execute'; id: string }
  | { action: 'reject' | 'revoke' | 'cancel'; id: string; reason: string };

const BASE = '/api/v1/software-requests';

function target(r: unknown): string {
  const pkg = field(r, 'target', 'package');
  if (typeof pkg === 'string') {
    const versions = field(r, 'target', 'versions');
    return typeof versions === 'string' && versions !== '' ? `${clean(pkg)} (${clean(versions, 64)})` : clean(pkg);
  }
  return `sha256:${clean(field(r, 'target', 'sha256'), 64)}`;
}

function caseLine(r: unknown): string {
  const until = field(r, 'allow', 'expires_at');
  return [
    clean(field(r, 'id'), 64),
    clean(field(r, 'state'), 16),
    clean(field(r, 'agent_id'), 64),
    target(r),
    clean(field(r, 'requested_at'), 32),
    field(r, 'permanent') === true ? 'permanent' : until === undefined || until === null ? '-' : `until ${clean(until, 32)}`,
    clean(field(r, 'reason'), 80),
  ].join('\t');
}

function printShow(io: AdminCliIo, body: unknown): void {
  const r = field(body, 'request');
  io.out.write(`${caseLine(r)}\n`);
  io.out.write(
    `requested by ${clean(field(r, 'requested_by'))} (${clean(field(r, 'source'), 16)}, seat user ${clean(field(r, 'os_user'), 64)});` +
      ` approvals ${clean(field(r, 'approvals', 'length'))}/${clean(field(r, 'approvals_required'))}\n`,
  );
  const allow = field(r, 'allow');
  if (allow) {
    io.out.write(`allow rule ${clean(field(allow, 'rule_id'))} executor ${clean(field(allow, 'executor'))} ${clean(field(allow, 'starts_at'))} → ${clean(field(allow, 'expires_at'))}\n`);
  }
  if (field(r, 'fulfilled_at') !== null && field(r, 'fulfilled_at') !== undefined) {
    io.out.write(`installed ${clean(field(r, 'fulfilled_version'), 64)} at ${clean(field(r, 'fulfilled_at'), 32)}\n`);
  }
  const trail = field(body, 'trail');
  for (const t of Array.isArray(trail) ? trail : []) {
    io.out.write(`  ${clean(field(t, 'ts'), 32)}\t${clean(field(t, 'action'), 64)}\t${clean(field(t, 'actor'), 128)}\n`);
  }
}

function pathOf(call: SoftwareCliCall): { path: string; body?: unknown } {
  const one = 'id' in call ? `${BASE}/${encodeURIComponent(call.id)}` : BASE;
  switch (call.action) {
    case 'list':
      return { path: listPath(BASE, call) };
    case 'show':
      return { path: one };
    case 'request':
      return {
        path: BASE,
        body: {
          agent_id: call.agent,
          reason: call.reason,
          ...(call.package === undefined ? {} : { package: call.package }),
          ...(call.versions === undefined ? {} : { versions: call.versions }),
          ...(call.sha256 === undefined ? {} : { sha256: call.sha256 }),
          ...(call.durationMs === undefined ? {} : { duration_ms: call.durationMs }),
        },
      };
    case 'approve':
      return { path: `${one}/approve`, body: call.note === undefined ? {} : { note: call.note } };
    case 'execute':
      return { path: `${one}/execute`, body: {} };
    case 'reject':
    case 'revoke':
    case 'cancel':
      return { path: `${one}/${call.action}`, body: { reason: call.reason } };
  }
}

/** Runs one software CLI call against the collector at `opts.url`; returns the exit code (ADMIN_EXIT). */
export async function runSoftwareCli(opts: ConnectOptions, call: SoftwareCliCall, io: AdminCliIo): Promise<number> {
  const { path, body } = pathOf(call);
  return withSession('seatguard software', opts, io, (api) =>
    callAndPrint(api, io, opts.json, path, body, (answer) => {
      if (call.action === 'list') {
        const rows = field(answer, 'requests');
        for (const r of Array.isArray(rows) ? rows : []) io.out.write(`${caseLine(r)}\n`);
        io.out.write(`${clean(field(answer, 'total'))} request(s)\n`);
      } else if (call.action === 'show') printShow(io, answer);
      else io.out.write(`${caseLine(answer)}\n`);
    }),
  );
}

const int = (v: string) => Number.parseInt(v, 10);
type Opts = ConnectOptions & { ca?: string };

/** Registers `seatguard software list|show|request|approve|reject|execute|revoke|cancel`. */
export function registerSoftwareCommand(program: Command): Command {
  const software = program.command('software').description('software install requests: list, show, request, approve, reject, execute, revoke, cancel (via the collector API)');
  const run = async (o: Opts, call: SoftwareCliCall) => {
    process.exitCode = await runSoftwareCli(connectOf(o), call, processIo());
  };
  connectOptions(software.command('list').description('list requests (newest first)'))
    .option('--state <state>', 'pending|approved|active|rejected|cancelled|lapsed|ended')
    .option('--agent <agent_id>', 'only this seat')
    .option('--limit <n>', 'at most n (1-500)', int)
    .option('--offset <n>', 'skip the first n', int)
    .action(async (o: Opts & { state?: string; agent?: string; limit?: number; offset?: number }) =>
      run(o, {
        action: 'list',
        ...(o.state === undefined ? {} : { state: o.state }),
        ...(o.agent === undefined ? {} : { agent: o.agent }),
        ...(o.limit === undefined ? {} : { limit: o.limit }),
        ...(o.offset === undefined ? {} : { offset: o.offset }),
      }),
    );
  connectOptions(software.command('show').argument('<id>', 'request id').description('one request with its audit trail')).action(async (id: string, o: Opts) =>
    run(o, { action: 'show', id }),
  );
  connectOptions(software.command('request').description('ask for a package (or one binary by sha256) on one seat'))
    .requiredOption('--seat <agent_id>', 'the seat')
    .option('--package <name>', 'package name (dpkg/rpm)')
    .option('--versions <range>', 'allowed versions, e.g. ">= 7.4"')
    .option('--sha256 <hex>', 'instead of --package: one binary by its hash')
    .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
    .option('--duration <d>', 'allow for this long (90s, 30m, 24h, 7d); default: until revoked')
    .action(async (o: Opts & { seat: string; package?: string; versions?: string; sha256?: string; reason: string; duration?: string }) => {
      let durationMs: number | undefined;
      try {
        durationMs = o.duration === undefined ? undefined : parseDuration(o.duration);
      } catch (err) {
        processIo().err.write(`seatguard software: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = ADMIN_EXIT.usage;
        return;
      }
      await run(o, {
        action: 'request',
        agent: o.seat,
        reason: o.reason,
        ...(o.package === undefined ? {} : { package: o.package }),
        ...(o.versions === undefined ? {} : { versions: o.versions }),
        ...(o.sha256 === undefined ? {} : { sha256: o.sha256 }),
        ...(durationMs === undefined ? {} : { durationMs }),
      });
    });
  connectOptions(software.command('approve').argument('<id>', 'request id').description('approve (a maintainer approval allows it on the seat at once)'))
    .option('--note <text>', 'approval note')
    .action(async (id: string, o: Opts & { note?: string }) => run(o, { action: 'approve', id, ...(o.note === undefined ? {} : { note: o.note }) }));
  connectOptions(software.command('execute').argument('<id>', 'request id').description('execute an approved request (maintainer): the allow rule goes to the seat now')).action(
    async (id: string, o: Opts) => run(o, { action: 'execute', id }),
  );
  const reasons = { reject: 'reject a request', revoke: 'withdraw an active allow rule now', cancel: 'cancel a request (the requester, or with unlock.reject)' } as const;
  for (const action of ['reject', 'revoke', 'cancel'] as const) {
    connectOptions(software.command(action).argument('<id>', 'request id').description(reasons[action]))
      .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
      .action(async (id: string, o: Opts & { reason: string }) => run(o, { action, id, reason: o.reason }));
  }
  return software;
}
