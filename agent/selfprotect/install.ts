import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { AppError, formatError } from '../../shared/errors.js';
import { AGENT_NODE_ENV, AGENT_NODE_FLAGS } from '../platform/linux/agent-node-flags.js';
import type { IntegrityItemName } from './integrity.js';
import { parseUdevRules, renderUdevRule, UDEV_RULE_FILE } from './udev-rule.js';

/**
 * `seatguard agent install` / `uninstall` (Linux): the files that keep a seat locked without the
 * agent (udev backstop) and keep the agent running (systemd unit), written beneath a root so tests
 * and image builders can target a directory. Commands run only with --apply on the real root.
 */

export const UNIT_NAME = 'seatguard-agent.service';
export const UNIT_FILE = `etc/systemd/system/${UNIT_NAME}`;
export const ENV_FILE = 'etc/seatguard/agent.env';
/** In the state dir: what install wrote, read by the agent to know which config files to watch. */
export const MANIFEST_FILE = 'install.json';
/** The agent exits with this after an authorized stop; the unit's RestartPreventExitStatus keeps it down. */
export const AUTHORIZED_STOP_EXIT = 10;
export const DEFAULT_STATE_DIR = '/var/lib/seatguard-agent';

export interface InstallOptions {
  /** Target root, default '/'. */
  root: string;
  /** The agent's state dir as seen on the seat (absolute). */
  stateDir: string;
  collectorUrl: string;
  /** The node binary and the seatguard entry script the unit runs (absolute, on the seat). */
  nodePath: string;
  entryPath: string;
  /** Extra `agent` arguments, e.g. ['--ipc-socket', '/run/seatguard/agent.sock']. */
  agentArgs?: string[];
}

export interface PlannedFile {
  /** Path on the seat (absolute, as the unit and the agent see it). */
  target: string;
  /** Where it is written: beneath the root. */
  written: string;
  item: IntegrityItemName | 'manifest';
  mode: number;
  content: string;
}

export interface ManifestEntry {
  path: string;
  item: IntegrityItemName;
  sha256: string;
}

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

