import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCollector, DB_FILE, type Collector } from '../../../../collector/collector.js';
import { openDatabase } from '../../../../collector/store/db.js';
import { MIGRATIONS } from '../../../../collector/store/migrations.js';

describe('upgrading a collector database to the alert engine', () => {
  let dir: string | undefined;
  let collector: Collector | undefined;
  afterEach(async () => {
    await collector?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    collector = undefined;
    dir = undefined;
  });

  it('adds migration 100 to a database that already has later ones, and raises no alert about stored history', async () => {
    dir = mkdtempSync(join(tmpdir(), 'seatguard-alerts-upgrade-'));
    // A database written by a collector without the alert engine (every migration but 100).
    const db = openDatabase(join(dir, DB_FILE), MIGRATIONS.filter((m) => m.version !== 100));
    db.prepare(`INSERT INTO agents (agent_id, seat_name, hostname, platform, public_key, enrolled_at, last_seen)
      VALUES ('agt_old', 'OLD-1', 'old-host', 'linux', 'k', '2025-12-01T00:00:00.000Z', '2025-12-01T00:00:00.000Z')`).run();
    const body = JSON.stringify({
      device: { port: '1-1', vendor_id: '0781', product_id: '5567', bcd_device: '0100', serial: 'OLD', manufacturer: null, product: null, hash: 'h', parent_hash: null, interfaces: ['08:06:50'], connect_type: 'hotplug' },
      blocked_interfaces: ['08:06:50'],
      allowed_interfaces: [],
      reason: 'default block',
    });
    db.prepare(`INSERT INTO events (agent_id, seq, type, ts, received_at, body) VALUES ('agt_old', 1, 'usb.blocked', ?, ?, ?)`).run(
      '2025-12-01T00:00:00.000Z',
      '2025-12-01T00:00:00.000Z',
      body,
    );
    db.close();

    collector = createCollector({ dataDir: dir, alerts: { tickIntervalMs: 3_600_000 } });
    await collector.start();
    const applied = collector.store.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>;
    expect(applied.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    collector.alerts.tick();
    expect(collector.alerts.list({ rule: 'usb.blocked' }).total).toBe(0);
  });
});
