import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppError, formatError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { connectCommandChannel, type GuestShell } from './command-channel.js';
import { createLineSplitter, isRecord } from './line-reader.js';
import { connectQmp, type QmpClient } from './qmp-client.js';
import { delay, waitUntil, withTimeout } from './wait.js';

/** Paths produced by scripts/vm/build-guest.sh. */
export interface GuestImage {
  kernel: string;
  initrd: string;
  kernelVersion: string;
}

/** How to boot the guest; every field but `image` has a default. */
export interface BootOptions {
  image: GuestImage;
  /** Directory for sockets and the console log; a fresh temp dir (removed by stop()) when omitted. */
  runDir?: string;
  /** QEMU accelerator: tcg (default; works everywhere) or kvm where the host's KVM can boot a stock kernel. */
  accel?: 'tcg' | 'kvm';
  memoryMb?: number;
  cpus?: number;
  /** Whole boot (QEMU start → guest command channel answers). */
  bootTimeoutMs?: number;
  qemuBinary?: string;
  /** Host directory exported read-only to the guest as /host (9p). */
  hostRoot?: string;
  log?: Logger;
}

/** A running guest. `stop()` is idempotent and always leaves no QEMU process behind. */
export interface GuestVm {
  qmp: QmpClient;
  shell: GuestShell;
  runDir: string;
  pid: number;
  /** Host milliseconds from spawning QEMU to the command channel answering. */
  bootMs: number;
  /** Guest uptime (s) when /init reported ready. */
  guestReadyUptime: number;
  /** The USB bus name of the xHCI controller for device_add (`bus` argument). */
  usbBus: string;
  consoleTail(lines?: number): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** If the test process dies, QEMU must not outlive it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) if (c.exitCode === null) c.kill('SIGKILL');
  });
}

/** Reads the manifest written by build-guest.sh. */
export function readGuestImage(manifestPath: string): GuestImage {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  } catch (err) {
    throw new AppError('VM_ERR_BUILD', formatError('VM_ERR_BUILD', `unreadable manifest ${manifestPath}`), { cause: err });
  }
  const m = isRecord(raw) ? raw : {};
  const { kernel, initrd, kernel_version: kernelVersion } = m;
  if (typeof kernel !== 'string' || typeof initrd !== 'string' || typeof kernelVersion !== 'string') {
    throw new AppError('VM_ERR_BUILD', formatError('VM_ERR_BUILD', `manifest ${manifestPath} lacks kernel/initrd`));
  }
  return { kernel, initrd, kernelVersion };
}

/** The QEMU command line (TCG: KVM on the reference machine cannot boot a stock kernel). */
export function qemuArgs(
  image: GuestImage,
  runDir: string,
  opts: { memoryMb: number; cpus: number; hostRoot: string; accel: 'tcg' | 'kvm' },
): string[] {
  return [
    '-accel', opts.accel,
    '-m', String(opts.memoryMb),
    '-smp', String(opts.cpus),
    '-nodefaults', '-display', 'none', '-no-reboot',
    '-serial', 'stdio', '-monitor', 'none',
    '-kernel', image.kernel,
    '-initrd', image.initrd,
    '-append', 'console=ttyS0 quiet loglevel=3 panic=-1',
    '-device', 'qemu-xhci,id=xhci',
    '-device', 'virtio-serial-pci',
    '-chardev', `socket,id=sgcmd,path=${path.join(runDir, 'cmd.sock')},server=on,wait=off`,
    '-device', 'virtserialport,chardev=sgcmd,name=seatguard.cmd',
    // User networking: the guest reaches the host's 127.0.0.1 as 10.0.2.2; nothing leaves the machine.
    '-netdev', 'user,id=n0,restrict=off',
    '-device', 'virtio-net-pci,netdev=n0',
    '-virtfs', `local,path=${opts.hostRoot},mount_tag=hostfs,security_model=none,readonly=on,multidevs=remap`,
    '-qmp', `unix:${path.join(runDir, 'qmp.sock')},server=on,wait=off`,
  ];
}

const refused = (err: unknown): boolean => {
  for (let e: unknown = err; e instanceof Error; e = e.cause) if ((e as NodeJS.ErrnoException).code === 'ECONNREFUSED') return true;
  return false;
};

/**
 * QEMU creates a socket file before it listens on it, so a loaded host can see ECONNREFUSED for a
 * moment after the file appears: retry that (only that) for up to 10 s.
 */
async function whenListening<T>(connect: () => Promise<T>, failIfDead: () => void): Promise<T> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    try {
      return await connect();
    } catch (err) {
      failIfDead();
      if (!refused(err) || performance.now() > deadline) throw err;
      await delay(50);
    }
  }
}

/**
 * Boots the guest once: spawns QEMU, waits for /init's READY line on the serial console, then
 * connects QMP and the command channel. Any failure kills QEMU and throws VM_ERR_QEMU_START (QEMU
 * exited or never opened its sockets) or VM_ERR_BOOT (guest never became ready).
 */
