import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import type { Logger } from '../../shared/logger.js';
import type { EventBody } from '../../shared/protocol/messages.js';
import { buildRoot } from '../build-root.js';
import type { OfflineSecret } from '../grants/offline-unlock.js';
import type { IpcRequest, IpcResponse } from '../ipc/ipc-protocol.js';
import { readManifest } from './install.js';
import { createIntegrity, type Integrity, type IntegrityStartResult, type WatchedFile } from './integrity.js';
import { createMaintenanceGate, type MaintenanceGate } from './maintenance.js';
import type { MaintenancePurpose } from '../../shared/domain/maintenance-code.js';

/**
 * The running agent's self-protection: integrity checks at start and every few minutes, and the
 * `maintenance` request on the local socket (stop / uninstall / upgrade with a maintenance code).
 */

/** Default period of the integrity re-check. */
export const INTEGRITY_INTERVAL_MS = 5 * 60_000;

/** The agent's code: the directories of this build the seat runs (agent, shared, the CLI entry). */
export function defaultCodeRoots(): string[] {
  // scripts/ holds the CLI entry and the one-file agent bundle the unit runs.
  const root = buildRoot();
  return ['agent', 'shared', 'scripts'].map((d) => join(root, d));
}

/** True when systemd says the whole system is going down (so a SIGTERM is the shutdown, not an attack). */
export function systemIsStopping(): boolean {
  try {
    return execFileSync('systemctl', ['is-system-running'], { timeout: 1_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() === 'stopping';
  } catch (err) {
    // is-system-running exits non-zero for every state but "running"; its answer is still on stdout.
    const out = (err as { stdout?: unknown }).stdout;
    return typeof out === 'string' && out.trim() === 'stopping';
  }
}

type SelfProtectEvent = 'agent.integrity' | 'agent.uninstalled';

export interface SelfProtectDeps {
  stateDir: string;
  codeRoots?: readonly string[];
  secret: () => OfflineSecret | null;
  emit: <T extends SelfProtectEvent>(type: T, body: EventBody<T>) => void;
  log: Logger;
  nowMs: () => number;
  intervalMs?: number;
  /** Called once a code was accepted and the answer is on its way: stop gracefully, authorized. */
  onAuthorizedStop: (s: { purpose: MaintenancePurpose; codeId: string }) => void;
}

export interface SelfProtect {
  /**
   * Hashes and compares (before agent.started); its result feeds agent.started. Never throws: an
   * unusable state dir must not keep enforcement from starting (codeSha256 is then null).
   */
  startIntegrity(): Omit<IntegrityStartResult, 'codeSha256'> & { codeSha256: string | null; rebaselinedBy: string | null };
  /** Reports start findings and starts the periodic check. */
  afterStart(): void;
  handle(req: Extract<IpcRequest, { op: 'maintenance' }>): Promise<IpcResponse>;
  stop(): void;
}

export function createSelfProtect(deps: SelfProtectDeps): SelfProtect {
  const log = deps.log.child({ component: 'selfprotect' });
  const gate: MaintenanceGate = createMaintenanceGate({ stateDir: deps.stateDir, secret: deps.secret, nowMs: deps.nowMs, log: deps.log });
  const configFiles = (): WatchedFile[] =>
    (readManifest(deps.stateDir) ?? []).map((m) => ({ path: m.path, item: m.item === 'code' ? 'agent_config' : m.item, installedSha256: m.sha256 }));
  const integrity: Integrity = createIntegrity({
    stateDir: deps.stateDir,
    codeRoots: deps.codeRoots ?? defaultCodeRoots(),
    configFiles,
    emit: (type, body) => deps.emit(type, body),
    log: deps.log,
    nowMs: deps.nowMs,
  });
  let timer: NodeJS.Timeout | null = null;
  let stopRequested = false;

  return {
    startIntegrity() {
      try {
        const by = gate.takeUpgrade();
        const r = integrity.start({ rebaselineBy: by });
        return { ...r, rebaselinedBy: r.baseline === 'rebaselined' ? by : null };
      } catch (err) {
        log.error({ err }, 'integrity check could not run at start; enforcement goes on');
        return { codeSha256: null, baseline: 'compared', findings: 0, rebaselinedBy: null };
      }
    },

    afterStart() {
      integrity.flush();
      timer = setInterval(() => {
        try {
          integrity.check();
        } catch (err) {
          log.error({ err }, 'integrity check failed');
        }
      }, deps.intervalMs ?? INTEGRITY_INTERVAL_MS);
      timer.unref();
    },

    async handle(req) {
      if (stopRequested) return { ok: false, code: 'IPC_ERR_BAD_REQUEST', message: 'Invalid local request: the agent is already stopping' };
      const r = gate.redeem(req.code, req.purpose);
      if (!r.ok) return { ok: false, code: r.code, message: r.message.slice(0, 512) };
      if (req.purpose === 'uninstall') {
        // Reported before anything is removed: the trail shows the uninstall even if the rest fails.
        deps.emit('agent.uninstalled', { code_id: r.codeId, os_user: sanitizeText(req.os_user, 64) || '?' });
      }
      if (req.purpose === 'upgrade') gate.markUpgrade(r.codeId, r.expiresAtMs);
      stopRequested = true;
      // After the answer is written (the IPC server replies when this promise resolves).
      setTimeout(() => deps.onAuthorizedStop({ purpose: r.purpose, codeId: r.codeId }), 50);
      return { ok: true, op: 'maintenance', purpose: r.purpose, code_id: r.codeId };
    },

    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
