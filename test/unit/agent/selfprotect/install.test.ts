import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runInstall } from '../../../../agent/selfprotect/cli.js';
import { AUTHORIZED_STOP_EXIT, ENV_FILE, INSTALL_COMMANDS, MANIFEST_FILE, planInstall, readManifest, removeInstall, renderUnit, runCommands, UNIT_FILE, writeInstall } from '../../../../agent/selfprotect/install.js';
import { parseUdevLine, parseUdevRules, renderUdevRule, UDEV_RULE_FILE } from '../../../../agent/selfprotect/udev-rule.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});
function fakeRoot(): string {
  const r = mkdtempSync(join(tmpdir(), 'sg-install-'));
  roots.push(r);
  return r;
}
const opts = (root: string) => ({ root, stateDir: '/var/lib/seatguard-agent', collectorUrl: 'https://10.0.0.5:8443', nodePath: '/usr/bin/node', entryPath: '/opt/seatguard/dist/scripts/seatguard.js' });
const mode = (p: string) => statSync(p).mode & 0o777;
function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) } };
}

describe('seatguard agent install into a fake root', () => {
  it('writes the udev rule, the unit, the env file and the manifest with their modes', () => {
    const root = fakeRoot();
    const files = planInstall(opts(root));
    const res = writeInstall(files, { written: join(root, 'var/lib/seatguard-agent') });
    expect(res.map((r) => r.outcome)).toEqual(['written', 'written', 'written', 'written']);
    expect(mode(join(root, UDEV_RULE_FILE))).toBe(0o644);
    expect(mode(join(root, UNIT_FILE))).toBe(0o644);
    expect(mode(join(root, ENV_FILE))).toBe(0o600);
    expect(mode(join(root, 'var/lib/seatguard-agent'))).toBe(0o700);
    expect(mode(join(root, 'var/lib/seatguard-agent', MANIFEST_FILE))).toBe(0o600);
    expect(readFileSync(join(root, ENV_FILE), 'utf8')).toContain('SEATGUARD_COLLECTOR_URL=https://10.0.0.5:8443\n');
    // The manifest tells the agent which files to watch and what the installer wrote.
    const manifest = readManifest(join(root, 'var/lib/seatguard-agent'));
    expect(manifest?.map((m) => [m.path, m.item])).toEqual([
      [join(root, UDEV_RULE_FILE), 'udev_rule'],
      [join(root, UNIT_FILE), 'service_unit'],
      [join(root, ENV_FILE), 'agent_config'],
    ]);
  });

  it('is idempotent: a second run changes nothing and restores modes someone loosened', () => {
    const root = fakeRoot();
    writeInstall(planInstall(opts(root)), { written: join(root, 'var/lib/seatguard-agent') });
    const before = readFileSync(join(root, UNIT_FILE), 'utf8');
    chmodSync(join(root, ENV_FILE), 0o644);
    const again = writeInstall(planInstall(opts(root)), { written: join(root, 'var/lib/seatguard-agent') });
    expect(again.map((r) => r.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(mode(join(root, ENV_FILE))).toBe(0o600);
    expect(readFileSync(join(root, UNIT_FILE), 'utf8')).toBe(before);
  });

  it('rewrites a file someone edited', () => {
    const root = fakeRoot();
    writeInstall(planInstall(opts(root)), { written: join(root, 'var/lib/seatguard-agent') });
    writeFileSync(join(root, UDEV_RULE_FILE), '# emptied\n');
    const again = writeInstall(planInstall(opts(root)), { written: join(root, 'var/lib/seatguard-agent') });
    expect(again[0]?.outcome).toBe('written');
    expect(readFileSync(join(root, UDEV_RULE_FILE), 'utf8')).toBe(renderUdevRule());
  });

  it('--dry-run prints every file and command and writes nothing', () => {
    const root = fakeRoot();
    const c = io();
    expect(runInstall({ root, state: '/var/lib/sg', collector: 'http://c:8443', dryRun: true }, c.io)).toBe(0);
    expect(existsSync(join(root, 'etc'))).toBe(false);
    expect(existsSync(join(root, 'var'))).toBe(false);
    const text = c.out.join('\n');
    expect(text).toContain(join(root, UDEV_RULE_FILE));
    expect(text).toContain('interface_authorized_default}="0"');
    expect(text).toContain('would run: systemctl enable --now seatguard-agent.service');
  });

  it('without --apply prints the commands instead of running them; --apply refuses any root but /', () => {
    const root = fakeRoot();
    const c = io();
    expect(runInstall({ root, state: '/var/lib/sg', collector: 'http://c:8443' }, c.io)).toBe(0);
    for (const cmd of INSTALL_COMMANDS) expect(c.out).toContain(`would run: ${cmd.join(' ')}`);
    const ran: string[] = [];
    expect(() => runCommands(root, INSTALL_COMMANDS, (cmd, args) => void ran.push([cmd, ...args].join(' ')))).toThrow(/INSTALL_ERR_ROOT|--apply only works with --root \//);
    expect(ran).toEqual([]);
    const d = io();
    expect(runInstall({ root, state: '/var/lib/sg', collector: 'http://c:8443', apply: true }, d.io)).toBe(2);
    expect(d.err.join('\n')).toMatch(/^INSTALL_ERR_ROOT/);
  });

  it('refuses values that would inject lines or arguments into the unit or env file', () => {
    const root = fakeRoot();
    expect(() => planInstall({ ...opts(root), collectorUrl: 'http://c:8443\nSEATGUARD_X=1' })).toThrow(/collector URL/);
    expect(() => planInstall({ ...opts(root), nodePath: '/usr/bin/node --inspect' })).toThrow(/INSTALL_ERR_ROOT|whitespace/);
    expect(() => planInstall({ ...opts(root), stateDir: 'relative/state' })).toThrow(/absolute/);
  });

  it('uninstall removes the installed files and reports absent ones, keeping the state dir', () => {
    const root = fakeRoot();
    const files = planInstall(opts(root));
    writeInstall(files, { written: join(root, 'var/lib/seatguard-agent') });
    writeFileSync(join(root, 'var/lib/seatguard-agent/agent.json'), '{}');
    expect(removeInstall(files).map((r) => r.outcome)).toEqual(['removed', 'removed', 'removed', 'removed']);
    expect(existsSync(join(root, UDEV_RULE_FILE))).toBe(false);
    expect(existsSync(join(root, 'var/lib/seatguard-agent/agent.json'))).toBe(true);
    expect(removeInstall(files).map((r) => r.outcome)).toEqual(['absent', 'absent', 'absent', 'absent']);
  });
});

describe('the systemd unit', () => {
  const unit = renderUnit({ nodePath: '/usr/bin/node', entryPath: '/opt/sg/seatguard.js', stateDir: '/var/lib/seatguard-agent' });

  it('restarts always except after the authorized-stop exit code and starts before logins', () => {
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(new RegExp(`^RestartPreventExitStatus=${AUTHORIZED_STOP_EXIT}$`, 'm'));
    expect(unit).toMatch(new RegExp(`^SuccessExitStatus=${AUTHORIZED_STOP_EXIT}$`, 'm'));
    expect(unit).toMatch(/^Before=.*display-manager\.service.*getty\.target/m);
    expect(unit).toMatch(/^EnvironmentFile=\/etc\/seatguard\/agent\.env$/m);
    // The malloc settings the footprint was measured with, ahead of the file a seat may override them in.
    expect(unit).toMatch(/^Environment=MALLOC_ARENA_MAX=1\nEnvironment=MALLOC_TOP_PAD_=0\nEnvironment=MALLOC_TRIM_THRESHOLD_=65536\nEnvironment=MALLOC_MMAP_THRESHOLD_=65536\nEnvironmentFile=/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node --max-semi-space-size=1 --lite-mode \/opt\/sg\/seatguard\.js agent --platform linux$/m);
    // The lock writes sysfs: the hardening must not make /sys read-only.
    expect(unit).not.toMatch(/^ProtectKernelTunables=yes/m);
  });

  it('passes systemd-analyze verify where systemd is installed', () => {
    let have = true;
    try {
      execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    } catch {
      have = false;
    }
    if (!have) return; // no systemd on this host: the text checks above still ran
    const dir = fakeRoot();
    const p = join(dir, 'seatguard-agent.service');
    writeFileSync(p, renderUnit({ nodePath: process.execPath, entryPath: '/opt/sg/seatguard.js', stateDir: '/var/lib/seatguard-agent' }));
    const out = execFileSync('systemd-analyze', ['verify', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toBe('');
  });
});

describe('the udev backstop rule', () => {
  const rules = parseUdevRules(renderUdevRule());
  const find = (pred: (r: ReturnType<typeof parseUdevLine>) => boolean) => rules.filter(pred);
  const has = (r: ReturnType<typeof parseUdevLine>, key: string, attr: string | null, op: string, value: string) =>
    r.some((t) => t.key === key && t.attr === attr && t.op === op && t.value === value);

  it('parses as three add rules on the usb subsystem', () => {
    expect(rules).toHaveLength(3);
    for (const r of rules) {
      expect(has(r, 'ACTION', null, '==', 'add')).toBe(true);
      expect(has(r, 'SUBSYSTEM', null, '==', 'usb')).toBe(true);
    }
  });

  it('closes the gate of every root hub as it is added', () => {
    const gate = find((r) => has(r, 'ATTR', 'interface_authorized_default', '=', '0'));
    expect(gate).toHaveLength(1);
    expect(has(gate[0]!, 'ENV', 'DEVTYPE', '==', 'usb_device')).toBe(true);
    expect(has(gate[0]!, 'KERNEL', null, '==', 'usb[0-9]*')).toBe(true);
  });

  it('keeps storage interfaces unauthorized and authorizes only non-storage ones', () => {
    const deny = find((r) => has(r, 'ATTR', 'authorized', '=', '0'));
    expect(deny).toHaveLength(1);
    expect(has(deny[0]!, 'ATTR', 'bInterfaceClass', '==', '08')).toBe(true);
    const allow = find((r) => has(r, 'ATTR', 'authorized', '=', '1'));
    expect(allow).toHaveLength(1);
    expect(has(allow[0]!, 'ATTR', 'bInterfaceClass', '!=', '08')).toBe(true);
    expect(has(allow[0]!, 'ENV', 'DEVTYPE', '==', 'usb_interface')).toBe(true);
  });

  it('probes each interface it authorizes (the kernel binds no driver on authorize alone; lab: test/vm/udev.vm.test.ts U3)', () => {
    const allow = find((r) => has(r, 'ATTR', 'authorized', '=', '1'));
    expect(allow).toHaveLength(1);
    expect(has(allow[0]!, 'RUN', null, '+=', "/bin/sh -c 'echo %k > /sys/bus/usb/drivers_probe'")).toBe(true);
  });

  it('the checker refuses lines udev would skip', () => {
    expect(() => parseUdevRules('ACTION=="add", ATTR{authorized}=0\n')).toThrow(/line 1/);
    expect(() => parseUdevRules('ACTION=="add" SUBSYSTEM=="usb"\n')).toThrow(/line 1/);
    expect(() => parseUdevRules('# ok\nACTION=="add", ATTR="0"\n')).toThrow(/line 2: ATTR needs \{name\}/);
    expect(() => parseUdevRules('RUN=="x"\n')).toThrow(/RUN cannot be used with ==/);
    expect(() => parseUdevRules('ACTION=="add, SUBSYSTEM=="usb"\n')).toThrow();
  });
});
