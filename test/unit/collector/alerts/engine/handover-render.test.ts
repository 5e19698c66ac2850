import { describe, expect, it } from 'vitest';
import { escapeMarkdown, formatLocalTime, renderHandoverMarkdown } from '../../../../../collector/alerts/handover-render.js';
import type { HandoverReport } from '../../../../../collector/alerts/handover.js';

function report(over: Partial<HandoverReport> = {}): HandoverReport {
  return {
    generated_at: '2026-01-01T08:00:00.000Z',
    period: { from: '2026-01-01T00:00:00.000Z', to: '2026-01-01T08:00:00.000Z', source: 'last_handover' },
    time_zone: 'Asia/Shanghai',
    open_alerts: {
      total: 2,
      by_severity: { critical: 1, high: 1, medium: 0, low: 0 },
      items: [
        {
          id: 11,
          rule: 'lock.state',
          severity: 'critical',
          state: 'open',
          agent_id: 'agt_1',
          seat_name: 'A-01',
          title: { zh: 'USB锁定失效(疑似篡改)', en: 'USB lock degraded' },
          count: 1,
          created_at: '2026-01-01T06:00:00.000Z',
          last_seen: '2026-01-01T06:00:00.000Z',
          assignee: null,
          escalation_level: 1,
          escalated_to: 'officer',
        },
        {
          id: 12,
          rule: 'usb.blocked',
          severity: 'high',
          state: 'acknowledged',
          agent_id: 'agt_2',
          seat_name: '| evil | [x](javascript:alert(1)) <b>',
          title: { zh: '未授权U盘插入', en: 'Unauthorized USB storage inserted' },
          count: 3,
          created_at: '2026-01-01T07:00:00.000Z',
          last_seen: '2026-01-01T07:30:00.000Z',
          assignee: 'duty-1',
          escalation_level: 0,
          escalated_to: null,
        },
      ],
      truncated: false,
    },
    active_grants: { available: false, note: { zh: '解锁审批流程尚未启用，无法列出有效授权', en: 'n/a' }, items: [] },
    offline_seats: { total: 1, items: [{ agent_id: 'agt_3', seat_name: 'B-07', hostname: 'cc-b-07\nFAKE ROW', last_seen: null, in_maintenance: false }] },
    counts: { raised: { low: 0, medium: 0, high: 1, critical: 1, total: 2 }, acknowledged: 1, assigned: 1, escalated: 1, resolved: 0 },
    ...over,
  };
}

describe('handover markdown', () => {
  it('renders the four zh-CN sections with counts', () => {
    const md = renderHandoverMarkdown(report());
    expect(md).toContain('# 交接班报告');
    expect(md).toContain('## 一、未关闭告警（共 2 条）');
    expect(md).toContain('严重 1 · 高 1 · 中 0 · 低 0');
    expect(md).toContain('## 二、有效的U盘解锁授权（共 0 项）');
    expect(md).toContain('解锁审批流程尚未启用');
    expect(md).toContain('## 三、离线座席（共 1 个）');
    expect(md).toContain('从未连接');
    expect(md).toContain('- 新增告警：2（严重 1，高 1，中 0，低 0）');
    expect(md).toContain('L1 officer');
  });

  it('shows times in the report time zone (Asia/Shanghai is UTC+8)', () => {
    const md = renderHandoverMarkdown(report());
    expect(md).toContain('- 生成时间：2026-01-01 16:00');
    expect(md).toContain('- 统计区间：2026-01-01 08:00 至 2026-01-01 16:00');
  });

  it('escapes hostile seat strings so they cannot add table cells, links, HTML or lines', () => {
    const md = renderHandoverMarkdown(report());
    const row = md.split('\n').find((l) => l.startsWith('| 12 |'));
    expect(row).toBeDefined();
    // 9 columns → 10 unescaped pipes.
    expect(row!.replace(/\\\|/g, '').split('|').length - 1).toBe(10);
    expect(row).toContain('\\[x\\]\\(javascript:alert\\(1\\)\\)');
    expect(row).toContain('\\<b\\>');
    expect(md).not.toMatch(/^FAKE ROW/m);
  });

  it('lists active grants when they are available', () => {
    const md = renderHandoverMarkdown(
      report({ active_grants: { available: true, note: null, items: [{ id: 'g-1', agent_id: 'agt_1', seat_name: 'A-01', executor: 'maint-1', expires_at: '2026-01-01T09:00:00.000Z' }] } }),
    );
    expect(md).toContain('| g-1 | A-01 | maint-1 | 2026-01-01 17:00 |');
  });

  it('escapes every Markdown-significant character and formats unreadable times as "-"', () => {
    expect(escapeMarkdown('a*b_c`d#e!f~g&h')).toBe('a\\*b\\_c\\`d\\#e\\!f\\~g\\&h');
    expect(formatLocalTime('not a time', 'UTC')).toBe('-');
    expect(formatLocalTime(null, 'UTC')).toBe('-');
  });
});
