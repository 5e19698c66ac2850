import { inScope, type DepartmentScope } from '../auth/privileges.js';
import type { Logger } from '../../shared/logger.js';
import type { LiveBus, LiveItem, LiveTopic } from './live-bus.js';

/** The part of http.ServerResponse a stream writes to (a plain Writable in tests). */
export interface SseSink {
  write(chunk: string): boolean;
  end(): void;
  on(event: 'drain' | 'close', fn: () => void): unknown;
  readonly destroyed?: boolean;
}

/** Tunables of {@link createSseHub}; every field has the documented default. */
export interface SseHubOptions {
  /** Concurrent streams served (default 32); more are refused with 503. */
  maxStreams: number;
  /** Items buffered per stream while its socket is full (default 256); overflow → drop + `resync`. */
  bufferItems: number;
  /** Interval of the `: ping` comment (default 15 000 ms). */
  heartbeatMs: number;
  /** Reconnect delay suggested to EventSource with `retry:` (default 5 000 ms). */
  retryMs: number;
}

export const DEFAULT_SSE_OPTIONS: Readonly<SseHubOptions> = Object.freeze({ maxStreams: 32, bufferItems: 256, heartbeatMs: 15_000, retryMs: 5_000 });

export interface StreamFilter {
  topics: ReadonlySet<LiveTopic>;
  scope: DepartmentScope;
}

export interface SseHub {
  /** Starts streaming to `sink` (headers must already be sent); false when at `maxStreams`. */
  open(sink: SseSink, filter: StreamFilter): boolean;
  count(): number;
  /** True when a new stream would be refused. */
  isFull(): boolean;
  /** Ends every stream (collector shutdown) and stops the heartbeat. */
  closeAll(): void;
}

/** Formats one SSE message; `data` is one JSON line, so no newline can break the framing. */
export function sseMessage(event: string, id: number | null, data: unknown): string {
  return `${id === null ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

interface Conn {
  sink: SseSink;
  filter: StreamFilter;
  buffer: string[];
  waiting: boolean;
  dropped: number;
  unsubscribe: () => void;
}

/**
 * Fans bus items out to SSE connections. A slow client never slows the others or the ingest: its
 * items queue up to `bufferItems` while its socket is full, then the queue is dropped and the
 * client gets one `resync` message (reload your lists) once it drains.
 */
export function createSseHub(deps: { bus: LiveBus; log: Logger; options?: Partial<SseHubOptions> }): SseHub {
  const opts: SseHubOptions = { ...DEFAULT_SSE_OPTIONS, ...deps.options };
  const log = deps.log.child({ component: 'sse' });
  const conns = new Set<Conn>();
  let heartbeat: NodeJS.Timeout | undefined;

  function write(c: Conn, chunk: string): void {
    if (c.sink.destroyed === true) return;
    if (!c.sink.write(chunk)) c.waiting = true;
  }

  function flush(c: Conn): void {
    c.waiting = false;
    if (c.dropped > 0) {
      write(c, sseMessage('resync', null, { kind: 'resync', dropped: c.dropped }));
      c.dropped = 0;
    }
    while (!c.waiting && c.buffer.length > 0) write(c, c.buffer.shift() as string);
  }

  function deliver(c: Conn, item: LiveItem): void {
    if (!c.filter.topics.has(item.topic)) return;
    if (item.department !== undefined && !inScope(c.filter.scope, item.department)) return;
    const msg = sseMessage(item.topic, item.id, item.data);
    if (!c.waiting) return write(c, msg);
    if (c.buffer.length >= opts.bufferItems) {
      c.dropped += c.buffer.length + 1;
      c.buffer = [];
      return;
    }
    c.buffer.push(msg);
  }

  function close(c: Conn): void {
    if (!conns.delete(c)) return;
    c.unsubscribe();
    if (conns.size === 0 && heartbeat) {
      clearInterval(heartbeat);
      heartbeat = undefined;
    }
    log.debug({ streams: conns.size }, 'live stream closed');
  }

  function ping(): void {
    // A full socket already has bytes in flight; the comment would only queue behind them.
    for (const c of conns) if (!c.waiting) write(c, ': ping\n\n');
  }

  return {
    open(sink, filter) {
      if (conns.size >= opts.maxStreams) return false;
      const c: Conn = { sink, filter, buffer: [], waiting: false, dropped: 0, unsubscribe: () => undefined };
      conns.add(c);
      c.unsubscribe = deps.bus.subscribe((item) => deliver(c, item));
      sink.on('drain', () => flush(c));
      sink.on('close', () => close(c));
      write(c, `retry: ${opts.retryMs}\n\n`);
      write(c, sseMessage('hello', null, { kind: 'hello', topics: [...filter.topics] }));
      if (!heartbeat) {
        heartbeat = setInterval(ping, opts.heartbeatMs);
        heartbeat.unref();
      }
      log.debug({ streams: conns.size }, 'live stream opened');
      return true;
    },
    count: () => conns.size,
    isFull: () => conns.size >= opts.maxStreams,
    closeAll() {
      for (const c of [...conns]) {
        close(c);
        try {
          c.sink.end();
        } catch (err) {
          log.debug({ err }, 'live stream end failed');
        }
      }
    },
  };
}
