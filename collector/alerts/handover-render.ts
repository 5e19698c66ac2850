import { sanitizeText } from '../../shared/domain/sanitize.js';
import type { AlertSeverity, AlertState } from './channels/types.js';
import type { HandoverReport } from './handover.js';

/**
 * Renders a handover report as zh-CN Markdown (also readable as plain text). This is an output
 * boundary: every seat- or user-supplied string is sanitized and Markdown-escaped here, so a seat
 * name like `| x | [link](javascript:…)` stays one literal table cell.
 */

const SEVERITY_ZH: Record<AlertSeverity, string> = { critical: '严重', high: '高', medium: '中', low: '低' };
const STATE_ZH: Record<AlertState, string> = { open: '待确认', acknowledged: '处理中', resolved: '已关闭' };
const ORDER: readonly AlertSeverity[] = ['critical', 'high', 'medium', 'low'];

/** Escapes Markdown/HTML-significant ASCII punctuation and flattens the text to one line. */
export function escapeMarkdown(s: string, max = 128): string {
  return sanitizeText(s.replace(/\s+/g, ' '), max).replace(/[\\`*_{}[\]()#+!|<>~&]/g, '\\$&');
}

const cell = (s: string | null | undefined, max = 128): string => (s == null || s === '' ? '-' : escapeMarkdown(s, max));

/** Formats an ISO time as "YYYY-MM-DD HH:mm" in `timeZone`; '-' for null or unreadable. */
export function formatLocalTime(isoTime: string | null, timeZone: string): string {
  if (isoTime === null) return '-';
  const ms = Date.parse(isoTime);
  if (!Number.isFinite(ms)) return '-';
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(ms));
  const p = (t: string) => parts.find((x) => x.type === t)?.value ?? '??';
  return `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')}`;
}

/** The report as Markdown, zh-CN first. */
export function renderHandoverMarkdown(r: HandoverReport): string {
  const tz = r.time_zone;
  const t = (s: string | null) => formatLocalTime(s, tz);
  const out: string[] = [];
  out.push('# 交接班报告 (Shift handover)', '');
  out.push(`- 生成时间：${t(r.generated_at)} (${cell(tz)})`);
  out.push(`- 统计区间：${t(r.period.from)} 至 ${t(r.period.to)}`, '');

  const o = r.open_alerts;
  out.push(`## 一、未关闭告警（共 ${o.total} 条）`, '');
  out.push(ORDER.map((s) => `${SEVERITY_ZH[s]} ${o.by_severity[s]}`).join(' · '), '');
  if (o.items.length === 0) {
    out.push('无未关闭告警。', '');
  } else {
    out.push('| 编号 | 级别 | 状态 | 座席 | 告警 | 次数 | 发生时间 | 处理人 | 升级 |');
    out.push('|---|---|---|---|---|---|---|---|---|');
    for (const a of o.items) {
      const esc = a.escalation_level > 0 ? `L${a.escalation_level} ${cell(a.escalated_to, 32)}` : '-';
      out.push(
        `| ${a.id} | ${SEVERITY_ZH[a.severity]} | ${STATE_ZH[a.state]} | ${cell(a.seat_name ?? a.agent_id)} | ${cell(a.title.zh)} | ${a.count} | ${t(a.created_at)} | ${cell(a.assignee, 64)} | ${esc} |`,
      );
    }
    if (o.truncated) out.push('', `（仅列出前 ${o.items.length} 条，其余请在控制台查看。）`);
    out.push('');
  }

  const g = r.active_grants;
  out.push(`## 二、有效的U盘解锁授权（共 ${g.items.length} 项）`, '');
  if (!g.available) out.push(`说明：${cell(g.note?.zh ?? '无法列出', 256)}`, '');
  else if (g.items.length === 0) out.push('无有效授权。', '');
  else {
    out.push('| 授权编号 | 座席 | 执行人 | 到期时间 |', '|---|---|---|---|');
    for (const x of g.items) out.push(`| ${cell(x.id, 64)} | ${cell(x.seat_name ?? x.agent_id)} | ${cell(x.executor, 64)} | ${t(x.expires_at)} |`);
    out.push('');
  }

  const s = r.offline_seats;
  out.push(`## 三、离线座席（共 ${s.total} 个）`, '');
  if (s.items.length === 0) out.push('无离线座席。', '');
  else {
    out.push('| 座席 | 主机名 | 最后在线 | 维护中 |', '|---|---|---|---|');
    for (const x of s.items) out.push(`| ${cell(x.seat_name)} | ${cell(x.hostname)} | ${x.last_seen === null ? '从未连接' : t(x.last_seen)} | ${x.in_maintenance ? '是' : '否'} |`);
    out.push('');
  }

  const c = r.counts;
  out.push('## 四、本班统计', '');
  out.push(`- 新增告警：${c.raised.total}（${ORDER.map((k) => `${SEVERITY_ZH[k]} ${c.raised[k]}`).join('，')}）`);
  out.push(`- 已确认：${c.acknowledged}`);
  out.push(`- 已派单：${c.assigned}`);
  out.push(`- 已升级：${c.escalated}`);
  out.push(`- 已关闭：${c.resolved}`, '');
  out.push('交班人：＿＿＿＿　接班人：＿＿＿＿', '');
  return out.join('\n');
}
