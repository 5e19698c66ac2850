import { deviceKey, type UsbDevice } from '../../shared/domain/usb.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import type { AlertDevice, AlertSeverity } from './channels/types.js';
import { BODY, isWatchedEventType } from './event-bodies.js';

/**
 * Alert rules, pure: one stored agent event in, at most one outcome out. A `raise` opens (or, via
 * dedup, counts into) an alert; a `clear` only notes in the alert's history that the seat reports
 * the condition gone, because a tamper alert needs a human to close it (WF-6). Every string taken
 * from an event is seat-supplied and hostile: it is kept as data, sanitized and capped here, and
 * escaped by whoever renders it.
 */

/** Text in the console's two languages; zh-CN first. */
export interface Bilingual {
  zh: string;
  en: string;
}

export interface AlertCandidate {
  /** Rule id, e.g. 'usb.blocked'; also the channel payload's `rule`. */
  rule: string;
  severity: AlertSeverity;
  /** Same seat + same key within the dedup window counts into one alert. */
  dedupKey: string;
  title: Bilingual;
  detail: Bilingual;
  device: AlertDevice | null;
}

export type RuleOutcome =
  | { kind: 'raise'; alert: AlertCandidate }
  | { kind: 'clear'; rule: string; dedupKey: string; reason: Bilingual };

export interface RuleEvent {
  type: string;
  body: unknown;
}

/** Facts the collector knows about the seat at evaluation time. */
export interface RuleContext {
  /** The seat is inside a collector-side maintenance window. */
  inMaintenance: boolean;
  /** True when an active software request of the seat approved this package (docs/software-requests.md). */
  approvedSoftware?: (pkg: { name: string; version: string | null }) => boolean;
  /** For a reported maintenance-code use: why it matches no code the collector issued, or null. */
  maintenanceCodeFlag?: () => string | null;
}

/** Longest detail text kept, in code points. */
export const DETAIL_MAX = 1024;
/** Longest dedup key kept, in code points. */
export const DEDUP_KEY_MAX = 256;
const LIST_MAX = 10;

const txt = (s: string | null | undefined, max = 128): string => (s == null ? '' : sanitizeText(s, max));
const nz = (s: string | null | undefined, max = 128): string => txt(s, max) || '-';

const cappedDetail = (d: Bilingual): Bilingual => ({ zh: txt(d.zh, DETAIL_MAX), en: txt(d.en, DETAIL_MAX) });

function raise(rule: string, severity: AlertSeverity, key: string, title: Bilingual, detail: Bilingual, device: AlertDevice | null = null): RuleOutcome {
  return { kind: 'raise', alert: { rule, severity, dedupKey: txt(key, DEDUP_KEY_MAX), title, detail: cappedDetail(detail), device } };
}

/**
 * {@link raise} with the texts built only when read. Most events of a storm only count into an
 * alert that already has its texts, so building and sanitizing them per event was wasted work on
 * the ingest path (docs/benchmarks.md); the texts are the same whenever they are read.
 */
function raiseLazy(rule: string, severity: AlertSeverity, key: string, text: () => { title: Bilingual; detail: Bilingual; device: AlertDevice | null }): RuleOutcome {
  let built: { title: Bilingual; detail: Bilingual; device: AlertDevice | null } | undefined;
  const get = () => {
    if (!built) {
      const t = text();
      built = { title: t.title, detail: cappedDetail(t.detail), device: t.device };
    }
    return built;
  };
  const alert = { rule, severity, dedupKey: txt(key, DEDUP_KEY_MAX) } as AlertCandidate;
  Object.defineProperties(alert, {
    title: { enumerable: true, get: () => get().title },
    detail: { enumerable: true, get: () => get().detail },
    device: { enumerable: true, get: () => get().device },
  });
  return { kind: 'raise', alert };
}

function clear(rule: string, key: string, reason: Bilingual): RuleOutcome {
  return { kind: 'clear', rule, dedupKey: txt(key, DEDUP_KEY_MAX), reason };
}

const SEVERITY_ORDER: readonly AlertSeverity[] = ['low', 'medium', 'high', 'critical'];
const atLeast = (s: AlertSeverity, floor: AlertSeverity): AlertSeverity =>
  SEVERITY_ORDER.indexOf(s) >= SEVERITY_ORDER.indexOf(floor) ? s : floor;

// ---------------------------------------------------------------------------------------------
// USB
// ---------------------------------------------------------------------------------------------

