import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import type { SanEntry } from './x509-issuer.js';

const DNS_NAME_RE = /^(?=.{1,253}$)(?:\*\.)?[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** A requested name as a SAN entry, or null when it is neither an IP address nor a DNS name. */
export function sanEntry(name: string): SanEntry | null {
  const v = name.trim().replace(/^\[(.*)\]$/, '$1');
  if (isIP(v)) return { type: 'ip', value: v };
  return DNS_NAME_RE.test(v) ? { type: 'dns', value: v.replace(/\.$/, '').toLowerCase() } : null;
}

/**
 * The names the generated server certificate covers: loopback, the host name, every non-internal
 * interface address (seats reach the collector by any of them) and the configured extra names.
 */
export function serverNames(extra: readonly string[]): SanEntry[] {
  const wanted = ['localhost', '127.0.0.1', '::1', hostname()];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.internal) wanted.push(a.address);
  }
  wanted.push(...extra);
  const seen = new Set<string>();
  const out: SanEntry[] = [];
  for (const n of wanted) {
    const e = sanEntry(n);
    if (!e || seen.has(`${e.type}:${e.value}`)) continue;
    seen.add(`${e.type}:${e.value}`);
    out.push(e);
  }
  return out;
}
