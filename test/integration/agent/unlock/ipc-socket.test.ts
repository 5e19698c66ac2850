import { existsSync, lstatSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveSeatSecret, makeResponse, parseChallenge } from '../../../../shared/domain/offline-code.js';
import { silentLogger } from '../../../../shared/logger.js';
import { ipcCall } from '../../../../agent/ipc/ipc-client.js';
import { createIpcServer } from '../../../../agent/ipc/ipc-server.js';
import { runRequestUnlock, runUnlockCode, SEAT_EXIT } from '../../../../agent/ipc/seat-cli.js';
import { eventually } from '../../../helpers/eventually.js';
import { deviceFixture } from '../../../helpers/fake-agent.js';
import { startLocalSeat, type LocalSeat } from './seat-harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function seat(opts: Parameters<typeof startLocalSeat>[0] = {}): Promise<LocalSeat> {
  const s = await startLocalSeat(opts);
  cleanups.push(() => s.close());
  return s;
}

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sg-ipc-'));
  cleanups.push(() => rm(d, { recursive: true, force: true }));
  return d;
}

/** Writes raw bytes and collects everything the agent sends until it closes. */
function raw(path: string, data: string | Buffer | null, opts: { end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock: Socket = createConnection(path);
    const chunks: Buffer[] = [];
    sock.on('connect', () => {
      if (data !== null) sock.write(data);
      if (opts.end) sock.end();
    });
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

async function withStick(s: LocalSeat, port = '1-2'): Promise<void> {
  s.platform.insert(deviceFixture('sandisk-ultra-fit'), { port });
  await eventually(() => expect(s.rec.ofType('usb.blocked').some((b) => b.device.port === port)).toBe(true));
}

describe('the seat socket', () => {
  it('is a socket with mode 0666 in the state dir and disappears on stop', async () => {
    const s = await startLocalSeat();
    expect(lstatSync(s.socketPath).isSocket()).toBe(true);
    expect(statSync(s.socketPath).mode & 0o777).toBe(0o666);
    await s.ipc.stop();
    expect(existsSync(s.socketPath)).toBe(false);
    await s.close();
  });

  it('serves the seat CLI: list, request (unlock.requested), offline challenge and code', async () => {
    const s = await seat();
    await withStick(s);
    const a = io();
    expect(await runRequestUnlock({ socketPath: s.socketPath, list: true }, a.io)).toBe(SEAT_EXIT.ok);
    expect(a.out).toEqual([expect.stringMatching(/^1-2\s+0781:5583\s+blocked\s+SanDisk Ultra Fit\s+serial 4C530001130820116055$/)]);

    const b = io();
    expect(await runRequestUnlock({ socketPath: s.socketPath, device: '1-2', reason: 'copy the call report', duration: '30m', osUser: 'zhangsan' }, b.io)).toBe(SEAT_EXIT.ok);
    const ref = /Unlock request sent: (rq_[0-9a-f]+)/.exec(b.out[0] ?? '')?.[1];
    expect(ref).toBeDefined();
    expect(s.rec.ofType('unlock.requested')).toEqual([expect.objectContaining({ request_ref: ref, duration_ms: 1_800_000, os_user: 'zhangsan', reason: 'copy the call report' })]);

    const c = io();
    expect(await runRequestUnlock({ socketPath: s.socketPath, device: '1-2', offline: true }, c.io)).toBe(SEAT_EXIT.ok);
    const challenge = /Offline challenge: ([0-9A-Z-]+)/.exec(c.out[0] ?? '')?.[1] ?? '';
    const agentId = 'agt_ipc_test';
    const secret = deriveSeatSecret(Buffer.alloc(32, 9), agentId);
    s.unlock.setOfflineSecret({ agentId, secret });
    const code = makeResponse(secret, agentId, parseChallenge(challenge)!, 15);
    const d = io();
    expect(await runUnlockCode({ socketPath: s.socketPath, code }, d.io)).toBe(SEAT_EXIT.ok);
    expect(d.out[0]).toMatch(/^Unlocked the device on 1-2 for 15 min \(grant off_[0-9a-f]+\)\.$/);
    await eventually(() => expect(s.platform.interfaceState('1-2:1.0')?.authorized).toBe(true));
    const e = io();
    expect(await runUnlockCode({ socketPath: s.socketPath, code }, e.io)).toBe(SEAT_EXIT.refused);
    expect(e.err[0]).toMatch(/^OFFLINE_ERR_CODE: /);
  });

  it('prints the refusal code for a request on a port without a blocked stick', async () => {
    const s = await seat();
    const a = io();
    expect(await runRequestUnlock({ socketPath: s.socketPath, device: '3-9', reason: 'report', duration: '10m' }, a.io)).toBe(SEAT_EXIT.refused);
    expect(a.err[0]).toMatch(/^IPC_ERR_DEVICE: /);
  });

  it('reports an unreachable agent with exit code 3', async () => {
    const dir = await tempDir();
    const a = io();
    expect(await runRequestUnlock({ socketPath: join(dir, 'agent.sock'), list: true }, a.io)).toBe(SEAT_EXIT.unavailable);
    expect(a.err[0]).toMatch(/^IPC_ERR_UNAVAILABLE: /);
  });

  it('checks usage before asking the agent', async () => {
    const s = await seat();
    for (const opts of [{ device: '1-2', duration: '30m' }, { device: '1-2', reason: 'x y', duration: 'forever' }, { reason: 'copy', duration: '30m' }]) {
      const a = io();
      expect(await runRequestUnlock({ socketPath: s.socketPath, ...opts }, a.io)).toBe(SEAT_EXIT.usage);
    }
    const b = io();
    expect(await runUnlockCode({ socketPath: s.socketPath, code: '$(reboot)' }, b.io)).toBe(SEAT_EXIT.usage);
  });
});

describe('hostile local clients', () => {
  it('answers garbage with IPC_ERR_BAD_REQUEST and closes', async () => {
    const s = await seat();
    const answer = JSON.parse(await raw(s.socketPath, '\u0000\u00ff{"v":1\n')) as { ok: boolean; code: string };
    expect(answer).toMatchObject({ ok: false, code: 'IPC_ERR_BAD_REQUEST' });
  });

  it('stops reading at 8 KiB without a newline', async () => {
    const s = await seat();
    const text = await raw(s.socketPath, Buffer.alloc(64 * 1024, 0x61));
    expect(JSON.parse(text.split('\n')[0] ?? '')).toMatchObject({ ok: false, code: 'IPC_ERR_BAD_REQUEST', message: expect.stringContaining('longer than 8192 bytes') });
  });

  it('gives up on a client that never finishes its line', async () => {
    const s = await seat({ requestTimeoutMs: 150 });
    const text = await raw(s.socketPath, '{"v":1,"op":"li');
    expect(JSON.parse(text)).toMatchObject({ ok: false, code: 'IPC_ERR_BAD_REQUEST', message: expect.stringContaining('in time') });
  });

  it('answers a client that half-closes before a newline', async () => {
    const s = await seat();
    const text = await raw(s.socketPath, '{"v":1,"op":"list"}', { end: true });
    expect(JSON.parse(text)).toMatchObject({ ok: false, code: 'IPC_ERR_BAD_REQUEST' });
  });

  it('handles only the first request of a connection', async () => {
    const s = await seat();
    const text = await raw(s.socketPath, '{"v":1,"op":"list"}\n{"v":1,"op":"list"}\n');
    expect(text.trim().split('\n')).toHaveLength(1);
  });

  it('refuses connections beyond the limit', async () => {
    const s = await seat({ maxConnections: 2, requestTimeoutMs: 2_000 });
    const idle = [createConnection(s.socketPath), createConnection(s.socketPath)];
    cleanups.push(async () => idle.forEach((c) => c.destroy()));
    await Promise.all(idle.map((c) => new Promise((r) => c.once('connect', r))));
    await new Promise((r) => setTimeout(r, 50));
    const text = await raw(s.socketPath, '{"v":1,"op":"list"}\n');
    expect(JSON.parse(text)).toMatchObject({ ok: false, code: 'IPC_ERR_RATE' });
  });

  it('rate-limits requests, and unlock-code attempts more tightly', async () => {
    const s = await seat({ requests: { burst: 3, refillMs: 60_000 }, codeAttempts: { burst: 2, refillMs: 60_000 } });
    await withStick(s);
    s.unlock.setOfflineSecret({ agentId: 'agt_x', secret: Buffer.alloc(32, 3) });
    const attempt = () => ipcCall(s.socketPath, { v: 1, op: 'unlock_code', code: '0000-0000-0000-0000-0000', os_user: 'mallory' });
    expect(await attempt()).toMatchObject({ ok: false, code: 'OFFLINE_ERR_CODE' });
    expect(await attempt()).toMatchObject({ ok: false, code: 'OFFLINE_ERR_CODE' });
    expect(await attempt()).toMatchObject({ ok: false, code: 'IPC_ERR_RATE', message: expect.stringMatching(/try again in \d+ s/) });
    expect(await ipcCall(s.socketPath, { v: 1, op: 'list' })).toMatchObject({ ok: false, code: 'IPC_ERR_RATE' });
    s.boot.advance(60_000);
    expect(await ipcCall(s.socketPath, { v: 1, op: 'list' })).toMatchObject({ ok: true });
  });
});

describe('socket path handling', () => {
  it('replaces a stale socket left by an agent that died', async () => {
    const dir = await tempDir();
    const path = join(dir, 'agent.sock');
    // A process killed while listening leaves its socket file behind, as a crashed agent would.
    const crashed = spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(crashed.signal).toBe('SIGKILL');
    expect(lstatSync(path).isSocket()).toBe(true);
    const server = createIpcServer({ socketPath: path, handle: () => Promise.resolve({ ok: true, op: 'list', devices: [] }), log: silentLogger(), monotonicMs: () => 0 });
    await server.start();
    cleanups.push(() => server.stop());
    expect(await ipcCall(path, { v: 1, op: 'list' })).toEqual({ ok: true, op: 'list', devices: [] });
  });

  it('refuses to take over a socket another agent is serving', async () => {
    const s = await seat();
    const second = createIpcServer({ socketPath: s.socketPath, handle: () => Promise.resolve({ ok: true, op: 'list', devices: [] }), log: silentLogger(), monotonicMs: () => 0 });
    await expect(second.start()).rejects.toMatchObject({ code: 'IPC_ERR_LISTEN' });
    expect(await ipcCall(s.socketPath, { v: 1, op: 'list' })).toMatchObject({ ok: true });
  });

  it('never deletes a regular file or a symlink at the socket path', async () => {
    const dir = await tempDir();
    const file = join(dir, 'precious');
    writeFileSync(file, 'keep me');
    const link = join(dir, 'agent.sock');
    symlinkSync(file, link);
    for (const path of [file, link]) {
      const server = createIpcServer({ socketPath: path, handle: () => Promise.resolve({ ok: true, op: 'list', devices: [] }), log: silentLogger(), monotonicMs: () => 0 });
      await expect(server.start()).rejects.toMatchObject({ code: 'IPC_ERR_LISTEN' });
    }
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('refuses a path too long for a unix socket', async () => {
    const dir = await tempDir();
    const server = createIpcServer({ socketPath: join(dir, 'x'.repeat(120)), handle: () => Promise.resolve({ ok: true, op: 'list', devices: [] }), log: silentLogger(), monotonicMs: () => 0 });
    await expect(server.start()).rejects.toMatchObject({ code: 'IPC_ERR_LISTEN' });
  });
});