function alertDevice(d: UsbDevice): AlertDevice {
  return { vendor_id: d.vendor_id, product_id: d.product_id, serial: d.serial === null ? null : txt(d.serial), product: d.product === null ? null : txt(d.product) };
}

function deviceLabel(d: UsbDevice): string {
  const name = [txt(d.manufacturer), txt(d.product)].filter((s) => s !== '').join(' ') || '?';
  return `${name} (${d.vendor_id}:${d.product_id}, serial ${nz(d.serial)})`;
}

// Storage-like classes: mass storage (08) and still image / MTP (06), both used to copy files off.
const hasClass = (d: UsbDevice, cls: string): boolean => d.interfaces.some((i) => i.startsWith(`${cls}:`));
// A flash disk that is also a keyboard, modem or radio is the BadUSB pattern (house style 1.8).
const SUSPICIOUS_COMPANIONS = ['03', '02', 'e0'];

function usbBlocked(body: unknown): RuleOutcome | null {
  if (!BODY['usb.blocked'](body)) return null;
  const d = body.device;
  const storage = hasClass(d, '08');
  const media = hasClass(d, '06');
  const key = `usb.blocked:${deviceKey(d)}`;
  const text = (title: Bilingual) => () => {
    const label = deviceLabel(d);
    const reason = txt(body.reason, 256);
    const ifaces = body.blocked_interfaces.join(',') || '-';
    return {
      title,
      detail: {
        zh: `设备 ${label} 已被阻止；阻止的接口 ${ifaces}；原因：${reason}`,
        en: `Device ${label} was blocked; blocked interfaces ${ifaces}; reason: ${reason}`,
      },
      device: alertDevice(d),
    };
  };
  if (storage && SUSPICIOUS_COMPANIONS.some((c) => hasClass(d, c))) {
    return raiseLazy('usb.blocked', 'critical', key, text({ zh: '可疑复合USB设备(存储+键盘/网络)插入', en: 'Suspicious composite USB device (storage + HID/network) inserted' }));
  }
  if (storage) return raiseLazy('usb.blocked', 'high', key, text({ zh: '未授权U盘插入', en: 'Unauthorized USB storage inserted' }));
  if (media) return raiseLazy('usb.blocked', 'high', key, text({ zh: '未授权移动存储设备(手机/相机)接入', en: 'Unauthorized portable media device (phone/camera) connected' }));
  return raiseLazy('usb.blocked', 'medium', key, text({ zh: '未授权USB设备被阻止', en: 'Unauthorized USB device blocked' }));
}

// ---------------------------------------------------------------------------------------------
// Lock state and agent lifecycle
// ---------------------------------------------------------------------------------------------

const LOCK_KEY = 'lock.state';

function lockOutcome(state: 'locked' | 'degraded' | 'unknown', why: string, controllers: string): RuleOutcome {
  if (state === 'locked') return clear('lock.state', LOCK_KEY, { zh: 'USB锁定已恢复', en: 'USB lock restored' });
  const detail = {
    zh: `锁定状态 ${state}；控制器 ${controllers}；说明：${why}`,
    en: `Lock state ${state}; controllers ${controllers}; detail: ${why}`,
  };
  const title =
    state === 'degraded'
      ? { zh: 'USB锁定失效(疑似篡改)', en: 'USB lock degraded (possible tampering)' }
      : { zh: 'USB锁定状态未知(无法确认已锁定)', en: 'USB lock state unknown (cannot confirm locked)' };
  // SECURITY: unknown is treated like degraded: a seat that cannot prove it is locked is not locked.
  return raise('lock.state', 'critical', LOCK_KEY, title, detail);
}

function lockState(body: unknown): RuleOutcome | null {
  if (!BODY['lock.state'](body)) return null;
  // Controllers whose default is not "deny new interfaces" (0) are the evidence of tampering.
  const open = body.controllers
    .filter((c) => c.interface_authorized_default !== 0)
    .map((c) => `${c.name}:interface_authorized_default=${c.interface_authorized_default ?? 'unreadable'}`);
  return lockOutcome(body.state, txt(body.detail, 512), open.join(' ') || '-');
}

function agentStarted(body: unknown): RuleOutcome | null {
  if (!BODY['agent.started'](body)) return null;
  return lockOutcome(body.lock_state, txt(body.detail, 512), '-');
}

