import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Static } from 'typebox';
import { AppError, formatError, type ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { ENROLL_PATH, generateAgentKeyPair, signEnrollProof } from '../shared/protocol/agent-auth.js';
import { generatedCheck } from './generated-checks.js';
import type { EnrollResponse, IdentityFile } from './identity-schema.js';
import { httpRequestJson } from './transport/http-json.js';

/**
 * The agent's identity: the agent_id the collector assigned at enrollment and the Ed25519 private
 * key that proves it. Kept in the state dir as agent.json + agent.key (0600, dir 0700). The private
 * key never leaves the seat; only its public half is sent, once, at enrollment.
 */
export interface AgentIdentity {
  agentId: string;
  /** Where it enrolled (informational; the configured URL is what the agent connects to). */
  collectorUrl: string;
  seatName: string | null;
  privateKey: KeyObject;
  /**
   * The seat's offline-code secret from the enrollment answer (offline.key, 0600); null when the
   * collector gave none. Optional so identities built elsewhere (simulator) need not carry it.
   */
  offlineSecret?: Buffer | null;
  /** Fingerprint of the collector CA pinned at enrollment (agent.json); null for an http enrollment. */
  caFingerprint?: string | null;
}

/** File names inside the state dir: the public identity and the Ed25519 private key (PEM, 0600). */
export const IDENTITY_FILE = 'agent.json';
export const KEY_FILE = 'agent.key';
/** The offline unlock secret handed out at enrollment, base64 (0600). */
export const OFFLINE_SECRET_FILE = 'offline.key';

const checkIdentityFile = generatedCheck<Static<typeof IdentityFile>>('identity_file', 'identity file');
const checkEnrollResponse = generatedCheck<Static<typeof EnrollResponse>>('enroll_response', 'enrollment answer');
// 16–64 bytes in standard base64; the collector derives 32 (shared/domain/offline-code.ts).
const checkOfflineSecret = generatedCheck<string>('offline_secret', 'offline secret');

/** The offline secret in an enrollment answer, or null when absent or malformed (enrollment still counts). */
function offlineSecretOf(value: unknown): Buffer | null {
  if (typeof value !== 'object' || value === null || !('offline_secret' in value)) return null;
  const v: unknown = value.offline_secret;
  if (!checkOfflineSecret.check(v)) return null;
  const buf = Buffer.from(v, 'base64');
  return buf.length >= 16 && buf.length <= 64 ? buf : null;
}

/**
 * The saved offline secret; null when absent or damaged. Never fatal: an agent that cannot check
 * offline codes must still start and enforce (the seat CLI then reports OFFLINE_ERR_NO_SECRET).
 */
function readOfflineSecret(stateDir: string): Buffer | null {
  try {
    const text = readFileSync(join(stateDir, OFFLINE_SECRET_FILE), 'utf8').trim();
    return checkOfflineSecret.check(text) ? Buffer.from(text, 'base64') : null;
  } catch {
    return null;
  }
}

const ERROR_CODES_FROM_COLLECTOR: ReadonlySet<string> = new Set(['ENROLL_ERR_TOKEN', 'ENROLL_ERR_SEAT_NAME']);

function damaged(stateDir: string, why: string, cause?: unknown): AppError {
  return new AppError('AGENT_ERR_IDENTITY', formatError('AGENT_ERR_IDENTITY', stateDir, why), cause === undefined ? undefined : { cause });
}

/** Creates the state dir (0700) if needed and tightens its mode. */
export function ensureStateDir(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  chmodSync(stateDir, 0o700);
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writePrivate(path: string, content: string): void {
  // Write-then-rename so a crash never leaves a half-written key or identity behind, and fsync
  // (file, then dir) so the key is on disk before the collector can have registered it: a power
  // cut after the enrollment commit must not leave the seat with a new key the collector never saw.
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  fsyncPath(tmp);
  renameSync(tmp, path);
  try {
    fsyncPath(dirname(path));
  } catch {
    // Some platforms cannot open a directory for fsync; the file itself is already durable.
  }
}

function readKey(stateDir: string): KeyObject | null {
  const path = join(stateDir, KEY_FILE);
  if (!existsSync(path)) return null;
  try {
    const key = createPrivateKey(readFileSync(path, 'utf8'));
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key');
    return key;
  } catch (err) {
    throw damaged(stateDir, `${KEY_FILE} is not an Ed25519 private key`, err);
  }
}

/** Loads a saved identity; null when the agent has not enrolled yet. Throws AGENT_ERR_IDENTITY when damaged. */
export function loadIdentity(stateDir: string): AgentIdentity | null {
  const path = join(stateDir, IDENTITY_FILE);
  if (!existsSync(path)) return null;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw damaged(stateDir, `${IDENTITY_FILE} is not JSON`, err);
  }
  if (!checkIdentityFile.check(value)) throw damaged(stateDir, `${IDENTITY_FILE} has an unexpected shape`);
  const key = readKey(stateDir);
  if (!key) throw damaged(stateDir, `${KEY_FILE} is missing`);
  return {
    agentId: value.agent_id,
    collectorUrl: value.collector_url,
    seatName: value.seat_name ?? null,
    privateKey: key,
    offlineSecret: readOfflineSecret(stateDir),
    caFingerprint: value.ca_fingerprint ?? null,
  };
}

/** Inputs of one enrollment request. */
export interface EnrollOptions {
  collectorUrl: string;
  token: string;
  hostname: string;
  platform: 'linux' | 'windows' | 'fake';
  seatName?: string | null;
  /** PEM of the key to register; a new key pair is generated when absent. */
  privateKeyPem?: string;
  timeoutMs?: number;
  /** The pinned collector CA (PEM) for an https URL; null/absent for http (insecure-dev). */
  ca?: string | null;
}

/**
 * POSTs the enrollment (token + public key, signed with the private key) and returns the assigned
 * id with the private key. Writes nothing. Sending the same key and token again after a lost answer
 * gets the same id (within the token's lifetime). Throws ENROLL_ERR_* as the collector reported it,
 * or AGENT_ERR_ENROLL (network failure, unexpected answer).
 */
export async function enrollAgent(
  opts: EnrollOptions,
): Promise<{ agentId: string; seatName: string; privateKey: KeyObject; privateKeyPem: string; offlineSecret: Buffer | null }> {
  const pair = opts.privateKeyPem ? publicFromPem(opts.privateKeyPem) : generateAgentKeyPair();
  const privateKey = createPrivateKey(pair.privateKeyPem);
  const body = {
    token: opts.token,
    public_key: pair.publicKeyB64,
    hostname: opts.hostname,
    platform: opts.platform,
    ...(opts.seatName ? { seat_name: opts.seatName } : {}),
    // Proves this request holds the key: the collector answers a retry of a used token only to it.
    proof: signEnrollProof(privateKey, opts.token, pair.publicKeyB64),
  };
  let res: { status: number; json: unknown };
  try {
    res = await httpRequestJson(`${opts.collectorUrl}${ENROLL_PATH}`, {
      method: 'POST',
      body,
      ca: opts.ca ?? null,
      timeoutMs: opts.timeoutMs ?? 15_000,
      maxBytes: 16 * 1024,
    });
  } catch (err) {
    throw new AppError('AGENT_ERR_ENROLL', formatError('AGENT_ERR_ENROLL', 'collector unreachable'), { cause: err });
  }
  // A non-JSON answer is undefined here and counts as "unexpected" below.
  const value: unknown = res.json;
  if (res.status < 200 || res.status > 299) {
    const code = errorCodeOf(value);
    if (typeof code === 'string' && ERROR_CODES_FROM_COLLECTOR.has(code)) {
      throw new AppError(code as ErrorCode, undefined, { details: { status: res.status } });
    }
    throw new AppError('AGENT_ERR_ENROLL', formatError('AGENT_ERR_ENROLL', `HTTP ${res.status}`), { details: { status: res.status } });
  }
  if (!checkEnrollResponse.check(value)) throw new AppError('AGENT_ERR_ENROLL', formatError('AGENT_ERR_ENROLL', 'unexpected response'));
  return {
    agentId: value.agent_id,
    seatName: value.seat_name,
    privateKey,
    privateKeyPem: pair.privateKeyPem,
    offlineSecret: offlineSecretOf(value),
  };
}

/** The collector answers errors as { error: { code } }; anything else yields undefined. */
function errorCodeOf(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || !('error' in value)) return undefined;
  const e: unknown = value.error;
  return typeof e === 'object' && e !== null && 'code' in e ? e.code : undefined;
}

