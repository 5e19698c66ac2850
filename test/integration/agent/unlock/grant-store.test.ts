import { mkdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import { createAgentUnlock } from '../../../../agent/grants/agent-unlock.js';
import type { StoredGrant } from '../../../../agent/grants/grant.js';
import { GRANTS_FILE, openGrantStore } from '../../../../agent/grants/grant-store.js';
import { FakeUsbPlatform } from '../../../../agent/platform/fake/fake-platform.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sg-grants-'));
  dirs.push(d);
  return d;
}

const grant = (id: string): StoredGrant => ({
  grantId: id,
  requestId: `req_${id}`,
  source: 'collector',
  device: { vendor_id: '0781', product_id: '5583', serial: 'S1', hash: null, port: '1-2' },
  anyPort: false,
  allowReinsert: false,
  executor: 'usr_maint',
  expiresAtWall: 2_000_000,
  deadlineMono: 60_000,
  bootId: '00000000-0000-4000-8000-000000000001',
  warnBeforeMs: 0,
  warned: false,
  receivedAtWall: 1_000_000,
});

describe('grant store on disk', () => {
  it('keeps active grants and tombstones across reopening, in a 0600 file', async () => {
    const path = join(await tempDir(), GRANTS_FILE);
    const a = openGrantStore(path);
    a.put(grant('grt_a'));
    a.put(grant('grt_b'));
    a.end('grt_b', 'revoked', 1_000_000, 3_000_000);
    a.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const b = openGrantStore(path);
    expect(b.active().map((g) => g.grantId)).toEqual(['grt_a']);
    expect(b.isEnded('grt_b')).toBe(true);
    expect(b.prune(2_999_999)).toBe(0);
    expect(b.prune(3_000_001)).toBe(1);
    expect(b.isEnded('grt_b')).toBe(false);
    b.close();
  });

  it('drops a row it cannot read rather than enforcing it (and remembers it as ended)', async () => {
    const path = join(await tempDir(), GRANTS_FILE);
    openGrantStore(path).close();
    const db = new Database(path);
    db.prepare('INSERT INTO grants (grant_id, body) VALUES (?, ?)').run('grt_bad', '{"grantId":"grt_bad","anyPort":"yes"}');
    db.close();
    const s = openGrantStore(path);
    expect(s.active()).toEqual([]);
    expect(s.isEnded('grt_bad')).toBe(true);
    s.close();
  });

  it('keeps enforcing with an in-memory table when grants.db cannot be opened', async () => {
    const dir = await tempDir();
    mkdirSync(join(dir, GRANTS_FILE)); // a directory where the file should be
    const unlock = createAgentUnlock({ stateDir: dir, platform: new FakeUsbPlatform(), emit: () => undefined, clock: new ManualClock(), log: silentLogger() });
    expect(unlock.grants.list()).toEqual([]);
    unlock.close();
  });
});
