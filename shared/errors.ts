/**
 * The one registry of error codes (AREA_ERR_WHAT). Callers, the API and the console branch on
 * `code`, never on message text. Every code is documented in docs/errors.md (a test checks it).
 * Add codes here as areas grow; keep them unique and keep the message a template.
 */
export const ERRORS = {
  CONFIG_ERR_INVALID: 'Invalid configuration: %s',
  CLI_ERR_USAGE: 'Invalid command line: %s',

  PROTO_ERR_INVALID_JSON: 'Frame is not valid JSON',
  PROTO_ERR_TOO_LARGE: 'Frame exceeds %s bytes',
  PROTO_ERR_NOT_OBJECT: 'Frame is not a JSON object',
  PROTO_ERR_VERSION: 'Unsupported protocol version %s',
  PROTO_ERR_UNKNOWN_TYPE: 'Unknown message type %s',
  PROTO_ERR_INVALID_MESSAGE: 'Message %s does not match its schema: %s',
  PROTO_ERR_NOT_EXPECTED: 'Message %s is not expected in this state',
  PROTO_ERR_SEQ: 'Invalid sequence number %s',
  PROTO_ERR_RATE: 'Too many messages; slow down',
  PROTO_ERR_INTERNAL: 'The collector could not process message %s',

  AUTH_ERR_UNAUTHENTICATED: 'Authentication required',
  AUTH_ERR_FORBIDDEN: 'Not allowed: %s',
  AUTH_ERR_BAD_SIGNATURE: 'Agent signature does not verify',
  AUTH_ERR_UNKNOWN_AGENT: 'Unknown or revoked agent %s',
  AUTH_ERR_CHALLENGE: 'Challenge is invalid or expired',
  ENROLL_ERR_TOKEN: 'Enrollment token is invalid, used or expired',
  ENROLL_ERR_SEAT_NAME: 'Seat name %s is not allowed by the enrollment token',
  ENROLL_ERR_LOCKED: 'Too many failed enrollments for this token or address; try again in %s s',

  STORE_ERR_WRITE: 'Could not write to the store: %s',
  STORE_ERR_MIGRATION: 'Schema migration %s failed',
  STORE_ERR_OPEN: 'Could not open database %s',

  OUTBOX_ERR_WRITE: 'Could not persist an event in the outbox',

  SYSFS_ERR_READ: 'Could not read %s',
  SYSFS_ERR_WRITE: 'Could not write %s',
  SYSFS_ERR_LOCK: 'Could not lock USB controller %s',
  UEVENT_ERR_SOURCE: 'Kernel uevent source failed: %s',

  API_ERR_NOT_FOUND: 'Not found: %s',
  API_ERR_VALIDATION: 'Invalid request: %s',

  // collector core (engineer C)
  API_ERR_INTERNAL: 'The collector could not process the request',
  ENROLL_ERR_OPTIONS: 'Invalid enrollment token options: %s',
  COLLECTOR_ERR_STATE: 'Collector cannot %s in state %s',

  // --- agent core (engineer B): outbox, identity, enrollment, fake platform ---
  OUTBOX_ERR_INVALID: 'Event %s does not match its schema: %s',
  OUTBOX_ERR_OPEN: 'Could not open the outbox at %s',
  AGENT_ERR_IDENTITY: 'Agent identity in %s is missing or damaged: %s',
  AGENT_ERR_ENROLL: 'Enrollment with the collector failed: %s',
  AGENT_ERR_CA_PIN: 'Collector CA %s does not match the pinned fingerprint %s',
  TLS_ERR_MATERIAL: 'TLS material %s is unusable: %s',
  FAKE_ERR_SCRIPT: 'Invalid fake platform command: %s',

  // --- alert delivery channels (collector/alerts/channels) ---
  ALERT_ERR_CHANNEL_CONFIG: 'Invalid alert channel configuration: %s',
  ALERT_ERR_SEND_RETRYABLE: 'Alert channel %s could not deliver (will retry): %s',
  ALERT_ERR_SEND_PERMANENT: 'Alert channel %s refused the alert (no retry): %s',
  ALERT_ERR_SEND_TIMEOUT: 'Alert channel %s did not finish within %s ms',

  // --- USB rule language (shared/rules) ---
  RULES_ERR_PARSE: 'Invalid rule at column %s: %s',

  // --- compliance sensors (engineer F): firmware, software, processes, network, probe ---
  SENSOR_ERR_READ: 'Sensor source %s could not be read: %s',
  SENSOR_ERR_EMIT: 'Sensor %s could not emit event %s',
  SOFT_ERR_SOURCE: 'No software inventory source could be read: %s',
  SOFT_ERR_POLICY: 'Invalid software policy: %s',
  PROC_ERR_TERMINATE: 'Could not terminate process %s: %s',
  CMD_ERR_FAILED: 'Command %s failed: %s',
  NET_ERR_PLAN: 'Invalid network plan: %s',

  // --- real-kernel VM lab (scripts/vm, engineer E) ---
  VM_ERR_BUILD: 'Could not build the test guest: %s',
  VM_ERR_QEMU_START: 'QEMU could not start: %s',
  VM_ERR_BOOT: 'The test guest did not become ready: %s',
  VM_ERR_QMP: 'QMP command %s failed: %s',
  VM_ERR_CHANNEL: 'Guest command channel failed: %s',
  VM_ERR_COMMAND_TIMEOUT: 'Guest command did not finish within %s ms',
  VM_ERR_COMMAND_FAILED: 'Guest command exited with %s: %s',
  VM_ERR_HOST_PROCESS: 'Host process %s failed: %s',

  // --- alerts (engine H): alert rules, lifecycle, escalation, handover ---
  ALERT_ERR_NOT_FOUND: 'Alert %s not found',
  ALERT_ERR_TRANSITION: 'Alert %s cannot be %s while it is %s',
  ALERT_ERR_NOTE_REQUIRED: 'Resolving alert %s requires a note',
  ALERT_ERR_INVALID_INPUT: 'Invalid alert request: %s',
  ALERT_ERR_CONFIG: 'Invalid alert engine configuration: %s',

  // --- users, sessions, authorization, audit trail (engineer I1) ---
  AUTH_ERR_CSRF: 'Missing or wrong x-csrf-token header for a cookie-authenticated request',
  AUTH_ERR_LOGIN_FAILED: 'Unknown user name or wrong password',
  AUTH_ERR_LOCKED: 'Too many failed logins; try again in %s s',
  AUTH_ERR_BUSY: 'Too many logins in progress; try again shortly',
  USER_ERR_INVALID: 'Invalid user: %s',
  USER_ERR_EXISTS: 'User name %s is already taken',
  USER_ERR_ROLE_CONFLICT: 'Role %s may not be combined with %s (separation of duties)',
  USER_ERR_NOT_FOUND: 'User %s not found',
  AUDIT_ERR_INVALID: 'Invalid audit record: %s',
  AUDIT_ERR_WRITE: 'Could not append to the audit trail: %s',
  AUDIT_ERR_KEY: 'Audit signing key problem: %s',
  AUDIT_ERR_BROKEN: 'Audit trail verification failed at %s %s: %s',

  // --- unlock workflow, offline codes, USB policy store (engineer I2) ---
  UNLOCK_ERR_NOT_FOUND: 'Unlock request %s not found',
  UNLOCK_ERR_NOT_PENDING: 'Unlock request %s is not pending: %s',
  UNLOCK_ERR_NOT_APPROVED: 'Unlock request %s is not approved: %s',
  UNLOCK_ERR_NOT_ACTIVE: 'Unlock request %s has no active grant: %s',
  UNLOCK_ERR_SELF_APPROVAL: 'The requester may not decide on their own request: %s',
  UNLOCK_ERR_DUPLICATE_APPROVAL: 'The same person may not approve twice: %s',
  UNLOCK_ERR_FORBIDDEN: 'Role does not allow this unlock step: %s',
  UNLOCK_ERR_SCOPE: 'Seat is outside the departments the user may manage: %s',
  UNLOCK_ERR_LAPSED: 'Unlock request lapsed without a decision: %s',
  UNLOCK_ERR_EXECUTOR: 'Not allowed to execute this unlock: %s',
  UNLOCK_ERR_REASON: 'A reason is required: %s',
  UNLOCK_ERR_DURATION: 'Unlock duration is outside the policy bounds: %s',
  UNLOCK_ERR_DEVICE: 'The device is not identified precisely enough for a grant: %s',
  UNLOCK_ERR_SEAT: 'Seat %s is unknown or revoked',
  UNLOCK_ERR_CONFLICT: 'Unlock request %s was changed concurrently; reload and retry',
  SOFTWARE_ERR_NOT_FOUND: 'Software request %s not found',
  SOFTWARE_ERR_TARGET: 'Invalid software to approve: %s',
  SOFTWARE_ERR_DURATION: 'Software approval duration is outside the policy bounds: %s',
  SOFTWARE_ERR_CONFLICT: 'Software request %s was changed concurrently; reload and retry',
  OFFLINE_ERR_CHALLENGE: 'Invalid offline unlock challenge: %s',
  OFFLINE_ERR_MINUTES: 'Offline unlock minutes outside the policy bounds: %s',
  OFFLINE_ERR_KEY: 'Offline master key problem: %s',
  POLICY_ERR_INVALID: 'Invalid USB policy: %s',
  POLICY_ERR_NOT_FOUND: 'Policy version %s not found',

  // --- agent unlock workflow (engineer J): grants, rules policy, seat IPC, offline codes ---
  GRANT_ERR_STORE: 'The grant store %s could not be opened or written: %s',
  POLICY_ERR_STORE: 'The saved USB policy %s could not be read or written: %s',
  IPC_ERR_BAD_REQUEST: 'Invalid local request: %s',
  IPC_ERR_RATE: 'Too many local requests; try again in %s s',
  IPC_ERR_DEVICE: 'No USB storage device to unlock at %s: %s',
  IPC_ERR_UNAVAILABLE: 'The seatguard agent is not reachable at %s: %s',
  IPC_ERR_LISTEN: 'The local request socket %s could not be opened: %s',
  IPC_ERR_INTERNAL: 'The agent could not process the local request',
  OFFLINE_ERR_CODE: 'The unlock code does not answer a pending challenge of this seat',
  OFFLINE_ERR_NO_SECRET: 'This seat has no offline unlock secret: %s',

  // --- agent self-protection (engineer H5): maintenance codes, install/uninstall, integrity ---
  MAINT_ERR_CODE: 'The maintenance code is not valid on this seat for %s: %s',
  MAINT_ERR_USED: 'The maintenance code %s was already used on this seat',
  MAINT_ERR_NO_SECRET: 'This seat cannot check maintenance codes: %s',
  MAINT_ERR_SEAT: 'Seat %s is unknown or revoked',
  MAINT_ERR_TTL: 'Maintenance code lifetime outside the bounds: %s',
  INSTALL_ERR_ROOT: 'Cannot install into %s: %s',
  INSTALL_ERR_WRITE: 'Could not write %s: %s',
  INSTALL_ERR_COMMAND: 'Command %s failed: %s',
  INTEGRITY_ERR_BASELINE: 'The integrity baseline %s could not be read or written: %s',

  // --- sensor configuration (engineer S): sensor.config, /api/v1/sensor-config ---
  SENSOR_ERR_CONFIG: 'Invalid sensor configuration: %s',
  SENSOR_ERR_SCOPE: 'Invalid sensor configuration scope: %s',

  // --- console read side (engineer K2): live stream ---
  LIVE_ERR_TOO_MANY_STREAMS: 'Too many live streams open: limit %s',
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, options?: ErrorOptions & { details?: Record<string, unknown> }) {
    super(message ?? ERRORS[code], options);
    this.name = 'AppError';
    this.code = code;
    this.details = options?.details;
  }
}

/** Fills the `%s` placeholders of a registry template in order. */
export function formatError(code: ErrorCode, ...args: Array<string | number>): string {
  let i = 0;
  return ERRORS[code].replace(/%s/g, () => String(args[i++] ?? ''));
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
