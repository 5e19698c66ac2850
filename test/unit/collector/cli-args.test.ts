import { describe, expect, it } from 'vitest';
import { parseDuration, parseListen, parseLogLevel } from '../../../collector/cli-args.js';

describe('collector CLI argument parsing', () => {
  it('parses HOST:PORT including bracketed IPv6', () => {
    expect(parseListen('127.0.0.1:8443')).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('collector.local:443')).toEqual({ host: 'collector.local', port: 443 });
  });

  it.each(['8443', '127.0.0.1', '127.0.0.1:99999', 'host:-1', ':80', 'a b:80'])('refuses --listen %s with CLI_ERR_USAGE', (v) => {
    expect(() => parseListen(v)).toThrow(expect.objectContaining({ code: 'CLI_ERR_USAGE' }));
  });

  it('parses durations into milliseconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
  });

  it.each(['', '24', 'h', '0h', '1.5h', '-1h', '1w'])('refuses duration %j', (v) => {
    expect(() => parseDuration(v)).toThrow(expect.objectContaining({ code: 'CLI_ERR_USAGE' }));
  });

  it('accepts only pino level names', () => {
    expect(parseLogLevel('debug')).toBe('debug');
    expect(() => parseLogLevel('verbose')).toThrow(expect.objectContaining({ code: 'CLI_ERR_USAGE' }));
  });
});
