import { describe, expect, it } from 'vitest';
import { evaluateEvent } from '../../../../../collector/alerts/rules.js';

const ctx = { inMaintenance: false };

describe('alert rule: outbox.dropped', () => {
  it('raises a medium alert naming the counts, the total, the seq range and the bound', () => {
    const o = evaluateEvent({ type: 'outbox.dropped', body: { counts: { 'usb.inserted': 5, 'usb.removed': 4 }, from_seq: 12, to_seq: 80, reason: 'max_events' } }, ctx);
    expect(o?.kind).toBe('raise');
    if (o?.kind !== 'raise') return;
    expect(o.alert.severity).toBe('medium');
    expect(o.alert.title.en).toBe('Events summarized and dropped on seat');
    expect(o.alert.detail.en).toBe("The agent's event queue dropped 9 low-severity events (queue full, seq 12–80): usb.inserted×5, usb.removed×4");
    expect(o.alert.detail.zh).toContain('9 条');
    expect(o.alert.detail.zh).toContain('队列已满');
  });

  it('raises event.malformed for a body that is not an outbox.dropped body', () => {
    const o = evaluateEvent({ type: 'outbox.dropped', body: { counts: {}, from_seq: 0, to_seq: 1, reason: 'disk' } }, ctx);
    expect(o?.kind === 'raise' && o.alert.rule).toBe('event.malformed');
  });
});
