import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { GuestShell } from './command-channel.js';
import { shq } from './shell-quote.js';
import { waitUntil } from './wait.js';

/** The udev rule file exactly as `seatguard agent install` wrote it on the host. */
export interface InstalledRule {
  /** Path relative to the install root (etc/udev/rules.d/…). */
  relPath: string;
  content: string;
  sha256: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Runs the built `seatguard agent install --root DIR` on the host (no --apply: it only writes files)
 * and returns the udev rule it wrote, so the lab tests the installer's output, not a copy of it.
 */
export async function renderInstalledRule(opts: { nodePath: string; cliPath: string; root: string }): Promise<InstalledRule> {
  fs.mkdirSync(opts.root, { recursive: true });
  const args = [opts.cliPath, 'agent', 'install', '--root', opts.root, '--state', '/var/lib/seatguard-agent', '--collector', 'https://10.0.2.2:8443'];
  await new Promise<void>((resolve, reject) => {
    execFile(opts.nodePath, args, { timeout: 60_000 }, (err, _stdout, stderr) => (err ? reject(new Error(`seatguard agent install failed: ${err.message} ${stderr}`)) : resolve()));
  });
  const dir = path.join(opts.root, 'etc', 'udev', 'rules.d');
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.rules'));
  if (names.length !== 1 || !names[0]) throw new Error(`expected one rules file from install in ${dir}, found ${names.join(',') || 'none'}`);
  const content = fs.readFileSync(path.join(dir, names[0]), 'utf8');
  return { relPath: path.posix.join('etc/udev/rules.d', names[0]), content, sha256: sha256(content) };
}

/** One assignment udevd logged for a seatguard rule line (debug log), e.g. line 3 wrote 0 to usb3's gate. */
export interface RuleAction {
  /** Line number inside the seatguard rules file. */
  line: number;
  /** sysfs device name the event was for (usb3, 2-1:1.0). */
  device: string;
  /** Attribute written (interface_authorized_default, authorized) or "RUN". */
  what: string;
  value: string;
}

/** systemd-udevd running inside the guest under `chroot /host` (the host's binary and rules). */
export interface GuestUdevd {
  pid: number;
  /** Where the rule went, as udevd inside the chroot sees it. */
  rulePath: string;
  /** `udevadm ARGS` inside the chroot (real udevadm; returns its output). */
  udevadm(args: string[], timeoutMs?: number): Promise<string>;
  isAlive(): Promise<boolean>;
  /** The seatguard rule's assignments udevd logged so far (from its debug log). */
  ruleActions(): Promise<RuleAction[]>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** Host paths (also the chroot paths: the guest sees the host root at /host). */
const UDEVD = '/lib/systemd/systemd-udevd';
const LOG = '/tmp/sg-udevd.log';
/**
 * udevadm refuses to talk to udevd from inside a chroot ("Running in chroot, ignoring request"): the
 * guest's PID 1 (busybox /init) has a different root than the chroot. On a seat both run in the real
 * root, so this override makes udevadm behave as it would there; udevd itself ignores it.
 */
const CHROOT_ENV = 'SYSTEMD_IGNORE_CHROOT=1';

/**
 * Puts `rule` into the guest's /run/udev/rules.d (a tmpfs; /etc/udev/rules.d is on the read-only 9p
 * root), checks the guest copy's sha256 against the installer's, and starts systemd-udevd with debug
 * logging. Resolves once udevd answers `udevadm control --ping`.
 */
export async function startGuestUdevd(shell: GuestShell, rule: InstalledRule): Promise<GuestUdevd> {
  const name = path.posix.basename(rule.relPath);
  if (!/^[A-Za-z0-9._-]+\.rules$/.test(name)) throw new Error(`unexpected rules file name ${name}`);
  const rulePath = `/run/udev/rules.d/${name}`;
  const b64 = Buffer.from(rule.content, 'utf8').toString('base64');
  const copied = await shell.check(
    // Tested inside the chroot: on Debian the path is an absolute symlink to /bin/udevadm.
    `chroot /host /bin/sh -c '[ -x ${UDEVD} ]' || { echo "no ${UDEVD} on the host root"; exit 3; }
mkdir -p /host/run/udev/rules.d
echo ${b64} | base64 -d > /host${rulePath}
sha256sum /host${rulePath}`,
    { timeoutMs: 20_000 },
  );
  if (copied.split(' ')[0] !== rule.sha256) throw new Error(`rule copied into the guest differs from the installer's (${copied.trim()})`);
  const out = await shell.check(
    `setsid chroot /host /usr/bin/env ${CHROOT_ENV} SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_LEVEL=debug ${UDEVD} </dev/null >${LOG} 2>&1 &
echo $!`,
    { timeoutMs: 15_000 },
  );
  const pid = Number(out.trim().split('\n').pop());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`udevd start printed no pid: ${JSON.stringify(out)}`);
  const run = (args: string[], timeoutMs = 90_000) => shell.check(`chroot /host /usr/bin/env ${CHROOT_ENV} udevadm ${args.map(shq).join(' ')} 2>&1`, { timeoutMs });
  const isAlive = async () => (await shell.run(`[ -d /proc/${pid} ] && ! grep -q '^State:.*Z' /proc/${pid}/status`, { timeoutMs: 10_000 })).code === 0;
  const log = () => shell.check(`cat ${LOG}`, { timeoutMs: 30_000 });
  await waitUntil(
    async () => {
      if (!(await isAlive())) throw new Error(`udevd exited: ${(await log()).slice(-2000)}`);
      return (await shell.run(`chroot /host /usr/bin/env ${CHROOT_ENV} udevadm control --ping`, { timeoutMs: 20_000 })).code === 0;
    },
    { timeoutMs: 90_000, intervalMs: 250, what: 'systemd-udevd in the guest to answer udevadm control --ping', failFast: (e) => e instanceof Error && e.message.startsWith('udevd exited') },
  );
  return {
    pid,
    rulePath,
    udevadm: run,
    isAlive,
    log,
    async ruleActions() {
      // grep first: the debug log is large and holds device-supplied strings; only our rule's lines are parsed.
      const r = await shell.run(`grep -F ${shq(`${rulePath}:`)} ${LOG}`, { timeoutMs: 20_000 });
      return parseRuleActions(r.output, rulePath);
    },
    async stop() {
      await shell.run(`kill -TERM ${pid}`, { timeoutMs: 10_000 });
      await waitUntil(async () => !(await isAlive()), { timeoutMs: 20_000, intervalMs: 100, what: `udevd pid ${pid} to exit` });
    },
  };
}

/**
 * Parses udevd 252 debug lines such as
 * `usb3: /run/udev/rules.d/10-x.rules:3 ATTR '/sys/devices/…/usb3/interface_authorized_default' writing '0'`
 * and `1-1:1.0: /run/udev/rules.d/10-x.rules:4 RUN '/bin/sh -c …'`.
 */
export function parseRuleActions(text: string, rulePath: string): RuleAction[] {
  const esc = rulePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const attr = new RegExp(`^([A-Za-z0-9.:_-]{1,64}): ${esc}:(\\d{1,4}) ATTR '/sys/[^']*/([a-z_]{1,64})' writing '([^']{0,8})'$`);
  const runRe = new RegExp(`^([A-Za-z0-9.:_-]{1,64}): ${esc}:(\\d{1,4}) RUN '`);
  const actions: RuleAction[] = [];
  for (const l of text.split('\n')) {
    const a = attr.exec(l);
    if (a) {
      actions.push({ device: a[1] ?? '', line: Number(a[2]), what: a[3] ?? '', value: a[4] ?? '' });
      continue;
    }
    const r = runRe.exec(l);
    if (r) actions.push({ device: r[1] ?? '', line: Number(r[2]), what: 'RUN', value: '' });
  }
  return actions;
}
