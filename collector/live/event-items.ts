import { deviceKey, type UsbDevice } from '../../shared/domain/usb.js';
import type { CommittedEvent } from '../ingest/ingest-queue.js';
import type { LiveBus } from './live-bus.js';

/** Seat facts a live item carries; null when the seat is unknown (revoked and purged, say). */
export type SeatLookup = (agentId: string) => { seat_name: string; department: string | null } | undefined;

/** The compact, display-oriented part of a live `event` item. Strings are raw (render as text). */
export interface EventSummary {
  device_key?: string;
  device_label?: string;
  lock_state?: string;
  reason?: string;
}

const REASON_MAX = 200;

function isDevice(v: unknown): v is UsbDevice {
  return typeof v === 'object' && v !== null && typeof (v as { vendor_id?: unknown }).vendor_id === 'string';
}

/** Picks the few fields the console shows in a live row from a (schema-checked) event body. */
export function summarizeEvent(type: string, body: unknown): EventSummary {
  const out: EventSummary = {};
  if (typeof body !== 'object' || body === null) return out;
  const b = body as Record<string, unknown>;
  if (isDevice(b.device)) {
    const d = b.device;
    out.device_key = deviceKey(d);
    const label = [d.manufacturer, d.product].filter((s): s is string => typeof s === 'string' && s !== '').join(' ');
    out.device_label = label === '' ? `${d.vendor_id}:${d.product_id}` : label;
  }
  if (type === 'lock.state' && typeof b.state === 'string') out.lock_state = b.state;
  if (type === 'agent.started' && typeof b.lock_state === 'string') out.lock_state = b.lock_state;
  if (typeof b.reason === 'string') out.reason = b.reason.slice(0, REASON_MAX);
  return out;
}

/** A post-commit listener that publishes each new event as a compact `event` item on the bus. */
export function publishCommittedEvents(bus: LiveBus, seat: SeatLookup): (events: readonly CommittedEvent[]) => void {
  return (events) => {
    if (bus.subscriberCount() === 0) return;
    const seats = new Map<string, ReturnType<SeatLookup>>();
    for (const e of events) {
      if (!seats.has(e.agentId)) seats.set(e.agentId, seat(e.agentId));
      const s = seats.get(e.agentId);
      bus.publish(
        'event',
        {
          kind: 'event',
          agent_id: e.agentId,
          seat_name: s?.seat_name ?? null,
          seq: e.msg.seq,
          type: e.msg.type,
          ts: e.msg.ts,
          received_at: e.receivedAt,
          summary: summarizeEvent(e.msg.type, e.msg.body),
        },
        { department: s?.department ?? null },
      );
    }
  };
}
