import type { Logger } from '../../shared/logger.js';

/** Topics of the live stream; other modules publish to `alert`, `unlock` and `seat`. */
export const LIVE_TOPICS = ['event', 'alert', 'unlock', 'seat'] as const;
export type LiveTopic = (typeof LIVE_TOPICS)[number];

/** One published item: JSON data plus what the stream needs to filter it by department scope. */
export interface LiveItem {
  /** Process-wide counter, sent as the SSE `id:`. */
  readonly id: number;
  readonly topic: LiveTopic;
  readonly data: Readonly<Record<string, unknown>>;
  /** Department of the seat the item is about; undefined = not seat-bound (visible to all scopes). */
  readonly department?: string | null;
}

export interface LiveBus {
  /** Publishes `data` (must be JSON-serializable) to every subscriber, synchronously; never throws. */
  publish(topic: LiveTopic, data: Record<string, unknown>, meta?: { department?: string | null }): void;
  /** Adds a subscriber; returns its removal. */
  subscribe(fn: (item: LiveItem) => void): () => void;
  subscriberCount(): number;
}

/** In-process fan-out for live console updates. Publishers never wait on (or fail because of) subscribers. */
export function createLiveBus(deps: { log: Logger }): LiveBus {
  const log = deps.log.child({ component: 'live-bus' });
  const subscribers = new Set<(item: LiveItem) => void>();
  let nextId = 1;
  return {
    publish(topic, data, meta) {
      if (subscribers.size === 0) return;
      const item: LiveItem = { id: nextId++, topic, data, ...(meta && 'department' in meta ? { department: meta.department ?? null } : {}) };
      for (const fn of subscribers) {
        try {
          fn(item);
        } catch (err) {
          log.warn({ err, topic }, 'live subscriber failed');
        }
      }
    },
    subscribe(fn) {
      subscribers.add(fn);
      return () => {
        subscribers.delete(fn);
      };
    },
    subscriberCount: () => subscribers.size,
  };
}