function publicFromPem(pem: string): { publicKeyB64: string; privateKeyPem: string } {
  const publicKeyB64 = createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' }).toString('base64');
  return { publicKeyB64, privateKeyPem: pem };
}

/** Inputs of {@link ensureIdentity}. */
export interface EnsureIdentityOptions {
  stateDir: string;
  collectorUrl: string;
  enrollToken: string | null;
  hostname: string;
  platform: 'linux' | 'windows' | 'fake';
  seatName: string | null;
  log: Logger;
  /** The pinned collector CA for an https URL (agent/transport/ca-pin.ts); recorded in agent.json. */
  ca?: { pem: string; fingerprint: string } | null;
}

/**
 * Returns the saved identity or enrolls once with the token and saves it. The key is written (and
 * fsync'd) before the enrollment request and reused by every later attempt, so when the answer is
 * lost (collector crash, dropped connection, agent crash) the next try proves the same key and the
 * collector answers with the identity it already committed.
 */
export async function ensureIdentity(opts: EnsureIdentityOptions): Promise<AgentIdentity> {
  const log = opts.log.child({ component: 'identity' });
  ensureStateDir(opts.stateDir);
  const existing = loadIdentity(opts.stateDir);
  if (existing) {
    if (existing.collectorUrl !== opts.collectorUrl) {
      log.warn({ enrolled_with: existing.collectorUrl, collector_url: opts.collectorUrl }, 'agent enrolled with another collector URL; using the configured one');
    }
    if (opts.ca && existing.caFingerprint !== opts.ca.fingerprint) {
      // An agent enrolled over http (insecure-dev) that now pins a CA: record it beside the identity.
      writeIdentityFile(opts.stateDir, existing.agentId, existing.collectorUrl, existing.seatName, opts.ca.fingerprint);
      existing.caFingerprint = opts.ca.fingerprint;
    }
    return existing;
  }
  if (!opts.enrollToken) throw damaged(opts.stateDir, 'not enrolled yet and no enrollment token given');
  let pem: string;
  const keyPath = join(opts.stateDir, KEY_FILE);
  if (readKey(opts.stateDir)) pem = readFileSync(keyPath, 'utf8');
  else {
    pem = generateAgentKeyPair().privateKeyPem;
    writePrivate(keyPath, pem);
  }
  const enrolled = await enrollAgent({
    collectorUrl: opts.collectorUrl,
    token: opts.enrollToken,
    hostname: opts.hostname,
    platform: opts.platform,
    seatName: opts.seatName,
    privateKeyPem: pem,
    ca: opts.ca?.pem ?? null,
  });
  // The secret is written before agent.json: an identity on disk always has its secret next to it.
  if (enrolled.offlineSecret) writePrivate(join(opts.stateDir, OFFLINE_SECRET_FILE), `${enrolled.offlineSecret.toString('base64')}\n`);
  else log.warn({ agent_id: enrolled.agentId }, 'collector sent no offline secret; offline unlock codes will not work on this seat');
  writeIdentityFile(opts.stateDir, enrolled.agentId, opts.collectorUrl, enrolled.seatName, opts.ca?.fingerprint ?? null);
  log.info({ agent_id: enrolled.agentId, seat_name: enrolled.seatName }, 'agent enrolled');
  return {
    agentId: enrolled.agentId,
    collectorUrl: opts.collectorUrl,
    seatName: enrolled.seatName,
    privateKey: enrolled.privateKey,
    offlineSecret: enrolled.offlineSecret,
    caFingerprint: opts.ca?.fingerprint ?? null,
  };
}

function writeIdentityFile(stateDir: string, agentId: string, collectorUrl: string, seatName: string | null, caFingerprint: string | null): void {
  const value = { agent_id: agentId, collector_url: collectorUrl, seat_name: seatName, ...(caFingerprint ? { ca_fingerprint: caFingerprint } : {}) };
  writePrivate(join(stateDir, IDENTITY_FILE), `${JSON.stringify(value, null, 2)}\n`);
}
