import { createHash } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { collectorMessage } from '../../shared/protocol/encode.js';
import type { SoftwareRule } from '../../shared/domain/software-policy.js';
import { builtinSensorConfig, checkSensorConfig, type SensorConfigBody } from '../../shared/protocol/sensor-config-messages.js';
import { MAX_FRAME_BYTES } from '../../shared/protocol/version.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { SensorConfigRepo, SensorConfigRow } from '../store/sensor-config-repo.js';
import { scopeColumns, scopeOfRow, scopeString, type SensorScope } from './scope.js';

/** What an operator saves: a `sensor.config` body without `version` (the collector assigns it). */
export type SensorConfigInput = Omit<SensorConfigBody, 'version'>;

/** How the service reaches connected agents (the agent gateway; same shape as the unlock workflow's channel). */
export interface SensorConfigChannel {
  /** Sends one frame to the agent's live session; false when it is not connected (it gets it after welcome). */
  sendToAgent(agentId: string, frame: string): boolean;
}

export interface SensorConfigServiceDeps {
  repo: SensorConfigRepo;
  /** Runs `fn` in one store transaction (Store.transaction). */
  transaction: <T>(fn: () => T) => T;
  audit: Pick<AuditLog, 'append'>;
  channel: SensorConfigChannel;
  clock: Clock;
  log: Logger;
  /**
   * Allow rules that belong to one seat only (approved software requests,
   * collector/workflow/software-service.ts): appended to the seat's effective software policy.
   */
  seatAllowRules?: (agentId: string) => readonly SoftwareRule[];
}

/** A stored configuration as the API shows it. */
export interface SensorConfigView {
  scope: string;
  version: number;
  revision: number;
  /** null: this row cleared the scope's override. */
  config: SensorConfigInput | null;
  created_by: string;
  created_at: string;
  comment: string;
}

/** The configuration a seat runs and where it comes from. */
export interface EffectiveSensorConfig {
  body: SensorConfigBody;
  /** The scope that decided, or 'builtin' when nothing is configured. */
  source: string;
}

export interface SaveInput {
  scope: SensorScope;
  /** Untrusted configuration, or null to clear a department or seat override. */
  config: unknown;
  /** Who saves it (user id). */
  actor: string;
  comment: string;
}

export interface SaveResult {
  view: SensorConfigView;
  /** Connected seats that were sent a new `sensor.config`. */
  pushed: number;
}

export interface SensorConfigService {
  /** The seat's effective configuration: its override, else its department's, else the default, else built-in. */
  effective(agentId: string): EffectiveSensorConfig;
  /** The `sensor.config` frame for a seat (sent after every welcome). */
  frameFor(agentId: string): string;
  /** Sends the seat its effective configuration now; false when it is not connected (it gets it after welcome). */
  pushTo(agentId: string): boolean;
  /** The scope's newest row (null when it never had one). */
  current(scope: SensorScope): SensorConfigView | null;
  history(scope: SensorScope, page: { limit: number; offset: number }): { rows: SensorConfigView[]; total: number };
  /** The newest row of every scope. */
  list(): SensorConfigView[];
  /** Department of an enrolled seat (undefined: no such seat; null: none assigned). */
  seatDepartment(agentId: string): string | null | undefined;
  /**
   * Validates (SENSOR_ERR_CONFIG with every error in details.errors), stores the next revision
   * with its audit record in one transaction, then pushes the new effective configuration to every
   * connected seat of the scope.
   */
  save(input: SaveInput): SaveResult;
}

/** Largest encoded `sensor.config` frame: what the agent's transport accepts. */
export const MAX_SENSOR_CONFIG_FRAME_BYTES = MAX_FRAME_BYTES * 4;

function invalid(errors: string[]): AppError {
  return new AppError('SENSOR_ERR_CONFIG', formatError('SENSOR_ERR_CONFIG', errors[0] ?? 'invalid'), { details: { errors } });
}

