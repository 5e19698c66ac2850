import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { isAppError } from '../../shared/errors.js';
import type { MaintenancePurpose } from '../../shared/domain/maintenance-code.js';
import { agentEntry } from '../build-root.js';
import { ipcCall } from '../ipc/ipc-client.js';
import { SEAT_EXIT, type SeatCliIo } from '../ipc/seat-cli.js';
import {
  DEFAULT_STATE_DIR,
  INSTALL_COMMANDS,
  planInstall,
  removeInstall,
  runCommands,
  UNINSTALL_COMMANDS,
  writeInstall,
  type PlannedFile,
} from './install.js';

/**
 * `seatguard agent install | uninstall | stop | upgrade`: the maintainer's commands on a seat.
 * install needs no code (it only tightens); everything that loosens goes through the running agent,
 * which checks the maintenance code and reports it before it answers.
 */

const IPC_SOCKET_FILE = 'agent.sock';

interface Opts {
  root: string;
  state: string;
  collector?: string;
  node?: string;
  entry?: string;
  ipcSocket?: string;
  maintenanceCode?: string;
  dryRun?: boolean;
  apply?: boolean;
}

const stdio: SeatCliIo = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
};


function socketOf(o: Opts): string {
  return o.ipcSocket ?? join(resolve(o.root), o.state, IPC_SOCKET_FILE);
}

function describe(files: readonly PlannedFile[], io: SeatCliIo, withContent: boolean): void {
  for (const f of files) {
    io.out(`${f.written} (mode ${f.mode.toString(8).padStart(4, '0')}, ${f.item})`);
    if (withContent) io.out(f.content.replace(/^/gm, '    '));
  }
}

function printCommands(cmds: readonly string[][], io: SeatCliIo, ran: boolean): void {
  for (const c of cmds) io.out(`${ran ? 'ran' : 'would run'}: ${c.join(' ')}`);
}

function fail(err: unknown, io: SeatCliIo): number {
  io.err(isAppError(err) ? `${err.code}: ${err.message}` : `error: ${err instanceof Error ? err.message : String(err)}`);
  return isAppError(err) && err.code === 'INSTALL_ERR_ROOT' ? SEAT_EXIT.usage : SEAT_EXIT.refused;
}

/** install: writes (or with --dry-run prints) the files; runs the commands only with --apply. */
export function runInstall(o: Opts, io: SeatCliIo = stdio): number {
  if (!o.collector) {
    io.err('CLI_ERR_USAGE: --collector URL is required');
    return SEAT_EXIT.usage;
  }
  try {
    const files = planInstall({ root: o.root, stateDir: o.state, collectorUrl: o.collector, nodePath: o.node ?? process.execPath, entryPath: o.entry ?? agentEntry(), ...(o.ipcSocket ? { agentArgs: ['--ipc-socket', o.ipcSocket] } : {}) });
    if (o.dryRun) {
      io.out('dry run: nothing written');
      describe(files, io, true);
      printCommands(INSTALL_COMMANDS, io, false);
      return SEAT_EXIT.ok;
    }
    for (const r of writeInstall(files, { written: join(resolve(o.root), o.state) })) io.out(`${r.outcome}: ${r.file.written}`);
    if (o.apply) {
      runCommands(o.root, INSTALL_COMMANDS);
      printCommands(INSTALL_COMMANDS, io, true);
    } else {
      printCommands(INSTALL_COMMANDS, io, false);
      io.out('(pass --apply to run them; first start: enroll once with SEATGUARD_ENROLL_TOKEN, see docs/self-protection.md)');
    }
    return SEAT_EXIT.ok;
  } catch (err) {
    return fail(err, io);
  }
}

/** stop / upgrade / the first half of uninstall: the running agent checks the code and reports it. */
export async function runMaintenance(o: Opts, purpose: MaintenancePurpose, io: SeatCliIo = stdio): Promise<number> {
  if (!o.maintenanceCode) {
    io.err('CLI_ERR_USAGE: --maintenance-code CODE is required');
    return SEAT_EXIT.usage;
  }
  const osUser = sanitizeText(userInfo().username, 64) || 'unknown';
  try {
    const res = await ipcCall(socketOf(o), { v: 1, op: 'maintenance', purpose, code: o.maintenanceCode, os_user: osUser });
    if (!res.ok) {
      io.err(`${res.code}: ${res.message}`);
      return SEAT_EXIT.refused;
    }
    if (res.op !== 'maintenance') {
      io.err('error: unexpected answer from the agent');
      return SEAT_EXIT.unavailable;
    }
    io.out(`accepted: ${purpose} with maintenance code ${res.code_id}; the agent reported it and is stopping (USB storage stays blocked)`);
    return SEAT_EXIT.ok;
  } catch (err) {
    io.err(isAppError(err) ? `${err.code}: ${err.message}` : String(err));
    return SEAT_EXIT.unavailable;
  }
}

