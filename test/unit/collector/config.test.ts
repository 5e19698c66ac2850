import { describe, expect, it } from 'vitest';
import { COLLECTOR_DEFAULTS, loadCollectorConfig } from '../../../collector/config.js';

describe('loadCollectorConfig', () => {
  it('fills documented defaults and freezes the result', () => {
    const cfg = loadCollectorConfig({ dataDir: '/var/lib/seatguard' });
    expect(cfg).toEqual({ ...COLLECTOR_DEFAULTS, dataDir: '/var/lib/seatguard' });
    expect(cfg.host).toBe('127.0.0.1');
    expect(Object.isFrozen(cfg)).toBe(true);
  });

  it('treats undefined as "use the default"', () => {
    expect(loadCollectorConfig({ dataDir: '/d', port: undefined }).port).toBe(0);
  });

  it('lists every problem at once with CONFIG_ERR_INVALID', () => {
    let caught: unknown;
    try {
      loadCollectorConfig({ dataDir: '', port: 70_000, maxBatch: 0, commitIntervalMs: -1 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'CONFIG_ERR_INVALID' });
    const problems = (caught as { details: { problems: string[] } }).details.problems.join('\n');
    for (const key of ['dataDir', 'port', 'maxBatch', 'commitIntervalMs']) expect(problems).toContain(key);
  });

  it('rejects unknown keys', () => {
    expect(() => loadCollectorConfig({ dataDir: '/d', ...({ pingIntervallMs: 5 } as object) })).toThrow(
      expect.objectContaining({ code: 'CONFIG_ERR_INVALID' }),
    );
  });
});
