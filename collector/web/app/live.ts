/**
 * Live updates from `/api/v1/stream` (Server-Sent Events). Pages subscribe and re-fetch what they
 * show; the payload is a hint, never rendered as is. If the stream cannot be opened (older server,
 * proxy that buffers), the console falls back to polling so the views still move on their own.
 */

export type LiveStatus = 'connecting' | 'live' | 'down' | 'polling';
export interface LiveMessage {
  /** SSE event name ('message' for unnamed events). */
  kind: string;
  /** Parsed JSON data, or null. */
  data: unknown;
}

type Listener = (m: LiveMessage) => void;

// SSE event names of /api/v1/stream (docs/api.md); an EventSource delivers named events only to named listeners.
const NAMED = ['hello', 'event', 'alert', 'unlock', 'seat', 'resync'];
const POLL_MS = 10_000;
const RETRY_MS = 5_000;

let source: EventSource | null = null;
let status: LiveStatus = 'down';
let pollTimer: number | null = null;
let retryTimer: number | null = null;
const listeners = new Set<Listener>();
const statusListeners = new Set<(s: LiveStatus) => void>();

function setStatus(s: LiveStatus): void {
  if (s === status) return;
  status = s;
  for (const fn of statusListeners) fn(s);
}

function dispatch(kind: string, raw: string): void {
  let data: unknown = null;
  try {
    data = raw.length <= 256 * 1024 ? (JSON.parse(raw) as unknown) : null;
  } catch {
    data = null;
  }
  for (const fn of listeners) fn({ kind, data });
}

function startPolling(): void {
  if (pollTimer !== null) return;
  setStatus('polling');
  pollTimer = window.setInterval(() => {
    for (const fn of listeners) fn({ kind: 'poll', data: null });
  }, POLL_MS);
}

function stopPolling(): void {
  if (pollTimer !== null) window.clearInterval(pollTimer);
  pollTimer = null;
}

function open(): void {
  if (source) return;
  setStatus('connecting');
  const es = new EventSource('/api/v1/stream');
  source = es;
  es.onopen = () => {
    stopPolling();
    setStatus('live');
    // Catch up on whatever happened while the stream was down.
    for (const fn of listeners) fn({ kind: 'reconnected', data: null });
  };
  es.onmessage = (ev: MessageEvent<string>) => dispatch('message', ev.data);
  for (const name of NAMED) es.addEventListener(name, (ev) => dispatch(name, (ev as MessageEvent<string>).data));
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      // The server refused the stream (404/401/5xx): poll, and try the stream again later.
      es.close();
      source = null;
      startPolling();
      retryTimer ??= window.setTimeout(() => {
        retryTimer = null;
        if (listeners.size > 0 || statusListeners.size > 0) open();
      }, RETRY_MS * 6);
    } else {
      setStatus('down');
      startPolling();
    }
  };
}

/** Opens the stream (idempotent). */
export function startLive(): void {
  open();
}

/** Closes the stream and stops polling (logout). */
export function stopLive(): void {
  source?.close();
  source = null;
  stopPolling();
  if (retryTimer !== null) window.clearTimeout(retryTimer);
  retryTimer = null;
  setStatus('down');
}

export function onLive(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function onLiveStatus(fn: (s: LiveStatus) => void): () => void {
  statusListeners.add(fn);
  fn(status);
  return () => statusListeners.delete(fn);
}

/** Calls `fn` at most once per `ms` (trailing): a burst of events costs one re-fetch. */
export function throttle(fn: () => void, ms = 400): () => void {
  let timer: number | null = null;
  return () => {
    if (timer !== null) return;
    timer = window.setTimeout(() => {
      timer = null;
      fn();
    }, ms);
  };
}
