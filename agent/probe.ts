import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { systemClock } from '../shared/clock.js';
import { evaluateSoftware, type CompiledSoftwarePolicy } from '../shared/domain/software-policy-core.js';
import { sanitizeText } from '../shared/domain/sanitize.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import {
  DEFAULT_POLICY,
  createRuleEvaluator,
  formatRule,
  interfaceDecision,
  parseRuleset,
  toRuleDevice,
  type Rule,
} from '../shared/rules/index.js';
import { createFakePlatform } from './platform/fake/fake-platform.js';
import { createLinuxUsbPlatform } from './platform/linux/usb-platform.js';
import type { UsbPlatform } from './platform/platform.js';
import { PASSWORD_FIELDS, type PasswordState, type SensorPlatform } from './platform/sensors.js';
import { defaultCompiledPolicy } from './sensors/default-policy.js';
import { resolveFirmware } from './sensors/firmware-state.js';
import { createSensorPlatform } from './sensors/sensor-platform.js';

/** What `seatguard agent probe` prints: one read-only look at the seat. `unknown` always comes with a reason in `sources`. */
export interface ProbeReport {
  platform: 'linux' | 'fake';
  root: string;
  firmware: {
    adminPassword: PasswordState;
    powerOnPassword: PasswordState;
    keyboardPassword: PasswordState;
    frontPanelReset: PasswordState;
    /** Which source decided each field ("none" when no source spoke). */
    decidedBy: Record<string, string>;
    sources: ProbeSource[];
    disagreements: Array<{ field: string; chosen: string; chosenState: PasswordState; other: string; otherState: PasswordState }>;
    bios: { vendor: string; version: string; date: string };
  };
  usb: ProbeUsbDevice[] | 'unknown';
  usbSources: ProbeSource[];
  software: {
    installed: number | 'unknown';
    denied: Array<{ name: string; version: string | null; rule: string; category: string | null; reason: string }>;
    sources: ProbeSource[];
  };
  network: {
    interfaces: Array<{ name: string; mac: string | null; ipv4: string[] | null; ipv6: string[] | null; internal: boolean }> | 'unknown';
    sources: ProbeSource[];
  };
}

export interface ProbeSource {
  name: string;
  available?: boolean;
  detail: string;
}

export interface ProbeUsbDevice {
  port: string;
  id: string;
  serial: string | null;
  product: string | null;
  interfaces: string[];
  /** 'block' when any interface stays unauthorized under the policy (or the device cannot be judged). */
  decision: 'allow' | 'block';
  interfaceDecisions: Record<string, 'allow' | 'block'>;
  rule: string;
}

export interface ProbeOptions {
  platform: 'linux' | 'fake';
  /** Directory under which sys/, proc/ and var/lib/dpkg are read (default '/'). */
  root?: string;
  log?: Logger;
  /** Injected seams (tests); default: built for `platform` and `root`. */
  sensors?: SensorPlatform;
  usb?: UsbPlatform;
  softwarePolicy?: CompiledSoftwarePolicy;
  /** USB ruleset text; default DEFAULT_POLICY of shared/rules. */
  usbRules?: string;
}

const errText = (err: unknown) => sanitizeText(err instanceof Error ? err.message : String(err), 256);

/** The fake seat shown by `--platform fake`: a storage stick and a keyboard. */
function demoFakeUsb(): UsbPlatform {
  const p = createFakePlatform();
  p.usb.insert({ vendor_id: '0781', product_id: '5583', manufacturer: 'SanDisk', product: 'Ultra Fit', serial: '4C530001230518113094', interfaces: [{ number: 0, class: 8, subclass: 6, protocol: 0x50 }] }, { port: '1-1' });
  p.usb.insert({ vendor_id: '046d', product_id: 'c31c', manufacturer: 'Logitech', product: 'USB Keyboard', serial: null, interfaces: [{ number: 0, class: 3, subclass: 1, protocol: 1 }, { number: 1, class: 3, subclass: 0, protocol: 0 }] }, { port: '1-2' });
  return p.usb;
}

