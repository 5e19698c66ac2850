import { evaluateSoftware, type CompiledSoftwarePolicy, type SoftwareVerdict } from '../../shared/domain/software-policy-core.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { ProcessAction } from '../../shared/protocol/sensor-messages.js';
import type { ProcessInfo, ProcessLister } from '../platform/sensors.js';
import { defaultCompiledPolicy } from './default-policy.js';
import { createPeriodicTask, createSerialQueue } from './periodic.js';
import { reportSensorError, type Sensor, type SensorBaseDeps } from './sensor.js';

/** Default period between process scans: 10 s (detection is after the fact; Node cannot block exec). */
export const PROCESS_INTERVAL_MS = 10_000;

export interface ProcessSensorDeps extends SensorBaseDeps {
  lister: ProcessLister;
  /** Compiled policy; its mode decides audit (report) or enforce (re-verify, SIGKILL, report). */
  policy?: CompiledSoftwarePolicy;
  intervalMs?: number;
  /** PIDs never killed whatever the policy says (default: 0, 1 and the agent itself). */
  protectedPids?: readonly number[];
}

export interface ProcessSensor extends Sensor {
  /** Scans (and enforces) now; never throws. */
  scanNow(): Promise<void>;
  setPolicy(policy: CompiledSoftwarePolicy): void;
}

// "/usr/bin/nmap (deleted)": the binary was removed or replaced after start; judge the original name.
const DELETED = / \(deleted\)$/;

function subjectOf(p: ProcessInfo) {
  return { kind: 'process' as const, path: p.path === null ? null : p.path.replace(DELETED, ''), sha256: p.sha256 };
}

/**
 * Scans running processes and applies the software policy to each executable (sha256, path). In
 * enforce mode a denied process is re-read and re-hashed first, and killed only if it is still the
 * same image (same start time and sha256) and still denied; every outcome is reported.
 */
export function createProcessSensor(deps: ProcessSensorDeps): ProcessSensor {
  const log = deps.log.child({ component: 'process-sensor' });
  let policy = deps.policy ?? defaultCompiledPolicy();
  const protectedPids = new Set(deps.protectedPids ?? [0, 1, process.pid]);
  // Last action reported per process image, so an audit alert or a failing kill is not repeated
  // every scan; entries of processes that are gone are pruned.
  const handled = new Map<string, ProcessAction>();
  const serial = createSerialQueue();
  const errorHook = deps.onError ? { onError: deps.onError } : {};
  const onError = (err: Error) => reportSensorError({ log, ...errorHook }, err, 'process sensor run failed');

  async function report(p: ProcessInfo, v: SoftwareVerdict, action: ProcessAction, detail: string): Promise<void> {
    await deps.emit('process.denied', {
      pid: p.pid,
      name: p.name === null ? null : sanitizeText(p.name, 64),
      path: p.path === null ? null : sanitizeText(p.path, 512),
      sha256: p.sha256,
      uid: p.uid,
      rule_id: v.ruleId,
      category: v.category,
      reason: sanitizeText(v.reason, 256),
      mode: policy.mode,
      action,
      detail: sanitizeText(detail, 256),
    });
  }

  async function enforce(p: ProcessInfo, v: SoftwareVerdict): Promise<{ action: ProcessAction; detail: string } | null> {
    if (protectedPids.has(p.pid)) return { action: 'protected', detail: 'pid is protected (init or the agent itself); not killed' };
    const fresh = await deps.lister.identify(p.pid);
    if (!fresh) return { action: 'gone', detail: 'process exited before it could be killed' };
    if (fresh.startTime !== p.startTime || fresh.sha256 !== p.sha256) {
      // PID reuse or exec since the scan: judge the new image on the next scan instead.
      log.debug({ pid: p.pid }, 'process changed before kill; re-evaluating next scan');
      return null;
    }
    const again = evaluateSoftware(policy, subjectOf(fresh));
    if (again.verdict !== 'deny') return null;
    const r = await deps.lister.terminate(p.pid);
    if (r.result === 'killed') {
      log.warn({ pid: p.pid, rule_id: v.ruleId }, 'denied process killed');
      return { action: 'killed', detail: `re-verified sha256 and start time, then ${r.detail}` };
    }
    if (r.result === 'gone') return { action: 'gone', detail: r.detail };
    log.error({ pid: p.pid, err: new AppError('PROC_ERR_TERMINATE', formatError('PROC_ERR_TERMINATE', p.pid, r.detail)) }, 'denied process could not be killed');
    return { action: 'kill_failed', detail: r.detail };
  }

  async function runOnce(): Promise<void> {
    const procs = await deps.lister.list();
    const seen = new Set<string>();
    for (const p of procs) {
      if (p.path === null && p.sha256 === null) continue;
      const v = evaluateSoftware(policy, subjectOf(p));
      if (v.verdict !== 'deny') continue;
      const key = `${p.pid}\u0000${p.startTime ?? ''}\u0000${p.sha256 ?? ''}\u0000${policy.mode}`;
      seen.add(key);
      const prior = handled.get(key);
      if (policy.mode === 'audit') {
        if (prior) continue;
        await report(p, v, 'alerted', 'audit mode: reported, not killed');
        handled.set(key, 'alerted');
        continue;
      }
      if (prior === 'protected' || prior === 'killed') continue;
      const outcome = await enforce(p, v);
      if (!outcome) continue;
      if (prior !== outcome.action) await report(p, v, outcome.action, outcome.detail);
      handled.set(key, outcome.action);
    }
    for (const k of handled.keys()) if (!seen.has(k)) handled.delete(k);
  }

  const run = () => serial(runOnce);
  const task = createPeriodicTask({ intervalMs: deps.intervalMs ?? PROCESS_INTERVAL_MS, run, onError });

  async function scanNow(): Promise<void> {
    try {
      await run();
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  return {
    async start() {
      await scanNow();
      task.start(deps.intervalMs ?? PROCESS_INTERVAL_MS);
    },
    async stop() {
      await task.stop();
      await serial(() => Promise.resolve());
    },
    scanNow,
    setPolicy(p) {
      policy = p;
    },
  };
}