export async function bootGuest(opts: BootOptions): Promise<GuestVm> {
  const log = (opts.log ?? silentLogger()).child({ component: 'vm' });
  const ownRunDir = opts.runDir === undefined;
  const runDir = opts.runDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sgvm-'));
  fs.mkdirSync(runDir, { recursive: true });
  const bootTimeoutMs = opts.bootTimeoutMs ?? 120_000;
  const consolePath = path.join(runDir, 'console.log');
  const consoleFile = fs.openSync(consolePath, 'w');
  const consoleLines: string[] = [];
  const args = qemuArgs(opts.image, runDir, {
    memoryMb: opts.memoryMb ?? 1024,
    cpus: opts.cpus ?? 2,
    hostRoot: opts.hostRoot ?? '/',
    accel: opts.accel ?? 'tcg',
  });
  const t0 = performance.now();
  installExitHook();
  const child = spawn(opts.qemuBinary ?? 'qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let spawnError: Error | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      resolve();
    });
  });
  child.once('error', (err) => {
    spawnError = err;
    live.delete(child);
  });

  let readyUptime: number | null = null;
  const onLine = (line: string) => {
    consoleLines.push(line);
    if (consoleLines.length > 2000) consoleLines.splice(0, consoleLines.length - 2000);
    fs.writeSync(consoleFile, `${line}\n`);
    const m = /SG-GUEST-READY .*uptime=([\d.]+)/.exec(line);
    if (m) readyUptime = Number(m[1]);
  };
  child.stdout.on('data', createLineSplitter(onLine));
  child.stderr.on('data', createLineSplitter((l) => onLine(`[qemu] ${l}`)));
  const tail = (n = 40) => consoleLines.slice(-n).join('\n');

  let qmp: QmpClient | null = null;
  let shell: GuestShell | null = null;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    shell?.close();
    if (qmp && exited === null) {
      await qmp.execute('quit', undefined, 3_000).catch(() => undefined);
    }
    qmp?.close();
    if (exited === null && spawnError === null) {
      await withTimeout(exitPromise, 5_000, () => new Error('quit ignored')).catch(() => {
        child.kill('SIGKILL');
        return withTimeout(exitPromise, 5_000, () => new Error('QEMU survived SIGKILL'));
      });
    }
    fs.closeSync(consoleFile);
    if (ownRunDir) fs.rmSync(runDir, { recursive: true, force: true });
    log.info({ run_dir: runDir }, 'guest stopped');
  };

  try {
    const failIfDead = () => {
      if (spawnError) throw new AppError('VM_ERR_QEMU_START', formatError('VM_ERR_QEMU_START', spawnError.message));
      if (exited) {
        throw new AppError('VM_ERR_QEMU_START', formatError('VM_ERR_QEMU_START', `exited (${JSON.stringify(exited)}): ${tail(15)}`));
      }
    };
    await waitUntil(
      async () => {
        failIfDead();
        return fs.existsSync(path.join(runDir, 'qmp.sock')) && fs.existsSync(path.join(runDir, 'cmd.sock'));
      },
      { timeoutMs: 20_000, intervalMs: 50, what: 'QEMU to open its sockets', failFast: (e) => e instanceof AppError },
    ).catch((err: unknown) => {
      if (err instanceof AppError) throw err;
      throw new AppError('VM_ERR_QEMU_START', formatError('VM_ERR_QEMU_START', `${String(err)}\n${tail(15)}`), { cause: err });
    });
    qmp = await whenListening(() => connectQmp(path.join(runDir, 'qmp.sock')), failIfDead);
    shell = await whenListening(() => connectCommandChannel(path.join(runDir, 'cmd.sock')), failIfDead);
    const remaining = () => Math.max(1_000, bootTimeoutMs - (performance.now() - t0));
    await waitUntil(
      async () => {
        failIfDead();
        return readyUptime !== null;
      },
      { timeoutMs: remaining(), intervalMs: 50, what: 'the guest /init to report ready', failFast: (e) => e instanceof AppError },
    );
    // The first request proves the whole channel (guest port open, base64 both ways).
    const pong = await shell.check('echo pong', { timeoutMs: Math.min(30_000, remaining()) });
    if (pong.trim() !== 'pong') throw new Error(`unexpected ping reply ${JSON.stringify(pong)}`);
    const bootMs = performance.now() - t0;
    log.info({ boot_ms: Math.round(bootMs), guest_ready_uptime: readyUptime }, 'guest ready');
    const vm: GuestVm = {
      qmp,
      shell,
      runDir,
      pid: child.pid ?? -1,
      bootMs,
      guestReadyUptime: readyUptime ?? 0,
      usbBus: 'xhci.0',
      consoleTail: tail,
      stop,
    };
    return vm;
  } catch (err) {
    const consoleText = tail(30);
    await stop().catch(() => undefined);
    if (err instanceof AppError && (err.code === 'VM_ERR_QEMU_START' || err.code === 'VM_ERR_BOOT')) throw err;
    throw new AppError(
      'VM_ERR_BOOT',
      formatError('VM_ERR_BOOT', `${err instanceof Error ? err.message : String(err)}\n--- console ---\n${consoleText}`),
      { cause: err },
    );
  }
}
