/**
 * `npm run bench`: runs every suite as its own process (so one suite's memory and sockets do not
 * skew the next), then prints one table and writes test/bench/results.json. Never part of CI.
 *   npm run bench              full sizes
 *   npm run bench -- --quick   small sizes, for a smoke run
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, RESULTS_DIR, type Figure } from './lib.js';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');

const SUITES: Array<{ name: string; file: string; args: string[]; quickArgs: string[] }> = [
  { name: 'ingest', file: 'ingest.js', args: ['--agents', '20', '--events', '5000'], quickArgs: ['--agents', '5', '--events', '500'] },
  { name: 'connections', file: 'connections.js', args: ['--connections', '10000', '--hold-s', '10'], quickArgs: ['--connections', '200', '--hold-s', '2'] },
  { name: 'outbox-replay', file: 'outbox-replay.js', args: ['--events', '100000'], quickArgs: ['--events', '5000'] },
  { name: 'unlock-propagation-1000', file: 'unlock-propagation.js', args: ['--seats', '1000'], quickArgs: ['--seats', '100'] },
  { name: 'unlock-propagation-5000', file: 'unlock-propagation.js', args: ['--seats', '5000'], quickArgs: ['--seats', '200'] },
  { name: 'history-query', file: 'history-query.js', args: [], quickArgs: ['--quick'] },
  { name: 'agent-footprint', file: 'agent-footprint.js', args: ['--idle-s', '60'], quickArgs: ['--idle-s', '10'] },
  { name: 'alert-throughput', file: 'alert-throughput.js', args: ['--batches', '200'], quickArgs: ['--batches', '20'] },
];

const benchDir = join(REPO_ROOT, 'dist/test/bench');
const rows: Array<Figure & { status?: string }> = [];

type UnlockRun = { approvals: number; connect_s: number; lost: number; approve_to_authorized_ms: { p50: number; p95: number; p99: number } };
const UNLOCK_FILE = join(REPO_ROOT, 'test/bench/results-unlock.json');

/** The unlock suite keeps its own file, keyed by seat count (test/bench/results-unlock.json). */
function unlockRows(name: string, seats: string, note?: string): Figure[] | undefined {
  const all = existsSync(UNLOCK_FILE) ? (JSON.parse(readFileSync(UNLOCK_FILE, 'utf8')) as { at?: string; runs: Record<string, UnlockRun> }) : undefined;
  const run = all?.runs[seats];
  if (!run) return undefined;
  const lat = run.approve_to_authorized_ms;
  const n = (extra?: string) => [extra, note].filter(Boolean).join('; ') || undefined;
  return [
    { suite: name, name: `approval → storage authorized on the seat, p50 (${seats} seats connected)`, value: lat.p50, unit: 'ms', ...(n() ? { note: n() } : {}) },
    { suite: name, name: `approval → storage authorized on the seat, p95 (${seats} seats)`, value: lat.p95, unit: 'ms', limit: { value: 1000, kind: 'max' }, ...(n() ? { note: n() } : {}) },
    { suite: name, name: `approval → storage authorized on the seat, p99 (${seats} seats)`, value: lat.p99, unit: 'ms', note: n(`${run.approvals} approvals, ${run.lost} lost, connect ${run.connect_s} s`)! },
  ];
}

for (const s of SUITES) {
  if (only && !only.includes(s.name)) {
    // Not run this time: keep the figures of its last run in the table, marked as such.
    if (s.file === 'unlock-propagation.js') {
      rows.push(...(unlockRows(s.name, s.args[s.args.indexOf('--seats') + 1]!, 'from results-unlock.json') ?? []));
      continue;
    }
    const prev = join(RESULTS_DIR, `${s.name}.json`);
    if (existsSync(prev)) {
      const r = JSON.parse(readFileSync(prev, 'utf8')) as { at: string; figures: Figure[] };
      for (const f of r.figures) rows.push({ ...f, note: `${f.note ? `${f.note}; ` : ''}from the run of ${r.at}` });
    }
    continue;
  }
  const file = join(benchDir, s.file);
  if (!existsSync(file)) {
    rows.push({ suite: s.name, name: '(suite not built)', value: NaN, unit: '', status: 'missing' });
    continue;
  }
  console.log(`\n== ${s.name} ==`);
  rmSync(join(RESULTS_DIR, `${s.name}.json`), { force: true });
  const args = quick ? s.quickArgs : s.args;
  const r = spawnSync(process.execPath, [file, ...args], { stdio: 'inherit', timeout: 30 * 60_000 });
  if (s.file === 'unlock-propagation.js') {
    const fresh = r.status === 0 ? unlockRows(s.name, args[args.indexOf('--seats') + 1]!) : undefined;
    rows.push(...(fresh ?? [{ suite: s.name, name: `(failed: exit ${r.status ?? r.signal})`, value: NaN, unit: '', status: 'failed' }]));
    continue;
  }
  const out = join(RESULTS_DIR, `${s.name}.json`);
  if (r.status !== 0 || !existsSync(out)) {
    rows.push({ suite: s.name, name: `(failed: exit ${r.status ?? r.signal})`, value: NaN, unit: '', status: 'failed' });
    continue;
  }
  for (const f of (JSON.parse(readFileSync(out, 'utf8')) as { figures: Figure[] }).figures) rows.push(f);
}

function verdict(f: Figure): string {
  if (!f.limit) return '';
  const v = f.limit.kind === 'ratio-min' ? (f.ratio ?? NaN) : f.value;
  const ok = f.limit.kind === 'max' ? v <= f.limit.value : v >= f.limit.value;
  return `${ok ? 'meets' : 'MISSES'} ${f.limit.kind === 'max' ? '≤' : '≥'} ${f.limit.value}`;
}

const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', mem_gib: Math.round(totalmem() / 2 ** 30), node: process.version };
writeFileSync(join(REPO_ROOT, 'test/bench/results.json'), JSON.stringify({ at: new Date().toISOString(), quick, machine, figures: rows }, null, 2));
console.log(`\nseatguard benchmarks (${quick ? 'quick' : 'full'}) on ${machine.cpus} × ${machine.cpu}, ${machine.mem_gib} GiB, Node ${machine.node}\n`);
console.log('| suite | figure | value | baseline | ratio | target |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const f of rows) {
  const base = f.baseline ? `${f.baseline.name}: ${f.baseline.value}` : '';
  console.log(`| ${f.suite} | ${f.name} | ${Number.isNaN(f.value) ? '—' : `${f.value} ${f.unit}`} | ${base} | ${f.ratio !== undefined ? f.ratio.toFixed(2) : ''} | ${verdict(f)} |`);
}