/** uninstall: only after the agent accepted the code; then removes the files (and with --apply disables the unit). */
export async function runUninstall(o: Opts, io: SeatCliIo = stdio): Promise<number> {
  let files: PlannedFile[];
  try {
    // Which files: the same plan as install (contents do not matter for removal).
    files = planInstall({ root: o.root, stateDir: o.state, collectorUrl: 'http://placeholder', nodePath: '/x', entryPath: '/x' });
  } catch (err) {
    return fail(err, io);
  }
  if (o.dryRun) {
    io.out('dry run: nothing removed, the code is not checked');
    describe(files, io, false);
    printCommands(UNINSTALL_COMMANDS, io, false);
    return SEAT_EXIT.ok;
  }
  const accepted = await runMaintenance(o, 'uninstall', io);
  if (accepted !== SEAT_EXIT.ok) return accepted;
  try {
    for (const r of removeInstall(files)) io.out(`${r.outcome}: ${r.file.written}`);
    if (o.apply) runCommands(o.root, UNINSTALL_COMMANDS);
    printCommands(UNINSTALL_COMMANDS, io, o.apply === true);
    io.out(`the state dir ${join(resolve(o.root), o.state)} is kept (identity, undelivered events); remove it by hand when they are no longer needed`);
    return SEAT_EXIT.ok;
  } catch (err) {
    return fail(err, io);
  }
}

/** `agent` itself declares --collector, --state and --ipc-socket and takes them anywhere on the line. */
function optsOf(cmd: Command): Opts {
  const o = cmd.optsWithGlobals<Partial<Opts>>();
  return { ...o, root: o.root ?? '/', state: o.state ?? process.env.SEATGUARD_STATE_DIR ?? DEFAULT_STATE_DIR };
}

export function registerSelfProtectCommands(agentCmd: Command): void {
  const common = (c: Command) =>
    c
      .option('--root <dir>', 'target root directory (default /)')
      .option('--state <dir>', `the agent's state directory on the seat (default ${DEFAULT_STATE_DIR})`)
      .option('--ipc-socket <path>', `the agent's local socket (default ROOT/STATE/${IPC_SOCKET_FILE})`);

  common(agentCmd.command('install').description('install the udev backstop, the systemd unit and the agent config (Linux)'))
    .option('--collector <url>', 'collector base URL written into the agent config')
    .option('--node <path>', 'node binary the unit runs (default: this one)')
    .option('--entry <path>', 'seatguard entry script the unit runs (default: this build)')
    .option('--dry-run', 'print the files and commands, write nothing')
    .option('--apply', 'also run udevadm and systemctl (only with --root /, as root)')
    .action((_o: Opts, cmd: Command) => {
      process.exitCode = runInstall(optsOf(cmd));
    });

  common(agentCmd.command('uninstall').description('remove the installation; needs a maintenance code (purpose uninstall) checked by the running agent'))
    .option('--maintenance-code <code>', 'the code issued on the collector for this seat')
    .option('--dry-run', 'print what would be removed')
    .option('--apply', 'also run systemctl and udevadm (only with --root /, as root)')
    .action(async (_o: Opts, cmd: Command) => {
      process.exitCode = await runUninstall(optsOf(cmd));
    });

  for (const [name, purpose, what] of [
    ['stop', 'stop', 'stop the running agent with a maintenance code (purpose stop); systemd does not restart it'],
    ['upgrade', 'upgrade', 'stop the agent for an upgrade (code purpose upgrade); its next start re-records the integrity baseline'],
  ] as const) {
    common(agentCmd.command(name).description(what))
      .option('--maintenance-code <code>', 'the code issued on the collector for this seat')
      .action(async (_o: Opts, cmd: Command) => {
        process.exitCode = await runMaintenance(optsOf(cmd), purpose);
      });
  }
}
