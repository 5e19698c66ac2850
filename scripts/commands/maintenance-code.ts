import type { Command } from 'commander';
import { parseDuration } from '../../collector/cli-args.js';
import { ADMIN_EXIT, callAndPrint, clean, connectOf, connectOptions, field, processIo, withSession, type AdminCliIo, type ConnectOptions } from './admin-api.js';

/**
 * `seatguard maintenance-code issue --seat ID --purpose stop|uninstall|upgrade --reason TEXT`: a
 * single-use code to stop, upgrade or uninstall one seat's agent (docs/self-protection.md §2),
 * through POST /api/v1/seats/:agent_id/maintenance-codes. The collector keeps no copy of the code
 * and offers no list of codes, so this prints it once, on stdout only.
 */

export const MAINTENANCE_PURPOSES = ['stop', 'uninstall', 'upgrade'] as const;
export type MaintenancePurposeArg = (typeof MAINTENANCE_PURPOSES)[number];

export interface MaintenanceIssueCall {
  agent: string;
  purpose: MaintenancePurposeArg;
  reason: string;
  ttlMs?: number;
}

const isPurpose = (p: string): p is MaintenancePurposeArg => (MAINTENANCE_PURPOSES as readonly string[]).includes(p);

function printIssued(io: AdminCliIo, body: unknown): void {
  const mc = field(body, 'maintenance_code');
  // The code first and alone on its line, so `| head -1` hands it on; the facts follow.
  io.out.write(`${clean(field(mc, 'code'), 64)}\n`);
  io.out.write(
    `${clean(field(mc, 'code_id'), 32)}\t${clean(field(mc, 'purpose'), 16)}\t${clean(field(mc, 'agent_id'), 64)}\tuntil ${clean(field(mc, 'expires_at'), 32)}\n`,
  );
}

/** Issues one maintenance code through the collector at `opts.url`; returns the exit code (ADMIN_EXIT). */
export async function runMaintenanceIssue(opts: ConnectOptions, call: MaintenanceIssueCall, io: AdminCliIo): Promise<number> {
  if (!isPurpose(call.purpose)) {
    io.err.write(`seatguard maintenance-code: --purpose must be one of ${MAINTENANCE_PURPOSES.join(', ')}\n`);
    return ADMIN_EXIT.usage;
  }
  const body = { purpose: call.purpose, reason: call.reason, ...(call.ttlMs === undefined ? {} : { ttl_ms: call.ttlMs }) };
  const code = await withSession('seatguard maintenance-code', opts, io, (api) =>
    callAndPrint(api, io, opts.json, `/api/v1/seats/${encodeURIComponent(call.agent)}/maintenance-codes`, body, (answer) => printIssued(io, answer)),
  );
  if (code === ADMIN_EXIT.ok && opts.json !== true) {
    io.err.write(`On the seat, as root: seatguard agent ${call.purpose} --maintenance-code <code> (single use, this seat only)\n`);
  }
  return code;
}

/** Registers `seatguard maintenance-code issue`. */
export function registerMaintenanceCodeCommand(program: Command): Command {
  const mc = program.command('maintenance-code').description('single-use codes to stop, upgrade or uninstall a seat agent (via the collector API)');
  connectOptions(mc.command('issue').description('issue a code for one seat (printed once on stdout; the collector keeps no copy)'))
    .requiredOption('--seat <agent_id>', 'the seat')
    .requiredOption('--purpose <purpose>', MAINTENANCE_PURPOSES.join('|'))
    .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
    .option('--ttl <d>', 'valid for this long (e.g. 30m, 4h; the collector bounds it, at most 24h)')
    .action(async (o: ConnectOptions & { ca?: string; seat: string; purpose: string; reason: string; ttl?: string }) => {
      const io = processIo();
      let ttlMs: number | undefined;
      try {
        ttlMs = o.ttl === undefined ? undefined : parseDuration(o.ttl);
      } catch (err) {
        io.err.write(`seatguard maintenance-code: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = ADMIN_EXIT.usage;
        return;
      }
      process.exitCode = await runMaintenanceIssue(
        connectOf(o),
        { agent: o.seat, purpose: o.purpose as MaintenancePurposeArg, reason: o.reason, ...(ttlMs === undefined ? {} : { ttlMs }) },
        io,
      );
    });
  return mc;
}
