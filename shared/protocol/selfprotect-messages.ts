import { Type } from 'typebox';
import { eventMessage } from './envelope.js';

/**
 * Agent self-protection (docs/self-protection.md): the agent's own integrity, authorized stops and
 * uninstalls. Optional fields extend agent.started and agent.stopping compatibly: an older agent
 * sends neither, an older collector never sees them (it ignores nothing: the schemas live here).
 */

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });
/** A maintenance code id: `mc_` + 16 hex characters (shared/domain/maintenance-code.ts). */
export const MaintenanceCodeId = Type.String({ pattern: '^mc_[0-9a-f]{16}$' });
export const MaintenancePurposeSchema = Type.Union([Type.Literal('stop'), Type.Literal('uninstall'), Type.Literal('upgrade')]);

/** Extra agent.started fields: what code runs and whether its baseline was just re-recorded. */
export const AGENT_STARTED_SELFPROTECT_FIELDS = {
  /** sha256 over the agent's code tree (sorted "path NUL sha256" lines); fleet version drift shows here. */
  code_sha256: Type.Optional(Sha256),
  /** The maintenance code (purpose upgrade) that authorized re-recording the integrity baseline at this start. */
  rebaselined_by: Type.Optional(MaintenanceCodeId),
};

/** Extra agent.stopping fields: whether a maintenance code authorized the stop. */
export const AGENT_STOPPING_SELFPROTECT_FIELDS = {
  /** true: a valid maintenance code was presented; false: a signal without one. Absent: an older agent. */
  authorized: Type.Optional(Type.Boolean()),
  code_id: Type.Optional(MaintenanceCodeId),
  purpose: Type.Optional(MaintenancePurposeSchema),
  /** systemd reported the whole system as stopping (shutdown or reboot) when the signal came. */
  system_shutdown: Type.Optional(Type.Boolean()),
};

export const IntegrityItem = Type.Union([Type.Literal('code'), Type.Literal('udev_rule'), Type.Literal('service_unit'), Type.Literal('agent_config')]);

export const AgentIntegrity = eventMessage(
  'agent.integrity',
  Type.Object(
    {
      item: IntegrityItem,
      path: Type.String({ minLength: 1, maxLength: 1024 }),
      /** null: the file is not in the baseline (a new file in the code tree). */
      expected_sha256: Type.Union([Type.Null(), Sha256]),
      /** null: the file is gone or unreadable. */
      actual_sha256: Type.Union([Type.Null(), Sha256]),
      detail: Type.String({ maxLength: 512 }),
    },
    { additionalProperties: false },
  ),
);

export const AgentUninstalled = eventMessage(
  'agent.uninstalled',
  Type.Object(
    {
      code_id: MaintenanceCodeId,
      /** The OS account the uninstall command ran as: a claim of the local client. */
      os_user: Type.String({ maxLength: 64 }),
    },
    { additionalProperties: false },
  ),
);

export const SELFPROTECT_AGENT_EVENTS = {
  'agent.integrity': AgentIntegrity,
  'agent.uninstalled': AgentUninstalled,
} as const;
