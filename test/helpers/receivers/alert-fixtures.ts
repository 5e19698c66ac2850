import type { Alert } from '../../../collector/alerts/channels/types.js';

/** Strings an attacker can put in a USB descriptor or an agent report. */
export const HOSTILE = {
  html: '<img src=x onerror=alert(1)>',
  crlf: 'line1\r\nFAKE: injected\r\n<14>1 2026-01-01T00:00:00Z evil - - - - forged',
  syslogSd: 'a]b"c\\d] [x@1 y="z"]',
  cefHeader: 'pipe|back\\slash|end\\',
  cefExt: 'k=v msg=forged cs1=x \\= \\',
  big: 'Ü'.repeat(5_000) + 'x'.repeat(1_000), // 11 000 UTF-8 bytes
  bidi: 'abc\u202edcba\u200b\u0000\u0007',
} as const;

/** A plain alert; `over` replaces fields. */
export function sampleAlert(over: Partial<Alert> = {}): Alert {
  return {
    id: 'a1b2c3d4-0000-4000-8000-000000000001',
    rule: 'usb.blocked',
    severity: 'high',
    seat: { agent_id: 'agent-0001', seat_name: 'SEAT-A-012', hostname: 'cc-a-012' },
    title: 'USB mass storage blocked',
    detail: 'A mass storage device was blocked on seat SEAT-A-012.',
    count: 3,
    first_seen: '2026-01-01T08:00:00.000Z',
    last_seen: '2026-01-01T08:05:00.000Z',
    state: 'open',
    url: 'https://collector.example/alerts/a1b2c3d4',
    device: { vendor_id: '0781', product_id: '5567', serial: '4C530001', product: 'Cruzer Blade' },
    ...over,
  };
}

/** An alert with hostile text in every free-text field. */
export function hostileAlert(over: Partial<Alert> = {}): Alert {
  return sampleAlert({
    severity: 'critical',
    title: `${HOSTILE.html} ${HOSTILE.cefHeader} ${HOSTILE.crlf}`,
    detail: `${HOSTILE.crlf} ${HOSTILE.syslogSd} ${HOSTILE.cefExt} ${HOSTILE.html}`,
    seat: { agent_id: 'agent-0001', seat_name: HOSTILE.syslogSd, hostname: HOSTILE.cefExt },
    device: { vendor_id: '0781', product_id: '5567', serial: HOSTILE.crlf, product: HOSTILE.html },
    ...over,
  });
}