function withoutVersion(body: SensorConfigBody): SensorConfigInput {
  const { version: _version, ...rest } = body;
  return rest;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Validates an untrusted operator input; returns the normalized configuration (policy mode = software_mode). */
export function checkSensorConfigInput(input: unknown): { ok: true; config: SensorConfigInput } | { ok: false; errors: string[] } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return { ok: false, errors: ['/ must be an object'] };
  if (Object.hasOwn(input, 'version')) return { ok: false, errors: ['/version is assigned by the collector; leave it out'] };
  const r = checkSensorConfig({ ...input, version: 0 });
  if (!r.ok) return r;
  const c = withoutVersion(r.value.config);
  // Stored exactly as the agents will run it, so what the console shows is what the seats do.
  return { ok: true, config: { ...c, software_policy: { ...c.software_policy, mode: c.software_mode } } };
}

/** Per-seat sensor configuration: history per scope, effective resolution, push to connected seats. */
export function createSensorConfigService(deps: SensorConfigServiceDeps): SensorConfigService {
  const { repo, clock } = deps;
  const log = deps.log.child({ component: 'sensor-config' });
  // Rows never change (append-only), so a row's checked body can be kept; a push to many seats
  // then checks each row once instead of once per seat.
  const checked = new Map<number, SensorConfigBody | null>();

  function bodyOf(row: SensorConfigRow): SensorConfigBody | null {
    if (row.config === null) return null;
    if (checked.has(row.id)) return checked.get(row.id) ?? null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(row.config);
    } catch {
      parsed = null;
    }
    const r = parsed !== null && typeof parsed === 'object' ? checkSensorConfig({ ...parsed, version: row.id }) : null;
    const body = r?.ok ? r.value.config : null;
    if (!body) log.error({ version: row.id, scope: scopeString(scopeOfRow(row)) }, 'stored sensor config no longer validates; skipped');
    if (checked.size > 1_000) checked.clear();
    checked.set(row.id, body);
    return body;
  }

  function view(row: SensorConfigRow): SensorConfigView {
    const body = bodyOf(row);
    return {
      scope: scopeString(scopeOfRow(row)),
      version: row.id,
      revision: row.revision,
      config: body ? withoutVersion(body) : null,
      created_by: row.created_by,
      created_at: row.created_at,
      comment: row.comment,
    };
  }

  function scopedEffective(agentId: string): EffectiveSensorConfig {
    const seat = repo.seat(agentId);
    const candidates: SensorScope[] = [{ kind: 'agent', agentId }];
    if (seat?.department != null) candidates.push({ kind: 'department', department: seat.department });
    candidates.push({ kind: 'default' });
    for (const scope of candidates) {
      const { kind, key } = scopeColumns(scope);
      const row = repo.latest(kind, key);
      const body = row ? bodyOf(row) : null;
      if (body) return { body, source: scopeString(scope) };
    }
    return { body: builtinSensorConfig(), source: 'builtin' };
  }

  function effective(agentId: string): EffectiveSensorConfig {
    const eff = scopedEffective(agentId);
    const extra = deps.seatAllowRules?.(agentId) ?? [];
    if (extra.length === 0) return eff;
    // New objects: the cached row bodies are shared by every seat of the scope.
    const sp = eff.body.software_policy;
    const ids = new Set([...sp.allow, ...sp.deny].map((r) => r.id));
    const allow = [...sp.allow, ...extra.filter((r) => !ids.has(r.id))].slice(0, 5_000);
    const merged = { ...eff, body: { ...eff.body, software_policy: { ...sp, allow } } };
    // A frame the agent refuses would cut the seat off every later config: send it without them.
    if (Buffer.byteLength(collectorMessage('sensor.config', merged.body), 'utf8') > MAX_SENSOR_CONFIG_FRAME_BYTES) {
      log.error({ agent_id: agentId, seat_rules: extra.length }, 'seat allow rules do not fit the sensor.config frame; sent without them');
      return eff;
    }
    return merged;
  }

  function frameFor(agentId: string): string {
    return collectorMessage('sensor.config', effective(agentId).body, clock.now());
  }

  function seatsOf(scope: SensorScope) {
    switch (scope.kind) {
      case 'default':
        return repo.onlineSeats();
      case 'department':
        return repo.onlineSeats({ department: scope.department });
      case 'agent':
        return repo.onlineSeats({ agentId: scope.agentId });
    }
  }

  return {
    effective,
    frameFor,
    pushTo: (agentId) => deps.channel.sendToAgent(agentId, frameFor(agentId)),
    current(scope) {
      const { kind, key } = scopeColumns(scope);
      const row = repo.latest(kind, key);
      return row ? view(row) : null;
    },
    history(scope, page) {
      const { kind, key } = scopeColumns(scope);
      const { rows, total } = repo.history(kind, key, page);
      return { rows: rows.map(view), total };
    },
    list: () => repo.currentAll().map(view),
    seatDepartment: (agentId) => repo.seat(agentId)?.department,

    save(input) {
      const { kind, key } = scopeColumns(input.scope);
      const scope = scopeString(input.scope);
      let config: SensorConfigInput | null = null;
      if (input.config === null) {
        if (input.scope.kind === 'default') throw new AppError('SENSOR_ERR_SCOPE', formatError('SENSOR_ERR_SCOPE', 'the default configuration cannot be cleared, only replaced'));
        if (!repo.latest(kind, key)?.config) throw new AppError('API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', `sensor configuration of ${scope}`));
      } else {
        const r = checkSensorConfigInput(input.config);
        if (!r.ok) throw invalid(r.errors);
        config = r.config;
        const frame = collectorMessage('sensor.config', { version: Number.MAX_SAFE_INTEGER, ...config });
        if (Buffer.byteLength(frame, 'utf8') > MAX_SENSOR_CONFIG_FRAME_BYTES) {
          throw invalid([`/ the configuration is larger than the ${MAX_SENSOR_CONFIG_FRAME_BYTES} bytes an agent accepts; use fewer or shorter rules`]);
        }
      }
      if (input.scope.kind === 'agent' && repo.seat(input.scope.agentId) === undefined) {
        throw new AppError('API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'seat'));
      }
      const json = config === null ? null : JSON.stringify(config);
      const comment = sanitizeText(input.comment, 512);
      const at = new Date(clock.now()).toISOString();

      const saved = deps.transaction(() => {
        const ids = repo.append({ scopeKind: kind, scopeKey: key, config: json, createdBy: input.actor, createdAt: at, comment });
        // Appended inside the same transaction: a configuration without its audit record never exists.
        deps.audit.append({
          actor: input.actor,
          action: config === null ? 'sensor_config.clear' : 'sensor_config.set',
          targetType: 'sensor_config',
          targetId: scope,
          detail: {
            version: ids.id,
            revision: ids.revision,
            comment,
            ...(config === null || json === null
              ? { cleared: true }
              : {
                  config_sha256: sha256(json),
                  software_mode: config.software_mode,
                  software_default: config.software_policy.default,
                  allow_rules: config.software_policy.allow.length,
                  deny_rules: config.software_policy.deny.length,
                  network_plan_interfaces: config.network_plan.length,
                  must_be_offline: config.must_be_offline,
                  reachability_target: config.reachability_target,
                }),
          },
        });
        return ids;
      });

      // A set reaches the seats it now decides for; a clear sends each seat of the scope whatever
      // decides for it now (its department's, the default, or the built-in configuration).
      let pushed = 0;
      for (const seat of seatsOf(input.scope)) {
        const eff = effective(seat.agent_id);
        if (config !== null && eff.body.version !== saved.id) continue;
        try {
          if (deps.channel.sendToAgent(seat.agent_id, collectorMessage('sensor.config', eff.body, clock.now()))) pushed++;
        } catch (err) {
          // The seat gets it after its next welcome; a broken socket must not fail the save.
          log.warn({ err, agent_id: seat.agent_id }, 'could not push sensor config');
        }
      }
      log.info({ scope, version: saved.id, revision: saved.revision, created_by: input.actor, pushed_to: pushed, cleared: config === null }, 'sensor config saved');
      const row = repo.latest(kind, key) as SensorConfigRow;
      return { view: view(row), pushed };
    },
  };
}