const FLAG_TEXT: Record<string, Bilingual> = {
  unknown_code: { zh: '收集器从未签发该维护码', en: 'the collector never issued this code' },
  other_seat: { zh: '维护码签发给了其他座席', en: 'the code was issued for another seat' },
  other_purpose: { zh: '维护码用途不符', en: 'the code was issued for another purpose' },
  reused: { zh: '维护码被重复使用', en: 'the code was used before' },
};

/** A seat reports a maintenance-code stop/uninstall the collector cannot match: likely a forged code. */
function forgedCode(ctx: RuleContext, what: 'stop' | 'uninstall'): RuleOutcome | null {
  const flag = ctx.maintenanceCodeFlag?.() ?? null;
  if (flag === null) return null;
  const why = FLAG_TEXT[flag] ?? { zh: flag, en: flag };
  return raise(
    'agent.maintenance_code',
    'critical',
    `agent.maintenance_code:${what}`,
    { zh: '座席代理凭无法核验的维护码停止/卸载(疑似伪造)', en: 'Seat agent stopped or uninstalled with an unverifiable maintenance code (possibly forged)' },
    { zh: `${what === 'stop' ? '停止' : '卸载'}：${why.zh}`, en: `${what}: ${why.en}` },
  );
}

function agentStopping(body: unknown, ctx: RuleContext): RuleOutcome | null {
  if (!BODY['agent.stopping'](body)) return null;
  // The seat's own reason is not trusted to mean "maintenance": only a collector-side window does.
  if (ctx.inMaintenance) return null;
  const reason = txt(body.reason, 256);
  // Self-protection (docs/self-protection.md): a maintenance code was presented. Root on the seat can
  // mint codes from the seat's secret, so a code the collector never issued (or a replay) is an alert.
  if (body.authorized === true) return forgedCode(ctx, 'stop');
  // A reboot or power-off stops every service; a seat that does not come back raises the missed-heartbeat alert.
  if (body.authorized === false && body.system_shutdown === true) return null;
  if (body.authorized === false) {
    return raise(
      'agent.stopping',
      'high',
      'agent.stopping',
      { zh: '座席代理被停止(未使用维护码)', en: 'Seat agent stopped without maintenance code' },
      { zh: `代理在没有维护码的情况下被停止，原因：${reason}`, en: `The agent was stopped without a maintenance code, reason: ${reason}` },
    );
  }
  return raise(
    'agent.stopping',
    'high',
    'agent.stopping',
    { zh: '座席代理被停止(非维护时段)', en: 'Seat agent stopped outside maintenance' },
    { zh: `代理报告停止，原因：${reason}`, en: `The agent reported it is stopping, reason: ${reason}` },
  );
}

const INTEGRITY_ZH: Record<string, string> = { code: '代理程序文件', udev_rule: 'udev 保护规则', service_unit: 'systemd 服务单元', agent_config: '代理配置' };

function agentIntegrity(body: unknown): RuleOutcome | null {
  if (!BODY['agent.integrity'](body)) return null;
  // Code and the udev backstop decide whether the lock holds at all; the unit and the env file only how it runs.
  const severity: AlertSeverity = body.item === 'code' || body.item === 'udev_rule' ? 'critical' : 'high';
  const path = txt(body.path, 512);
  const sha = (h: string | null) => (h === null ? '-' : h.slice(0, 16));
  const change = `${sha(body.expected_sha256)} -> ${sha(body.actual_sha256)}`;
  const detail = txt(body.detail, 256);
  return raise(
    'agent.integrity',
    severity,
    `agent.integrity:${body.item}:${path}`,
    { zh: `座席代理完整性被破坏(${INTEGRITY_ZH[body.item] ?? body.item})`, en: `Seat agent integrity changed (${body.item})` },
    { zh: `文件 ${path} 与基线不符：${detail}；sha256 ${change}`, en: `File ${path} differs from the baseline: ${detail}; sha256 ${change}` },
  );
}

// ---------------------------------------------------------------------------------------------
// Firmware
// ---------------------------------------------------------------------------------------------

const FIELD_ZH: Record<string, string> = {
  admin_password: '管理员密码',
  power_on_password: '开机密码',
  keyboard_password: '键盘密码',
  front_panel_reset: '前面板复位锁',
};

function firmwareState(body: unknown): RuleOutcome | null {
  if (!BODY['firmware.state'](body)) return null;
  const key = 'firmware.admin_password_not_set';
  const s = body.admin_password.state;
  if (s === 'set') return clear('firmware.admin_password_not_set', key, { zh: 'BIOS管理员密码已设置', en: 'BIOS admin password is set' });
  if (s !== 'not_set') return null;
  const src = txt(body.admin_password.source, 96);
  return raise(
    'firmware.admin_password_not_set',
    'medium',
    key,
    { zh: 'BIOS管理员密码未设置', en: 'BIOS admin password not set' },
    { zh: `固件报告管理员密码未设置(来源 ${src})`, en: `Firmware reports no admin password (source ${src})` },
  );
}

