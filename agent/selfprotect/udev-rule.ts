/**
 * The udev backstop the installer writes (docs/self-protection.md §1, docs/linux-enforcement.md §6),
 * and a checker for udev rule syntax so that a typo can never be installed: udevd skips a line it
 * cannot parse with only a log message, which would silently open the gate.
 */

export const UDEV_RULE_FILE = 'etc/udev/rules.d/10-seatguard-usb-storage.rules';

/**
 * Line 1 closes the gate of every root hub as udev sees it (coldplug at boot, hot-added
 * controllers). Line 2 lets every non-storage interface through so keyboards work before the agent
 * runs; its RUN is needed because the kernel does not probe an interface when it is authorized.
 * Line 3 deauthorizes a storage interface that was bound anyway (enumerated before the gate closed:
 * before coldplug, or on a controller that arrived with the device attached). All three lines are
 * verified against systemd-udevd 252 in the QEMU lab (test/vm/udev.vm.test.ts, docs/vm-lab.md).
 */
export function renderUdevRule(): string {
  return [
    '# seatguard: USB mass storage stays blocked while the agent is not running (boot, crash, stop).',
    '# Written by `seatguard agent install`; changes are reported by the agent (agent.integrity).',
    'ACTION=="add", SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", KERNEL=="usb[0-9]*", ATTR{interface_authorized_default}="0"',
    'ACTION=="add", SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_interface", ATTR{bInterfaceClass}!="08", ATTR{authorized}="1", RUN+="/bin/sh -c \'echo %k > /sys/bus/usb/drivers_probe\'"',
    'ACTION=="add", SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_interface", ATTR{bInterfaceClass}=="08", ATTR{authorized}="0"',
    '',
  ].join('\n');
}

export interface UdevToken {
  key: string;
  /** ATTR{name} / ENV{name}, else null. */
  attr: string | null;
  op: '==' | '!=' | '=' | '+=' | '-=' | ':=';
  value: string;
}

const MATCH_KEYS = new Set(['ACTION', 'SUBSYSTEM', 'KERNEL', 'DRIVER', 'DEVPATH', 'ATTR', 'ENV', 'SUBSYSTEMS', 'KERNELS', 'ATTRS', 'TAG']);
const ASSIGN_KEYS = new Set(['ATTR', 'ENV', 'RUN', 'TAG', 'OPTIONS', 'NAME', 'SYMLINK', 'MODE', 'OWNER', 'GROUP']);
const KEYS_WITH_ATTR = new Set(['ATTR', 'ATTRS', 'ENV']);
const TOKEN_RE = /^([A-Z]+)(?:\{([A-Za-z0-9_]+)\})?(==|!=|\+=|-=|:=|=)"((?:[^"\\]|\\.)*)"$/;

/** Splits one rule line into its key-op-value tokens; throws with a reason for anything udev would not take. */
export function parseUdevLine(line: string): UdevToken[] {
  const tokens: UdevToken[] = [];
  // Tokens are separated by commas outside quotes.
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && quoted) {
      cur += ch + (line[i + 1] ?? '');
      i++;
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      parts.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (quoted) throw new Error('unterminated quote');
  parts.push(cur.trim());
  for (const p of parts) {
    const m = TOKEN_RE.exec(p);
    if (!m) throw new Error(`not a key-operator-value token: ${p.slice(0, 80)}`);
    const [, key, attr, op, value] = m as unknown as [string, string, string | undefined, UdevToken['op'], string];
    const isMatch = op === '==' || op === '!=';
    if (!(isMatch ? MATCH_KEYS : ASSIGN_KEYS).has(key)) throw new Error(`${key} cannot be used with ${op}`);
    if (KEYS_WITH_ATTR.has(key) !== (attr !== undefined)) throw new Error(`${key} ${attr === undefined ? 'needs' : 'takes no'} {name}`);
    tokens.push({ key, attr: attr ?? null, op, value });
  }
  return tokens;
}

/** Parses a whole rules file (comments and blank lines skipped); throws naming the first bad line. */
export function parseUdevRules(text: string): UdevToken[][] {
  const rules: UdevToken[][] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    try {
      rules.push(parseUdevLine(line));
    } catch (err) {
      throw new Error(`line ${i + 1}: ${(err as Error).message}`);
    }
  });
  return rules;
}