async function probeFirmware(sensors: SensorPlatform): Promise<ProbeReport['firmware']> {
  try {
    const r = resolveFirmware(await sensors.firmware.read());
    const sources: ProbeSource[] = r.sources.map((s) => ({ name: s.name, available: s.available, detail: s.detail }));
    sources.push({ name: 'bios-identity', available: r.bios.vendor !== null || r.bios.version !== null, detail: r.bios.detail });
    const decidedBy: Record<string, string> = {};
    for (const f of PASSWORD_FIELDS) decidedBy[f] = r.fields[f].source;
    return {
      adminPassword: r.fields.adminPassword.state,
      powerOnPassword: r.fields.powerOnPassword.state,
      keyboardPassword: r.fields.keyboardPassword.state,
      frontPanelReset: r.fields.frontPanelReset.state,
      decidedBy,
      sources,
      disagreements: r.disagreements.map((d) => ({ field: d.field, chosen: d.chosenSource, chosenState: d.chosenState, other: d.otherSource, otherState: d.otherState })),
      bios: { vendor: r.bios.vendor ?? 'unknown', version: r.bios.version ?? 'unknown', date: r.bios.date ?? 'unknown' },
    };
  } catch (err) {
    return {
      adminPassword: 'unknown',
      powerOnPassword: 'unknown',
      keyboardPassword: 'unknown',
      frontPanelReset: 'unknown',
      decidedBy: {},
      sources: [{ name: 'firmware', available: false, detail: `probe failed: ${errText(err)}` }],
      disagreements: [],
      bios: { vendor: 'unknown', version: 'unknown', date: 'unknown' },
    };
  }
}

async function probeUsb(usb: UsbPlatform, rulesText: string): Promise<{ usb: ProbeReport['usb']; sources: ProbeSource[] }> {
  const parsed = parseRuleset(rulesText);
  const sources: ProbeSource[] = [{ name: 'usb-policy', detail: `${parsed.rules.length} rule(s)${parsed.errors.length > 0 ? `, ${parsed.errors.length} bad line(s) ignored` : ''}` }];
  const rules: readonly Rule[] = parsed.rules;
  const evaluator = createRuleEvaluator({ clock: systemClock });
  let ports: string[];
  try {
    ports = await usb.listDevices();
  } catch (err) {
    return { usb: 'unknown', sources: [...sources, { name: 'usb-devices', available: false, detail: errText(err) }] };
  }
  const out: ProbeUsbDevice[] = [];
  for (const port of ports) {
    let state;
    try {
      state = await usb.readDevice(port);
    } catch (err) {
      sources.push({ name: `usb-device:${sanitizeText(port, 32)}`, available: false, detail: errText(err) });
      continue;
    }
    if (!state) continue;
    const info = state.info;
    const base = { port: info.port, id: `${info.vendor_id}:${info.product_id}`, serial: info.serial, product: info.product, interfaces: info.interfaces };
    if (!state.descriptorsReadable) {
      // Same fail-closed rule as enforcement: a device that cannot be read is judged on nothing.
      const blocked = Object.fromEntries(info.interfaces.map((i) => [i, 'block' as const]));
      out.push({ ...base, decision: 'block', interfaceDecisions: blocked, rule: `fail-closed: ${state.problem ?? 'descriptors unreadable'}` });
      continue;
    }
    const decision = evaluator.evaluate(rules, toRuleDevice(info));
    const per: Record<string, 'allow' | 'block'> = {};
    for (const i of info.interfaces) per[i] = interfaceDecision(decision, i);
    const anyBlocked = info.interfaces.length === 0 ? decision.target !== 'allow' : Object.values(per).includes('block');
    out.push({
      ...base,
      decision: anyBlocked ? 'block' : 'allow',
      interfaceDecisions: per,
      rule: decision.rule ? formatRule(decision.rule) : `implicit ${decision.target}`,
    });
  }
  sources.push({ name: 'usb-devices', available: true, detail: `${out.length} device(s) read` });
  return { usb: out, sources };
}

async function probeSoftware(sensors: SensorPlatform, policy: CompiledSoftwarePolicy): Promise<ProbeReport['software']> {
  try {
    const pkgs = await sensors.software.list();
    const denied: ProbeReport['software']['denied'] = [];
    for (const p of pkgs) {
      const v = evaluateSoftware(policy, { kind: 'package', name: p.name, version: p.version, publisher: p.publisher });
      if (v.verdict === 'deny') denied.push({ name: p.name, version: p.version, rule: v.ruleId, category: v.category, reason: v.reason });
    }
    const by = [...new Set(pkgs.map((p) => p.source))].join(', ') || 'none';
    return { installed: pkgs.length, denied, sources: [{ name: 'software-inventory', available: true, detail: `${pkgs.length} package(s) from ${by}` }] };
  } catch (err) {
    return { installed: 'unknown', denied: [], sources: [{ name: 'software-inventory', available: false, detail: errText(err) }] };
  }
}

