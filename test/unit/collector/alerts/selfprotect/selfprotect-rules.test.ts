import { describe, expect, it } from 'vitest';
import { evaluateEvent, type RuleOutcome } from '../../../../../collector/alerts/rules.js';

const run = (type: string, body: unknown, inMaintenance = false): RuleOutcome | null => evaluateEvent({ type, body }, { inMaintenance });
const raised = (o: RuleOutcome | null) => {
  if (o?.kind !== 'raise') throw new Error(`expected a raise, got ${JSON.stringify(o)}`);
  return o.alert;
};
const H = (c: string) => c.repeat(64);

describe('self-protection alert rules', () => {
  it('a stop without a maintenance code is a high alert saying so', () => {
    const a = raised(run('agent.stopping', { reason: 'signal SIGTERM', authorized: false }));
    expect(a).toMatchObject({ rule: 'agent.stopping', severity: 'high', dedupKey: 'agent.stopping' });
    expect(a.title.en).toBe('Seat agent stopped without maintenance code');
    expect(a.detail.en).toContain('signal SIGTERM');
  });

  it('a stop with a maintenance code raises nothing', () => {
    expect(run('agent.stopping', { reason: 'maintenance stop', authorized: true, code_id: 'mc_0123456789abcdef', purpose: 'stop' })).toBeNull();
  });

  it('a stop or uninstall with a code the collector cannot match is a critical alert naming why', () => {
    const stop = { reason: 'maintenance stop', authorized: true, code_id: 'mc_00000000000000aa', purpose: 'stop' };
    const a = raised(evaluateEvent({ type: 'agent.stopping', body: stop }, { inMaintenance: false, maintenanceCodeFlag: () => 'unknown_code' }));
    expect(a).toMatchObject({ rule: 'agent.maintenance_code', severity: 'critical', dedupKey: 'agent.maintenance_code:stop' });
    expect(a.detail.en).toBe('stop: the collector never issued this code');
    const u = raised(evaluateEvent({ type: 'agent.uninstalled', body: { code_id: 'mc_00000000000000aa', os_user: 'root' } }, { inMaintenance: false, maintenanceCodeFlag: () => 'other_seat' }));
    expect(u.dedupKey).toBe('agent.maintenance_code:uninstall');
    expect(u.detail.zh).toContain('其他座席');
    expect(evaluateEvent({ type: 'agent.uninstalled', body: { code_id: 'mc_00000000000000aa', os_user: 'root' } }, { inMaintenance: false, maintenanceCodeFlag: () => null })).toBeNull();
  });

  it('a stop while systemd shuts the system down raises nothing', () => {
    expect(run('agent.stopping', { reason: 'signal SIGTERM', authorized: false, system_shutdown: true })).toBeNull();
  });

  it('a collector-side maintenance window still silences an unauthorized stop', () => {
    expect(run('agent.stopping', { reason: 'signal SIGTERM', authorized: false }, true)).toBeNull();
  });

  it('an older agent (no authorized field) keeps the old alert', () => {
    expect(raised(run('agent.stopping', { reason: 'signal SIGTERM' })).title.en).toBe('Seat agent stopped outside maintenance');
  });

  it('integrity changes: critical for code and the udev rule, high for the unit and the config', () => {
    const body = (item: string) => ({ item, path: `/etc/${item}`, expected_sha256: H('a'), actual_sha256: null, detail: 'missing' });
    expect(raised(run('agent.integrity', body('code'))).severity).toBe('critical');
    expect(raised(run('agent.integrity', body('udev_rule'))).severity).toBe('critical');
    expect(raised(run('agent.integrity', body('service_unit'))).severity).toBe('high');
    const cfg = raised(run('agent.integrity', body('agent_config')));
    expect(cfg).toMatchObject({ severity: 'high', rule: 'agent.integrity', dedupKey: 'agent.integrity:agent_config:/etc/agent_config' });
    expect(cfg.detail.en).toContain('aaaaaaaaaaaaaaaa -> -');
  });

  it('a malformed integrity body is not skipped: it raises event.malformed', () => {
    expect(raised(run('agent.integrity', { item: 'kernel', path: '/x' })).rule).toBe('event.malformed');
  });

  it('an uninstall reported with a code is information, not an alert', () => {
    expect(run('agent.uninstalled', { code_id: 'mc_0123456789abcdef', os_user: 'root' })).toBeNull();
  });
});
