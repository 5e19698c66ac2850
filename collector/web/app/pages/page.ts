import type { Route } from '../router.js';

/** What a page gets: its container and the parsed route. */
export interface PageContext {
  root: HTMLElement;
  route: Route;
}

/** Renders into `ctx.root`; returns a disposer (timers, live subscriptions) or nothing. */
export type Page = (ctx: PageContext) => (() => void) | void;

/** The browser's IANA time zone, sent to day-bucketed routes so "today" is the user's today. */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'Asia/Shanghai';
  } catch {
    return 'Asia/Shanghai';
  }
}