async function probeNetwork(sensors: SensorPlatform): Promise<ProbeReport['network']> {
  try {
    const ifaces = await sensors.network.interfaces();
    return {
      interfaces: ifaces.map((i) => ({ name: i.name, mac: i.mac, ipv4: i.ipv4, ipv6: i.ipv6, internal: i.internal })),
      sources: [{ name: 'network-interfaces', available: true, detail: ifaces.some((i) => i.ipv4 === null) ? 'addresses unknown: read from a captured sys/class/net' : 'live interfaces' }],
    };
  } catch (err) {
    return { interfaces: 'unknown', sources: [{ name: 'network-interfaces', available: false, detail: errText(err) }] };
  }
}

/**
 * Reads everything the agent would look at, once, without changing anything (no controller lock,
 * no authorize, no kill). Never rejects: what cannot be read is `unknown` with the reason.
 */
export async function runProbe(opts: ProbeOptions): Promise<ProbeReport> {
  const root = opts.root ?? '/';
  const log = opts.log ?? silentLogger();
  const sensors = opts.sensors ?? createSensorPlatform({ platform: opts.platform, root, log });
  const usb = opts.usb ?? (opts.platform === 'fake' ? demoFakeUsb() : createLinuxUsbPlatform({ sysfsRoot: join(root, 'sys'), log }));
  const [firmware, usbPart, software, network] = await Promise.all([
    probeFirmware(sensors),
    probeUsb(usb, opts.usbRules ?? DEFAULT_POLICY).catch((err: unknown) => ({ usb: 'unknown' as const, sources: [{ name: 'usb', available: false, detail: errText(err) }] })),
    probeSoftware(sensors, opts.softwarePolicy ?? defaultCompiledPolicy()),
    probeNetwork(sensors),
  ]);
  return { platform: opts.platform, root, firmware, usb: usbPart.usb, usbSources: usbPart.sources, software, network };
}

/** A short human-readable rendering of a report (the default output without --json). */
export function formatProbeText(r: ProbeReport): string {
  const lines: string[] = [];
  const f = r.firmware;
  lines.push(`platform ${r.platform}, root ${r.root}`);
  lines.push(`firmware: admin=${f.adminPassword} power-on=${f.powerOnPassword} keyboard=${f.keyboardPassword} front-panel-reset=${f.frontPanelReset}`);
  lines.push(`  bios: ${f.bios.vendor} ${f.bios.version} (${f.bios.date})`);
  for (const s of f.sources) lines.push(`  source ${s.name}: ${s.detail}`);
  for (const d of f.disagreements) lines.push(`  disagreement on ${d.field}: ${d.chosen}=${d.chosenState} wins over ${d.other}=${d.otherState}`);
  if (r.usb === 'unknown') lines.push('usb: unknown');
  else for (const d of r.usb) lines.push(`usb ${d.port} ${d.id} serial=${d.serial ?? '-'} [${d.interfaces.join(' ')}] → ${d.decision} (${d.rule})`);
  for (const s of r.usbSources) lines.push(`  source ${s.name}: ${s.detail}`);
  lines.push(`software: ${r.software.installed} installed, ${r.software.denied.length} denied`);
  for (const d of r.software.denied) lines.push(`  denied ${d.name} ${d.version ?? ''} (${d.rule})`);
  for (const s of r.software.sources) lines.push(`  source ${s.name}: ${s.detail}`);
  if (r.network.interfaces === 'unknown') lines.push('network: unknown');
  else for (const i of r.network.interfaces) lines.push(`network ${i.name} mac=${i.mac ?? '-'} ipv4=${i.ipv4 === null ? 'unknown' : i.ipv4.join(',') || '-'}`);
  for (const s of r.network.sources) lines.push(`  source ${s.name}: ${s.detail}`);
  return lines.join('\n') + '\n';
}

/**
 * Adds `probe [--platform linux|fake] [--root DIR] [--json]` to the `agent` command. Prints the
 * report once; the action never throws, so the command exits 0.
 */
export function registerProbeCommand(agentCommand: Command, io: { out?: (text: string) => void; log?: Logger } = {}): Command {
  const out = io.out ?? ((text: string) => void process.stdout.write(text));
  return agentCommand
    .command('probe')
    .description('print once what the agent sees on this seat (read-only: locks, authorizes and kills nothing)')
    .addOption(new Option('--platform <name>', 'sensor platform').choices(['linux', 'fake']).default('linux'))
    .option('--root <dir>', 'read sys/, proc/ and var/lib/dpkg under DIR (a captured tree) instead of /', '/')
    .option('--json', 'print the report as JSON', false)
    .action(async (opts: { platform: 'linux' | 'fake'; root: string; json: boolean }) => {
      const report = await runProbe({ platform: opts.platform, root: opts.root, ...(io.log ? { log: io.log } : {}) });
      out(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatProbeText(report));
    });
}
