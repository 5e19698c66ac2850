import { RuleParseError } from './errors.js';
import { displayText } from './text.js';
import { MAX_DURATION_SECONDS } from './ast.js';

const HEX4 = /^[0-9a-fA-F]{4}$/;
const HEX2 = /^[0-9a-fA-F]{2}$/;

/**
 * `vvvv:pppp`, `vvvv:*` or `*:*` (USBGuard rejects a wildcard vendor with a fixed product).
 * Returns the id in lowercase.
 */
export function parseDeviceId(text: string, at: number): string {
  const shown = displayText(text);
  const parts = text.split(':');
  if (parts.length !== 2) {
    throw new RuleParseError(at, `invalid device id '${shown}': expected vvvv:pppp (4 hex digits each), vvvv:* or *:*`);
  }
  const [vendor, product] = parts as [string, string];
  if (vendor !== '*' && !HEX4.test(vendor)) {
    throw new RuleParseError(at, `invalid device id '${shown}': the vendor id must be 4 hex digits or *`);
  }
  if (product !== '*' && !HEX4.test(product)) {
    throw new RuleParseError(
      at + vendor.length + 1,
      `invalid device id '${shown}': the product id must be 4 hex digits or *`,
    );
  }
  if (vendor === '*' && product !== '*') {
    throw new RuleParseError(at, `invalid device id '${shown}': a wildcard vendor needs a wildcard product (*:*)`);
  }
  return text.toLowerCase();
}

/**
 * `cc:ss:pp` with `*` allowed for subclass and protocol; a wildcard subclass needs a wildcard
 * protocol (USBGuard). Returns the pattern in lowercase.
 */
export function parseInterfaceType(text: string, at: number): string {
  const shown = displayText(text);
  const parts = text.split(':');
  if (parts.length !== 3) {
    throw new RuleParseError(at, `invalid interface type '${shown}': expected cc:ss:pp (class:subclass:protocol)`);
  }
  const [cls, sub, proto] = parts as [string, string, string];
  if (!HEX2.test(cls)) {
    throw new RuleParseError(at, `invalid interface type '${shown}': expected two hex digits for the class`);
  }
  const subAt = at + cls.length + 1;
  if (sub !== '*' && !HEX2.test(sub)) {
    throw new RuleParseError(subAt, `invalid interface type '${shown}': expected two hex digits or * for the subclass`);
  }
  const protoAt = subAt + sub.length + 1;
  if (proto !== '*' && !HEX2.test(proto)) {
    throw new RuleParseError(protoAt, `invalid interface type '${shown}': expected two hex digits or * for the protocol`);
  }
  if (sub === '*' && proto !== '*') {
    throw new RuleParseError(protoAt, `invalid interface type '${shown}': a wildcard subclass needs a wildcard protocol`);
  }
  return text.toLowerCase();
}

const TIME = /^(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$/;

/** `H:MM` or `H:MM:SS` → seconds since midnight. */
export function parseTimeOfDay(text: string, at: number): number {
  const m = TIME.exec(text);
  const h = Number(m?.[1]);
  const min = Number(m?.[2]);
  const s = Number(m?.[3] ?? 0);
  if (!m || h > 23 || min > 59 || s > 59) {
    throw new RuleParseError(at, `invalid time '${displayText(text)}': expected HH:MM or HH:MM:SS (00:00 to 23:59:59)`);
  }
  return h * 3600 + min * 60 + s;
}

/** `HH:MM[:SS]` or `HH:MM[:SS]-HH:MM[:SS]` → [begin, end] in seconds since midnight. */
export function parseTimeRange(text: string, at: number): [number, number] {
  const dash = text.indexOf('-');
  if (dash < 0) {
    const t = parseTimeOfDay(text, at);
    return [t, t];
  }
  return [parseTimeOfDay(text.slice(0, dash), at), parseTimeOfDay(text.slice(dash + 1), at + dash + 1)];
}

const DURATION_HMS = /^(\d{1,4}):(\d{1,2})(?::(\d{1,2}))?$/;
const DURATION_S = /^\d{1,9}$/;

/** `HH:MM:SS`, `HH:MM` or `SS` (seconds) → seconds, at most {@link MAX_DURATION_SECONDS}. */
export function parseDuration(text: string, at: number): number {
  let seconds: number;
  const m = DURATION_HMS.exec(text);
  if (m) {
    const min = Number(m[2]);
    const s = Number(m[3] ?? 0);
    if (min > 59 || s > 59) {
      throw new RuleParseError(at, `invalid duration '${displayText(text)}': minutes and seconds must be below 60`);
    }
    seconds = Number(m[1]) * 3600 + min * 60 + s;
  } else if (DURATION_S.test(text)) {
    seconds = Number(text);
  } else {
    throw new RuleParseError(at, `invalid duration '${displayText(text)}': expected HH:MM:SS, HH:MM or a number of seconds`);
  }
  if (seconds > MAX_DURATION_SECONDS) {
    throw new RuleParseError(at, `invalid duration '${displayText(text)}': at most 9999:59:59`);
  }
  return seconds;
}

const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/** A probability for random(p): a decimal number from 0 to 1. */
export function parseProbability(text: string, at: number): number {
  const p = DECIMAL.test(text) ? Number(text) : NaN;
  if (!(p >= 0 && p <= 1)) {
    throw new RuleParseError(at, `invalid probability '${displayText(text)}': expected a number from 0 to 1`);
  }
  return p;
}

/** Canonical `HH:MM` (or `HH:MM:SS` when seconds are set) for a time of day. */
export function formatTimeOfDay(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const hm = `${pad2(h)}:${pad2(m)}`;
  return s === 0 ? hm : `${hm}:${pad2(s)}`;
}

/** Canonical `HH:MM:SS` for a duration. */
export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return `${pad2(h)}:${pad2(m)}:${pad2(seconds % 60)}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
