import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeMaintenanceCode } from '../../../../shared/domain/maintenance-code.js';
import { silentLogger } from '../../../../shared/logger.js';
import { createSelfProtect } from '../../../../agent/selfprotect/selfprotect.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const SECRET = randomBytes(32);
const AGENT = 'agt_seat07';

function setup(stateDir?: string) {
  const root = mkdtempSync(join(tmpdir(), 'sg-sp-'));
  dirs.push(root);
  const code = join(root, 'code');
  mkdirSync(code);
  writeFileSync(join(code, 'a.js'), 'a\n');
  const state = stateDir ?? join(root, 'state');
  if (!stateDir) mkdirSync(state);
  const emitted: Array<[string, unknown]> = [];
  const stops: Array<{ purpose: string; codeId: string }> = [];
  const sp = createSelfProtect({
    stateDir: state,
    codeRoots: [code],
    secret: () => ({ agentId: AGENT, secret: SECRET }),
    emit: (type, body) => void emitted.push([type, body]),
    log: silentLogger(),
    nowMs: () => Date.now(),
    onAuthorizedStop: (s) => void stops.push(s),
  });
  return { sp, root, emitted, stops };
}
const codeFor = (purpose: 'stop' | 'uninstall' | 'upgrade') => makeMaintenanceCode(SECRET, AGENT, { purpose, expiresAtMs: Date.now() + 600_000, nonce: randomBytes(3) });

describe('self-protection wiring in the agent', () => {
  it('never keeps enforcement from starting: a baseline that cannot be written gives a null code hash, no throw', () => {
    const root = mkdtempSync(join(tmpdir(), 'sg-sp-bad-'));
    dirs.push(root);
    const { sp } = setup(join(root, 'missing', 'state'));
    expect(sp.startIntegrity()).toMatchObject({ codeSha256: null, rebaselinedBy: null });
  });

  it('a baseline that cannot be read is a finding, not a crash', () => {
    const root = mkdtempSync(join(tmpdir(), 'sg-sp-bad-'));
    dirs.push(root);
    const notADir = join(root, 'file');
    writeFileSync(notADir, 'x');
    const { sp, emitted } = setup(notADir);
    expect(sp.startIntegrity()).toMatchObject({ codeSha256: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown, findings: 1 });
    sp.afterStart();
    sp.stop();
    expect(emitted).toHaveLength(1);
    expect(emitted[0]?.[0]).toBe('agent.integrity');
  });

  it('answers an accepted uninstall first, reports agent.uninstalled, then asks for the authorized stop', async () => {
    const { sp, emitted, stops } = setup();
    const c = codeFor('uninstall');
    const res = await sp.handle({ v: 1, op: 'maintenance', purpose: 'uninstall', code: c.code, os_user: 'root' });
    expect(res).toEqual({ ok: true, op: 'maintenance', purpose: 'uninstall', code_id: c.codeId });
    expect(emitted).toEqual([['agent.uninstalled', { code_id: c.codeId, os_user: 'root' }]]);
    // The stop comes after the answer had time to leave.
    expect(stops).toEqual([]);
    await new Promise((r) => setTimeout(r, 100));
    expect(stops).toEqual([{ purpose: 'uninstall', codeId: c.codeId }]);
    // Once stopping, further requests are refused, even with a valid code.
    const again = await sp.handle({ v: 1, op: 'maintenance', purpose: 'stop', code: codeFor('stop').code, os_user: 'root' });
    expect(again).toMatchObject({ ok: false, code: 'IPC_ERR_BAD_REQUEST' });
  });

  it('refuses a code for another purpose without stopping or reporting anything', async () => {
    const { sp, emitted, stops } = setup();
    const res = await sp.handle({ v: 1, op: 'maintenance', purpose: 'uninstall', code: codeFor('stop').code, os_user: 'root' });
    expect(res).toMatchObject({ ok: false, code: 'MAINT_ERR_CODE' });
    await new Promise((r) => setTimeout(r, 100));
    expect(stops).toEqual([]);
    expect(emitted).toEqual([]);
  });
});
