/** The alert engine: rules, dedup, lifecycle (work orders), escalation, missed heartbeats, handover. */
export {
  createAlertEngine,
  type AlertEngine,
  type AlertEngineDeps,
  type AlertSink,
  type CommittedEvent,
  type TickResult,
  type AlertListQuery,
  type AlertDetail,
} from './alert-engine.js';
export { DEFAULT_ALERT_ENGINE_CONFIG, resolveAlertEngineConfig, type AlertEngineConfig } from './engine-config.js';
export { evaluateEvent, WATCHED_EVENT_TYPES, type AlertCandidate, type Bilingual, type RuleOutcome, type RuleContext } from './rules.js';
export { canTransition, type AlertAction } from './lifecycle.js';
export type { AlertView, AlertHistoryEntry } from './alert-view.js';
export type { HandoverReport, HandoverGrant, HandoverAlert, HandoverSeat } from './handover.js';
export { renderHandoverMarkdown } from './handover-render.js';
export { ALERTS_MIGRATION } from '../store/migrations-alerts.js';
