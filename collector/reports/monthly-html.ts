import type { DepartmentReport, MonthlyReport } from './monthly-report.js';

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const SEVERITY_ZH: Record<string, string> = { low: '低', medium: '中', high: '高', critical: '严重' };

function fmtDuration(ms: number | null): string {
  if (ms === null) return '—';
  const min = Math.round(ms / 60_000);
  return min < 60 ? `${min} 分钟 / min` : `${Math.floor(min / 60)} 小时 / h ${min % 60} 分钟 / min`;
}

const e = escapeHtml;
const th = (zh: string, en: string) => `<th>${e(zh)}<span class="en">${e(en)}</span></th>`;
const td = (v: unknown) => `<td>${v === null || v === undefined || v === '' ? '—' : e(v)}</td>`;

function departmentSection(d: DepartmentReport): string {
  const name = d.department ?? '未分配部门 (no department)';
  const sev = d.violations.alerts.by_severity;
  const unlockRows = d.unlocks.items
    .map(
      (u) => `<tr>${td(u.seat_name ?? u.agent_id)}${td(u.device_key)}${td(u.reason)}${td(u.requested_by_name ?? u.requested_by)}${td(u.requested_at)}${td(
        u.approvals.map((a) => `${a.by_name ?? a.by} (${a.at})`).join('; '),
      )}${td(u.executor_name ?? u.executor)}${td(fmtDuration(u.duration_ms))}${td(u.state)}${td(u.end_reason)}</tr>`,
    )
    .join('');
  const seatRows = d.noncompliant_seats
    .map((s) => `<tr>${td(s.seat_name)}${td(s.agent_id)}${td(s.blocked_insertions)}${td(s.alerts)}${td(s.lock_state)}</tr>`)
    .join('');
  return `<section>
<h2>部门 ${e(name)}<span class="en">Department</span></h2>
<table class="summary"><tr>${th('座席数', 'Seats')}${th('解锁申请', 'Unlock requests')}${th('已批准', 'Approved')}${th('已拒绝', 'Rejected')}${th('解锁总时长', 'Total unlocked time')}${th('拦截插入', 'Blocked insertions')}${th('告警', 'Alerts')}</tr>
<tr>${td(d.seats)}${td(d.unlocks.available ? d.unlocks.requests : '不可用 n/a')}${td(d.unlocks.approved)}${td(d.unlocks.rejected)}${td(fmtDuration(d.unlocks.total_duration_ms))}${td(d.violations.blocked_insertions)}${td(
    d.violations.alerts.available
      ? `${d.violations.alerts.total} (${Object.entries(sev)
          .map(([k, n]) => `${SEVERITY_ZH[k] ?? k} ${n}`)
          .join(', ')})`
      : '不可用 n/a',
  )}</tr></table>
<h3>解锁记录<span class="en">Unlocks</span></h3>
${
  unlockRows === ''
    ? '<p class="empty">无 / none</p>'
    : `<table><thead><tr>${th('座席', 'Seat')}${th('设备', 'Device')}${th('事由', 'Reason')}${th('申请人', 'Requester')}${th('申请时间', 'Requested')}${th('批准', 'Approvals')}${th('执行人', 'Executor')}${th('时长', 'Duration')}${th('状态', 'State')}${th('结束原因', 'End reason')}</tr></thead><tbody>${unlockRows}</tbody></table>`
}
<h3>不合规座席<span class="en">Non-compliant seats</span></h3>
${
  seatRows === ''
    ? '<p class="empty">无 / none</p>'
    : `<table><thead><tr>${th('座席', 'Seat')}${th('代理 ID', 'Agent id')}${th('拦截插入', 'Blocked')}${th('告警', 'Alerts')}${th('锁定状态', 'Lock state')}</tr></thead><tbody>${seatRows}</tbody></table>`
}
</section>`;
}

/** The monthly report as one standalone printable HTML page. SECURITY: every value is escaped. */
export function renderMonthlyHtml(r: MonthlyReport): string {
  const title = `USB 管控月度报告 ${r.month}`;
  return `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)}</title>
<style>
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; color: #1a1a1a; margin: 24px; font-size: 13px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; border-bottom: 2px solid #333; padding-bottom: 2px; margin-top: 28px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.en { display: block; font-size: 10px; font-weight: normal; color: #666; }
h1 .en, h2 .en, h3 .en { display: inline; margin-left: 8px; font-size: 12px; }
.meta { color: #444; margin-bottom: 12px; }
table { border-collapse: collapse; width: 100%; margin-bottom: 8px; }
th, td { border: 1px solid #999; padding: 3px 6px; text-align: left; vertical-align: top; word-break: break-all; }
th { background: #eee; }
.empty { color: #666; }
@page { size: A4 landscape; margin: 12mm; }
@media print { body { margin: 0; } section { break-inside: avoid-page; } th { background: #ddd !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
</style>
</head>
<body>
<h1>${e(title)}<span class="en">Monthly USB control report</span></h1>
<div class="meta">统计区间 Period: ${e(r.from)} – ${e(r.to)} (${e(r.tz)})${r.department === null ? '' : ` · 部门 Department: ${e(r.department)}`}<br>
生成时间 Generated: ${e(r.generated_at)} · 生成人 By: ${e(r.generated_by)}</div>
${r.departments.length === 0 ? '<p class="empty">本月无数据 / no data for this month</p>' : r.departments.map(departmentSection).join('\n')}
</body>
</html>
`;
}
