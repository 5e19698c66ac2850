/**
 * Shapes shared by every alert delivery channel. All strings inside an {@link Alert} may carry
 * attacker-controlled text (USB product names, hostnames reported by agents): each channel
 * escapes them for its own output format and never trusts them.
 */

export type AlertSeverity = 'low' | 'medium' | 'high' | 'critical';
export type AlertState = 'open' | 'acknowledged' | 'resolved';
export type ChannelKind = 'webhook' | 'syslog' | 'email';

/** Severities from least to most urgent; the index is the rank. */
export const ALERT_SEVERITIES: readonly AlertSeverity[] = Object.freeze(['low', 'medium', 'high', 'critical']);

/** 0 (low) … 3 (critical). */
export function severityRank(s: AlertSeverity): number {
  return ALERT_SEVERITIES.indexOf(s);
}

/** The seat an alert is about; hostname and seat_name are reported by the agent (hostile). */
export interface AlertSeat {
  agent_id: string;
  seat_name: string | null;
  hostname: string | null;
}

/** The USB device an alert is about; every string comes from device descriptors (hostile). */
export interface AlertDevice {
  vendor_id: string;
  product_id: string;
  serial: string | null;
  product: string | null;
}

/** One alert as handed to the delivery layer. Times are ISO 8601 UTC strings. */
export interface Alert {
  id: string;
  rule: string;
  severity: AlertSeverity;
  seat: AlertSeat | null;
  title: string;
  detail: string;
  count: number;
  first_seen: string;
  last_seen: string;
  state: AlertState;
  url?: string;
  device?: AlertDevice;
}

/** Per-attempt facts a channel may put on the wire (receivers dedupe on `delivery_id`). */
export interface DeliveryContext {
  /** Stable across the retries of one enqueued alert on one channel. */
  delivery_id: string;
  /** 1 for the first try. */
  attempt: number;
}

/**
 * A delivery target. `send` resolves once the receiver has accepted the alert, and rejects with an
 * AppError: `ALERT_ERR_SEND_PERMANENT` means "do not retry"; anything else is retried.
 */
export interface Channel {
  readonly name: string;
  readonly kind: ChannelKind;
  /** Alerts below this severity are not sent to the channel (default: all). */
  readonly minSeverity?: AlertSeverity;
  send(alert: Alert, ctx?: DeliveryContext): Promise<void>;
  /** Releases sockets and pools; the channel is not used afterwards. */
  close?(): Promise<void>;
}

/** Copies only the known fields, so stray properties of a caller's object never travel further. */
export function copyAlert(a: Alert): Alert {
  return {
    id: a.id,
    rule: a.rule,
    severity: a.severity,
    seat: a.seat ? { agent_id: a.seat.agent_id, seat_name: a.seat.seat_name, hostname: a.seat.hostname } : null,
    title: a.title,
    detail: a.detail,
    count: a.count,
    first_seen: a.first_seen,
    last_seen: a.last_seen,
    state: a.state,
    ...(a.url === undefined ? {} : { url: a.url }),
    ...(a.device === undefined
      ? {}
      : { device: { vendor_id: a.device.vendor_id, product_id: a.device.product_id, serial: a.device.serial, product: a.device.product } }),
  };
}