function passwordRemoved(body: unknown): RuleOutcome | null {
  if (!BODY['firmware.password_removed'](body)) return null;
  const src = txt(body.source, 96);
  return raise(
    'firmware.password_removed',
    'high',
    `firmware.password_removed:${body.field}`,
    { zh: 'BIOS密码被移除', en: 'Firmware (BIOS) password removed' },
    {
      zh: `${FIELD_ZH[body.field] ?? body.field}由 ${body.previous} 变为 ${body.current}(来源 ${src})`,
      en: `${body.field} went from ${body.previous} to ${body.current} (source ${src})`,
    },
  );
}

function biosChanged(body: unknown): RuleOutcome | null {
  if (!BODY['firmware.bios_changed'](body)) return null;
  const v = (b: { vendor: string | null; version: string | null; date: string | null }) => `${nz(b.vendor)} ${nz(b.version)} ${nz(b.date, 64)}`;
  return raise(
    'firmware.bios_changed',
    'medium',
    'firmware.bios_changed',
    { zh: 'BIOS版本变更', en: 'BIOS version changed' },
    { zh: `BIOS 由 ${v(body.previous)} 变为 ${v(body.current)}`, en: `BIOS changed from ${v(body.previous)} to ${v(body.current)}` },
  );
}

// ---------------------------------------------------------------------------------------------
// Software and processes
// ---------------------------------------------------------------------------------------------

type Category = 'hacking' | 'game' | 'remote-access' | 'other' | null;

function categorySeverity(c: Category): AlertSeverity {
  // SW-05: hacking tools go straight to critical; remote control is the next worst (exfiltration).
  if (c === 'hacking') return 'critical';
  if (c === 'remote-access') return 'high';
  return 'medium';
}

const PACKAGE_TITLE: Record<string, Bilingual> = {
  hacking: { zh: '发现黑客工具软件', en: 'Hacking tool software found' },
  'remote-access': { zh: '发现未授权远程控制软件', en: 'Unauthorized remote-access software found' },
  game: { zh: '发现游戏软件', en: 'Game software found' },
  other: { zh: '发现禁用软件', en: 'Denied software found' },
};

const PROCESS_TITLE: Record<string, Bilingual> = {
  hacking: { zh: '黑客工具正在运行', en: 'Hacking tool running' },
  'remote-access': { zh: '未授权远程控制程序正在运行', en: 'Unauthorized remote-access program running' },
  game: { zh: '游戏程序正在运行', en: 'Game program running' },
  other: { zh: '禁用程序正在运行', en: 'Denied program running' },
};

function softwareDenied(body: unknown): RuleOutcome | null {
  if (!BODY['software.denied'](body)) return null;
  const p = body.package;
  const name = txt(p.name);
  const label = `${name} ${nz(p.version)} (${p.source})`;
  const reason = txt(body.reason, 256);
  return raise(
    'software.denied',
    categorySeverity(body.category),
    `software.denied:${name}`,
    PACKAGE_TITLE[body.category ?? 'other'] ?? PACKAGE_TITLE.other!,
    { zh: `软件 ${label} 命中禁用规则 ${body.rule_id}；${reason}`, en: `Package ${label} matched deny rule ${body.rule_id}; ${reason}` },
  );
}

function processDenied(body: unknown): RuleOutcome | null {
  if (!BODY['process.denied'](body)) return null;
  let severity = categorySeverity(body.category);
  // The agent was told to kill it and could not: the tool is still running.
  if (body.action === 'kill_failed') severity = atLeast(severity, 'high');
  const name = nz(body.name, 64);
  const path = nz(body.path, 512);
  const ident = body.sha256 ?? (txt(body.path, 512) || name);
  return raise(
    'process.denied',
    severity,
    `process.denied:${ident}`,
    PROCESS_TITLE[body.category ?? 'other'] ?? PROCESS_TITLE.other!,
    {
      zh: `进程 ${name} (pid ${body.pid}, ${path}) 命中规则 ${body.rule_id}；处置 ${body.action}；${txt(body.reason, 256)}`,
      en: `Process ${name} (pid ${body.pid}, ${path}) matched rule ${body.rule_id}; action ${body.action}; ${txt(body.reason, 256)}`,
    },
  );
}

