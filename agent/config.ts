import { join } from 'node:path';
import type { LevelWithSilent } from 'pino';
import { normalizeCaFingerprint } from '../shared/ca-fingerprint.js';
import { AppError, formatError } from '../shared/errors.js';

/** Version reported in hello and agent.started. */
export const AGENT_VERSION = '0.1.0';

export type PlatformChoice = 'auto' | 'linux' | 'windows' | 'fake';

/** The agent's settings after validation. Every tunable has a documented default. */
export interface AgentConfig {
  /** Collector base URL, https://host[:port] (http:// only with insecureDev). Required. */
  collectorUrl: string;
  /**
   * SHA-256 fingerprint of the collector CA (`sha256:<hex>`; the colon-separated form is accepted
   * and normalised). Needed on the first https start, before STATE/collector-ca.pem exists.
   * Default null.
   */
  caFingerprint: string | null;
  /** Allow a plain http:// collector (no encryption, no server authentication). Default false. */
  insecureDev: boolean;
  /** State directory (agent.json, agent.key, outbox.db); created 0700. Required. */
  stateDir: string;
  /** USB backend. Default 'auto' (linux on Linux; windows is planned, not built). */
  platform: PlatformChoice;
  /** Single-use enrollment token; needed only on the first start. */
  enrollToken: string | null;
  /** Seat name to enroll under. Default: the host name. */
  seatName: string | null;
  /** pino level. Default 'info'. */
  logLevel: LevelWithSilent;
  /** sysfs mount point for the linux platform. Default '/sys' (tests point it at a fake tree). */
  sysfsRoot: string;
  /** Full USB rescan/re-lock period. Default 10 000 ms (platform.md §1.4 suggests 5–10 s); 0 disables. */
  resyncIntervalMs: number;
  /** Reconnect backoff base and cap (full jitter). Defaults 1 000 ms and 60 000 ms. */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** Events in flight before acks are required. Default 500. */
  sendWindow: number;
  /** On graceful stop, how long to wait for the outbox to drain. Default 2 000 ms. */
  flushTimeoutMs: number;
  /** Fake platform only: read device commands as JSON lines from stdin (testing aid). Default false. */
  fakeStdin: boolean;
  /**
   * Unix socket for the seat CLI (request-unlock, unlock-code). Default null = STATE/agent.sock.
   * SECURITY: created 0666 so any local user may ask; with the default path the 0700 state dir keeps
   * it root-only, so for seat users point it at a world-traversable directory (e.g. /run/seatguard).
   */
  ipcSocket: string | null;
}

/** The seat CLI's socket for a config: ipcSocket, or agent.sock in the state dir. */
export function ipcSocketPath(config: Pick<AgentConfig, 'ipcSocket' | 'stateDir'>): string {
  return config.ipcSocket ?? join(config.stateDir, IPC_SOCKET_FILE);
}

/** Default socket file name inside the state dir. */
export const IPC_SOCKET_FILE = 'agent.sock';

/** Defaults of every optional setting (documented on AgentConfig). */
export const AGENT_DEFAULTS = {
  platform: 'auto',
  enrollToken: null,
  seatName: null,
  logLevel: 'info',
  sysfsRoot: '/sys',
  resyncIntervalMs: 10_000,
  backoffBaseMs: 1_000,
  backoffCapMs: 60_000,
  sendWindow: 500,
  flushTimeoutMs: 2_000,
  fakeStdin: false,
  ipcSocket: null,
  caFingerprint: null,
  insecureDev: false,
} as const satisfies Partial<AgentConfig>;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const PLATFORMS = ['auto', 'linux', 'windows', 'fake'];
const SEAT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOKEN_RE = /^[A-Za-z0-9_.~+/=-]{8,256}$/;
const KEYS = new Set<string>(['collectorUrl', 'stateDir', ...Object.keys(AGENT_DEFAULTS)]);

type Raw = Record<string, unknown>;

function intIn(raw: Raw, key: keyof AgentConfig, min: number, max: number, problems: string[]): number {
  const v = raw[key] ?? AGENT_DEFAULTS[key as keyof typeof AGENT_DEFAULTS];
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    problems.push(`${key} must be an integer from ${min} to ${max}`);
    return min;
  }
  return n;
}

/**
 * Validates the merged sources (defaults < env < CLI, merged by main.ts) once, listing every
 * problem in one CONFIG_ERR_INVALID, and returns a frozen config.
 */
