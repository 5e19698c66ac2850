import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../../shared/logger.js';
import { createHashCache } from '../../../../../agent/platform/linux/process/exe-hash.js';
import { createLinuxProcessLister, parseStartTime } from '../../../../../agent/platform/linux/process/linux-process-lister.js';
import { materialize } from '../../sensors/support.js';

const sha256File = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sg-proc-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('Linux process lister', () => {
  it('sees this very process on the live /proc, hashed through /proc/self/exe', async () => {
    const lister = createLinuxProcessLister({ root: '/', log: silentLogger() });
    const me = (await lister.list()).find((p) => p.pid === process.pid);
    expect(me).toMatchObject({ path: process.execPath, sha256: sha256File(process.execPath), uid: process.getuid?.() });
    expect(me?.startTime).toMatch(/^[0-9]+$/);
    expect(await lister.identify(process.pid)).toMatchObject({ sha256: me?.sha256, startTime: me?.startTime });
  });

  it('reports kernel threads with a reason instead of a hash', async () => {
    const lister = createLinuxProcessLister({ root: '/', log: silentLogger() });
    const kthreadd = await lister.identify(2);
    // pid 2 is kthreadd on a host kernel; inside a PID namespace it may be an ordinary process.
    if (readFileSync('/proc/2/comm', 'utf8').trim() === 'kthreadd') {
      expect(kthreadd).toMatchObject({ pid: 2, name: 'kthreadd', path: null, sha256: null, problem: 'kernel thread or zombie (no exe)' });
    } else {
      expect(kthreadd?.pid).toBe(2);
    }
  });

  it('reads a captured tree: copied binaries are hashed, identical images are hashed once', async () => {
    const stat = (pid: number, start: number) => `${pid} (we ird) name) S 1 ${pid} ${pid} 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 ${start} 1000 100\n`;
    await materialize(join(root, 'proc'), {
      '100': { comm: 'sleep\n', stat: stat(100, 4242) },
      '101': { comm: 'sleep\n', stat: stat(101, 4343) },
      '102': { comm: 'kworker/0:1\n', stat: stat(102, 1) },
      self: { comm: 'x\n' },
    });
    await copyFile('/usr/bin/sleep', join(root, 'proc/100/exe'));
    await symlink(join(root, 'proc/100/exe'), join(root, 'proc/101/exe'));
    const cache = createHashCache();
    const lister = createLinuxProcessLister({ root, log: silentLogger(), cache });
    const procs = await lister.list();
    expect(procs.map((p) => [p.pid, p.name, p.sha256 === sha256File('/usr/bin/sleep'), p.startTime, p.problem ?? null])).toEqual([
      [100, 'sleep', true, '4242', null],
      [101, 'sleep', true, '4343', null],
      [102, 'kworker/0:1', false, '1', 'kernel thread or zombie (no exe)'],
    ]);
    expect(procs[1]?.path).toBe(join(root, 'proc/100/exe'));
    expect(cache.size).toBe(1);
  });

  it('refuses to signal anything when reading a captured tree', async () => {
    const lister = createLinuxProcessLister({ root, log: silentLogger() });
    expect(await lister.terminate(process.pid)).toEqual({ result: 'failed', detail: expect.stringMatching(/captured tree/) });
  });

  it('returns null for a process that does not exist and "gone" when killing it', async () => {
    const lister = createLinuxProcessLister({ root: '/', log: silentLogger() });
    expect(await lister.identify(2 ** 22 + 12345)).toBeNull();
    expect(await lister.terminate(2 ** 22 + 12345)).toMatchObject({ result: 'gone' });
  });

  it('parses the start time after the last parenthesis, whatever comm contains', () => {
    expect(parseStartTime('7 (a) b) (c) S 1 7 7 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 99887766 1 2')).toBe('99887766');
    expect(parseStartTime('garbage')).toBeNull();
    expect(parseStartTime('1 (x) S 1')).toBeNull();
  });
});