function packageList(pkgs: ReadonlyArray<{ name: string; version: string | null; previous_version?: string | null | undefined }>): string {
  const shown = pkgs.slice(0, LIST_MAX).map((p) => {
    const prev = p.previous_version === undefined ? '' : `${nz(p.previous_version)} -> `;
    return `${txt(p.name)} ${prev}${nz(p.version)}`;
  });
  const more = pkgs.length > LIST_MAX ? ` (+${pkgs.length - LIST_MAX})` : '';
  return shown.join(', ') + more;
}

function softwareInstalled(body: unknown, ctx: RuleContext): RuleOutcome | null {
  if (!BODY['software.installed'](body)) return null;
  // An install the seat's approved software request covers is what was asked for: no alert.
  const packages = ctx.approvedSoftware ? body.packages.filter((p) => !ctx.approvedSoftware?.(p)) : body.packages;
  if (packages.length === 0) return null;
  const fresh = packages.filter((p) => p.previous_version === undefined);
  if (fresh.length === 0) {
    return raise(
      'software.upgraded',
      'low',
      'software.upgraded',
      { zh: '软件版本变更', en: 'Software version changed' },
      { zh: `版本变更：${packageList(packages)}`, en: `Version changes: ${packageList(packages)}` },
    );
  }
  return raise(
    'software.installed',
    'medium',
    'software.installed',
    { zh: '未经审批安装软件', en: 'Software installed without approval' },
    { zh: `新安装：${packageList(fresh)}`, en: `Newly installed: ${packageList(fresh)}` },
  );
}

function softwareRemoved(body: unknown): RuleOutcome | null {
  if (!BODY['software.removed'](body)) return null;
  return raise(
    'software.removed',
    'medium',
    'software.removed',
    { zh: '未经审批卸载软件', en: 'Software removed without approval' },
    { zh: `已卸载：${packageList(body.packages)}`, en: `Removed: ${packageList(body.packages)}` },
  );
}

// ---------------------------------------------------------------------------------------------
// Network and policy
// ---------------------------------------------------------------------------------------------

function ifaceText(i: { mac: string | null; ipv4: string[] | null } | null): string {
  if (i === null) return 'none';
  return `mac ${i.mac ?? '-'} ipv4 ${i.ipv4 === null ? '-' : i.ipv4.slice(0, 4).join(',') || '-'}`;
}

function networkChanged(body: unknown): RuleOutcome | null {
  if (!BODY['network.changed'](body)) return null;
  const iface = txt(body.iface, 32);
  const title =
    body.previous === null
      ? { zh: '出现新网络接口', en: 'New network interface appeared' }
      : { zh: '网络配置变更', en: 'Network configuration changed' };
  return raise(
    'network.changed',
    'medium',
    `network.changed:${iface}`,
    title,
    {
      zh: `接口 ${iface}：${ifaceText(body.previous)} -> ${ifaceText(body.current)}`,
      en: `Interface ${iface}: ${ifaceText(body.previous)} -> ${ifaceText(body.current)}`,
    },
  );
}

function planMismatch(body: unknown): RuleOutcome | null {
  if (!BODY['network.plan_mismatch'](body)) return null;
  const iface = txt(body.iface, 32);
  const key = `network.plan_mismatch:${iface}`;
  if (body.resolved) return clear('network.plan_mismatch', key, { zh: '网络配置已符合规划', en: 'Network matches the plan again' });
  const problems = body.problems.join(',') || '-';
  return raise(
    'network.plan_mismatch',
    'medium',
    key,
    { zh: 'IP/MAC与规划不符', en: 'IP/MAC does not match the network plan' },
    {
      zh: `接口 ${iface} 问题 ${problems}；规划 ipv4 ${body.expected.ipv4 ?? '-'} mac ${body.expected.mac ?? '-'}；实际 ${ifaceText(body.actual)}`,
      en: `Interface ${iface} problems ${problems}; plan ipv4 ${body.expected.ipv4 ?? '-'} mac ${body.expected.mac ?? '-'}; actual ${ifaceText(body.actual)}`,
    },
  );
}