export function loadAgentConfig(raw: Raw): Readonly<AgentConfig> {
  const problems: string[] = [];
  for (const k of Object.keys(raw)) if (!KEYS.has(k) && raw[k] !== undefined) problems.push(`unknown option ${k}`);

  let collectorUrl = '';
  if (typeof raw.collectorUrl !== 'string' || raw.collectorUrl === '') problems.push('collectorUrl is required');
  else {
    try {
      const u = new URL(raw.collectorUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push('collectorUrl must be http:// or https://');
      else if (u.username || u.password || u.search || u.hash) problems.push('collectorUrl must not carry credentials, query or fragment');
      else collectorUrl = u.origin + u.pathname.replace(/\/+$/, '');
    } catch {
      problems.push('collectorUrl is not a URL');
    }
  }
  const insecureDev = raw.insecureDev ?? AGENT_DEFAULTS.insecureDev;
  if (typeof insecureDev !== 'boolean') problems.push('insecureDev must be a boolean');
  if (collectorUrl.startsWith('http://') && insecureDev !== true) {
    problems.push('collectorUrl is http:// (unencrypted); use the https:// URL the collector prints, or pass --insecure-dev for development');
  }
  const rawPin = raw.caFingerprint ?? null;
  const caFingerprint = typeof rawPin === 'string' ? normalizeCaFingerprint(rawPin) : null;
  if (rawPin !== null && caFingerprint === null) problems.push('caFingerprint must be a SHA-256 fingerprint: sha256:<64 hex> or AB:CD:… (32 pairs)');
  const stateDir = typeof raw.stateDir === 'string' && raw.stateDir !== '' ? raw.stateDir : '';
  if (!stateDir) problems.push('stateDir is required');

  const platform = raw.platform ?? AGENT_DEFAULTS.platform;
  if (typeof platform !== 'string' || !PLATFORMS.includes(platform)) problems.push(`platform must be one of ${PLATFORMS.join(', ')}`);
  const logLevel = raw.logLevel ?? AGENT_DEFAULTS.logLevel;
  if (typeof logLevel !== 'string' || !LEVELS.includes(logLevel)) problems.push(`logLevel must be one of ${LEVELS.join(', ')}`);

  const enrollToken = raw.enrollToken ?? null;
  if (enrollToken !== null && (typeof enrollToken !== 'string' || !TOKEN_RE.test(enrollToken))) problems.push('enrollToken has an invalid format');
  const seatName = raw.seatName ?? null;
  if (seatName !== null && (typeof seatName !== 'string' || !SEAT_NAME_RE.test(seatName))) {
    problems.push('seatName must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');
  }
  const sysfsRoot = raw.sysfsRoot ?? AGENT_DEFAULTS.sysfsRoot;
  if (typeof sysfsRoot !== 'string' || sysfsRoot === '') problems.push('sysfsRoot must be a path');
  const fakeStdin = raw.fakeStdin ?? AGENT_DEFAULTS.fakeStdin;
  if (typeof fakeStdin !== 'boolean') problems.push('fakeStdin must be a boolean');

  const resyncIntervalMs = intIn(raw, 'resyncIntervalMs', 0, 3_600_000, problems);
  const backoffBaseMs = intIn(raw, 'backoffBaseMs', 1, 600_000, problems);
  const backoffCapMs = intIn(raw, 'backoffCapMs', 1, 3_600_000, problems);
  const sendWindow = intIn(raw, 'sendWindow', 1, 10_000, problems);
  const flushTimeoutMs = intIn(raw, 'flushTimeoutMs', 0, 60_000, problems);
  if (backoffCapMs < backoffBaseMs) problems.push('backoffCapMs must be at least backoffBaseMs');
  if (fakeStdin === true && platform !== 'fake') problems.push('fakeStdin needs platform fake');
  const ipcSocket = raw.ipcSocket ?? AGENT_DEFAULTS.ipcSocket;
  // sockaddr_un holds 107 bytes of path.
  if (ipcSocket !== null && (typeof ipcSocket !== 'string' || ipcSocket === '' || Buffer.byteLength(ipcSocket) > 107)) {
    problems.push('ipcSocket must be a path of at most 107 bytes');
  }

  if (problems.length > 0) {
    throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', problems.join('; ')), { details: { problems } });
  }
  return Object.freeze({
    collectorUrl,
    stateDir,
    platform: platform as PlatformChoice,
    enrollToken: enrollToken as string | null,
    seatName: seatName as string | null,
    logLevel: logLevel as LevelWithSilent,
    sysfsRoot: sysfsRoot as string,
    resyncIntervalMs,
    backoffBaseMs,
    backoffCapMs,
    sendWindow,
    flushTimeoutMs,
    fakeStdin: fakeStdin as boolean,
    ipcSocket: ipcSocket as string | null,
    caFingerprint,
    insecureDev: insecureDev as boolean,
  });
}