// systemd unit files and env files must not carry control characters or newlines from arguments.
function safeArg(s: string, what: string): string {
  const control = [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (s === '' || control || /[\s"'\\$`;%]/.test(s)) throw new AppError('INSTALL_ERR_ROOT', formatError('INSTALL_ERR_ROOT', what, 'contains whitespace, quotes or control characters'));
  return s;
}

export function renderUnit(o: Pick<InstallOptions, 'nodePath' | 'entryPath' | 'stateDir' | 'agentArgs'>): string {
  const exec = [o.nodePath, ...AGENT_NODE_FLAGS, o.entryPath, 'agent', '--platform', 'linux', ...(o.agentArgs ?? [])].map((a) => safeArg(a, 'ExecStart argument')).join(' ');
  // Before EnvironmentFile=: systemd lets the file's assignments win, so a seat can still override them.
  const env = Object.entries(AGENT_NODE_ENV).map(([k, v]) => `Environment=${safeArg(`${k}=${v}`, 'Environment assignment')}\n`).join('');
  return `# Written by \`seatguard agent install\`; docs/self-protection.md. Changes are reported (agent.integrity).
[Unit]
Description=seatguard seat agent (USB storage lock, compliance sensors)
# Start as early as sysfs and local disks allow: before anyone can log in. The lock never waits for
# the network; the udev rule covers the time before this starts.
DefaultDependencies=no
After=local-fs.target systemd-udevd.service systemd-udev-trigger.service
Before=display-manager.service getty.target systemd-user-sessions.service shutdown.target
Conflicts=shutdown.target
# Never give up restarting it.
StartLimitIntervalSec=0

[Service]
Type=simple
${env}EnvironmentFile=/${ENV_FILE}
ExecStart=${exec}
# Any exit or kill restarts it, except the authorized stop (exit ${AUTHORIZED_STOP_EXIT}, a maintenance code).
Restart=always
RestartSec=1
RestartPreventExitStatus=${AUTHORIZED_STOP_EXIT}
# ...and that stop is a clean "inactive", not "failed".
SuccessExitStatus=${AUTHORIZED_STOP_EXIT}
TimeoutStopSec=10
# Hardening. Not used, on purpose: ProtectKernelTunables (it makes /sys read-only, and the lock writes
# sysfs), MemoryDenyWriteExecute (V8's JIT), CapabilityBoundingSet (enforce mode kills processes of
# any user; the sensors read /proc of every process).
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${safeArg(o.stateDir, 'state dir')} -/run/seatguard
RuntimeDirectory=seatguard
RuntimeDirectoryPreserve=yes
ProtectHome=read-only
PrivateTmp=yes
ProtectKernelModules=yes
ProtectClock=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native

[Install]
WantedBy=sysinit.target multi-user.target
`;
}

export function renderEnv(o: Pick<InstallOptions, 'collectorUrl' | 'stateDir'>): string {
  if (!/^https?:\/\/[A-Za-z0-9.:[\]_-]+(\/[A-Za-z0-9._~/-]*)?$/.test(o.collectorUrl)) {
    throw new AppError('INSTALL_ERR_ROOT', formatError('INSTALL_ERR_ROOT', 'collector URL', 'expected http(s)://host[:port]'));
  }
  return `# Written by \`seatguard agent install\`. Changing it is reported (agent.integrity, high).
SEATGUARD_COLLECTOR_URL=${o.collectorUrl}
SEATGUARD_STATE_DIR=${safeArg(o.stateDir, 'state dir')}
`;
}

/** The files of an installation, in write order (the manifest last, with the others' hashes). */
export function planInstall(o: InstallOptions): PlannedFile[] {
  if (!isAbsolute(o.stateDir)) throw new AppError('INSTALL_ERR_ROOT', formatError('INSTALL_ERR_ROOT', o.stateDir, 'the state dir must be absolute'));
  const root = resolve(o.root);
  const under = (p: string) => join(root, p);
  const udev = renderUdevRule();
  // Never write a rule udev would skip: that would leave the gate open without a word.
  parseUdevRules(udev);
  const files: PlannedFile[] = [
    { target: `/${UDEV_RULE_FILE}`, written: under(UDEV_RULE_FILE), item: 'udev_rule', mode: 0o644, content: udev },
    { target: `/${UNIT_FILE}`, written: under(UNIT_FILE), item: 'service_unit', mode: 0o644, content: renderUnit(o) },
    { target: `/${ENV_FILE}`, written: under(ENV_FILE), item: 'agent_config', mode: 0o600, content: renderEnv(o) },
  ];
  // The agent runs with the same root in tests (a temp tree); on a seat root is '/' and both agree.
  const manifest: { v: 1; files: ManifestEntry[] } = {
    v: 1,
    files: files.map((f) => ({ path: f.written, item: f.item as IntegrityItemName, sha256: sha256(f.content) })),
  };
  files.push({
    target: join(o.stateDir, MANIFEST_FILE),
    written: join(root, o.stateDir, MANIFEST_FILE),
    item: 'manifest',
    mode: 0o600,
    content: `${JSON.stringify(manifest, null, 2)}\n`,
  });
  return files;
}

export type FileOutcome = 'written' | 'unchanged' | 'removed' | 'absent';

function writeAtomic(path: string, content: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** Writes what differs (idempotent) and fixes modes; returns what happened to each file. */
export function writeInstall(files: readonly PlannedFile[], stateDir: { written: string }): Array<{ file: PlannedFile; outcome: FileOutcome }> {
  const out: Array<{ file: PlannedFile; outcome: FileOutcome }> = [];
  for (const f of files) {
    try {
      const dir = dirname(f.written);
      if (f.item === 'manifest') {
        mkdirSync(dirname(stateDir.written), { recursive: true, mode: 0o755 });
        mkdirSync(stateDir.written, { recursive: true, mode: 0o700 });
        chmodSync(stateDir.written, 0o700);
      } else {
        mkdirSync(dir, { recursive: true, mode: 0o755 });
      }
      const same = existsSync(f.written) && readFileSync(f.written, 'utf8') === f.content;
      if (same) chmodSync(f.written, f.mode);
      else writeAtomic(f.written, f.content, f.mode);
      out.push({ file: f, outcome: same ? 'unchanged' : 'written' });
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('INSTALL_ERR_WRITE', formatError('INSTALL_ERR_WRITE', f.written, (err as Error).message), { cause: err });
    }
  }
  return out;
}

/** Removes the installed files (not the state dir: it holds the identity and undelivered events). */
export function removeInstall(files: readonly PlannedFile[]): Array<{ file: PlannedFile; outcome: FileOutcome }> {
  return files.map((f) => {
    try {
      if (!existsSync(f.written)) return { file: f, outcome: 'absent' as const };
      if (!statSync(f.written).isFile()) throw new Error('not a regular file');
      unlinkSync(f.written);
      return { file: f, outcome: 'removed' as const };
    } catch (err) {
      throw new AppError('INSTALL_ERR_WRITE', formatError('INSTALL_ERR_WRITE', f.written, (err as Error).message), { cause: err });
    }
  });
}

export const INSTALL_COMMANDS: readonly string[][] = [
  ['udevadm', 'control', '--reload'],
  // Replays "add" for what is already plugged in: closes the gates now, deauthorizes bound storage.
  ['udevadm', 'trigger', '--action=add', '--subsystem-match=usb'],
  ['systemctl', 'daemon-reload'],
  ['systemctl', 'enable', '--now', UNIT_NAME],
];

export const UNINSTALL_COMMANDS: readonly string[][] = [
  // The agent already stopped itself (authorized); `disable` without --now sends no signal.
  ['systemctl', 'disable', UNIT_NAME],
  ['systemctl', 'daemon-reload'],
  ['udevadm', 'control', '--reload'],
];

/** Runs commands only on the real root as uid 0; anything else is refused, never half-done. */
export function runCommands(root: string, commands: readonly string[][], run: (cmd: string, args: string[]) => void = defaultRun): void {
  if (resolve(root) !== '/') throw new AppError('INSTALL_ERR_ROOT', formatError('INSTALL_ERR_ROOT', root, '--apply only works with --root /'));
  if (process.getuid?.() !== 0) throw new AppError('INSTALL_ERR_ROOT', formatError('INSTALL_ERR_ROOT', root, '--apply needs root'));
  for (const [cmd, ...args] of commands) run(cmd!, args);
}

function defaultRun(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], timeout: 60_000 });
  } catch (err) {
    throw new AppError('INSTALL_ERR_COMMAND', formatError('INSTALL_ERR_COMMAND', [cmd, ...args].join(' '), (err as Error).message), { cause: err });
  }
}

/** Reads the manifest install wrote into the state dir; null when absent or damaged. */
export function readManifest(stateDir: string): ManifestEntry[] | null {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(stateDir, MANIFEST_FILE), 'utf8'));
  } catch {
    return null;
  }
  const files = (raw as { files?: unknown }).files;
  if (!Array.isArray(files)) return null;
  const ok = files.filter(
    (f): f is ManifestEntry =>
      typeof f === 'object' && f !== null &&
      typeof (f as ManifestEntry).path === 'string' && isAbsolute((f as ManifestEntry).path) &&
      ['udev_rule', 'service_unit', 'agent_config'].includes((f as ManifestEntry).item) &&
      typeof (f as ManifestEntry).sha256 === 'string' && /^[0-9a-f]{64}$/.test((f as ManifestEntry).sha256),
  );
  return ok.slice(0, 16);
}