function reachability(body: unknown): RuleOutcome | null {
  if (!BODY['network.reachability'](body)) return null;
  const key = 'network.reachability';
  if (body.violation || body.state === 'reachable') {
    const target = txt(body.target, 300);
    return raise(
      'network.reachability',
      'critical',
      key,
      { zh: '座席可访问互联网', en: 'Internet reachable from seat' },
      { zh: `探测目标 ${target} 可达；${txt(body.detail, 256)}`, en: `Probe target ${target} is reachable; ${txt(body.detail, 256)}` },
    );
  }
  if (body.state === 'unreachable') return clear('network.reachability', key, { zh: '互联网已不可达', en: 'Internet no longer reachable' });
  return null;
}

function policyApplied(body: unknown): RuleOutcome | null {
  if (!BODY['policy.applied'](body)) return null;
  const key = 'policy.applied';
  if (body.ok) return clear('policy.applied', key, { zh: `策略版本 ${body.version} 已应用`, en: `Policy version ${body.version} applied` });
  const why = txt(body.detail, 512);
  return raise(
    'policy.applied',
    'high',
    key,
    { zh: 'USB策略应用失败', en: 'USB policy could not be applied' },
    { zh: `策略版本 ${body.version} 未能应用：${why}`, en: `Policy version ${body.version} was not applied: ${why}` },
  );
}

// ---------------------------------------------------------------------------------------------
// Agent outbox
// ---------------------------------------------------------------------------------------------

const DROP_REASON: Record<string, Bilingual> = {
  max_events: { zh: '队列已满', en: 'queue full' },
  max_age: { zh: '超过保留期', en: 'older than the retention' },
};

function outboxDropped(body: unknown): RuleOutcome | null {
  if (!BODY['outbox.dropped'](body)) return null;
  // Only low-severity types are ever dropped, but the seat's history has a gap an officer must know of.
  const counts = Object.entries(body.counts)
    .slice(0, LIST_MAX)
    .map(([type, n]) => `${txt(type, 64)}×${n}`)
    .join(', ');
  const total = Object.values(body.counts).reduce((a, n) => a + n, 0);
  const why = DROP_REASON[body.reason] ?? { zh: body.reason, en: body.reason };
  const range = `seq ${body.from_seq}–${body.to_seq}`;
  return raise(
    'outbox.dropped',
    'medium',
    'outbox.dropped',
    { zh: '座席事件已汇总并丢弃', en: 'Events summarized and dropped on seat' },
    {
      zh: `代理的事件队列丢弃了 ${total} 条低级别事件（${why.zh}，${range}）：${counts}`,
      en: `The agent's event queue dropped ${total} low-severity events (${why.en}, ${range}): ${counts}`,
    },
  );
}

// ---------------------------------------------------------------------------------------------

type Rule = (body: unknown, ctx: RuleContext) => RuleOutcome | null;

const RULES: Readonly<Record<string, Rule>> = {
  'usb.blocked': usbBlocked,
  'lock.state': lockState,
  'agent.started': agentStarted,
  'agent.stopping': agentStopping,
  'firmware.state': firmwareState,
  'firmware.password_removed': passwordRemoved,
  'firmware.bios_changed': biosChanged,
  'software.denied': softwareDenied,
  'software.installed': softwareInstalled,
  'software.removed': softwareRemoved,
  'process.denied': processDenied,
  'network.changed': networkChanged,
  'network.plan_mismatch': planMismatch,
  'network.reachability': reachability,
  'policy.applied': policyApplied,
  'agent.integrity': agentIntegrity,
  // An uninstall with a valid code is information only; one the collector cannot match is an alert.
  'agent.uninstalled': (_body, ctx) => forgedCode(ctx, 'uninstall'),
  'outbox.dropped': outboxDropped,
};

/** Event types that can raise or clear an alert. */
export const WATCHED_EVENT_TYPES: readonly string[] = Object.freeze(Object.keys(RULES));

/**
 * Maps one event to an alert outcome, or null when the event is not alert-worthy. A watched type
 * whose body does not match its schema raises `event.malformed` instead of being skipped: fail closed.
 */
export function evaluateEvent(event: RuleEvent, ctx: RuleContext): RuleOutcome | null {
  if (!Object.hasOwn(RULES, event.type) || !isWatchedEventType(event.type)) return null;
  const rule = RULES[event.type]!;
  const outcome = rule(event.body, ctx);
  if (outcome !== null || BODY[event.type](event.body)) return outcome;
  return raise(
    'event.malformed',
    'medium',
    `event.malformed:${event.type}`,
    { zh: '无法解析的安全事件', en: 'Unreadable security event' },
    { zh: `事件 ${event.type} 的内容不符合协议，无法评估`, en: `Event ${event.type} does not match its schema and could not be evaluated` },
  );
}
