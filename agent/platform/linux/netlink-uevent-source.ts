import { createRequire } from 'node:module';
import { AppError, formatError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logger.js';
import type { UeventHandlers, UeventSource } from './uevent-source.js';

export interface NetlinkUeventSourceOptions {
  log: Logger;
  /** How often the socket is drained. Bounds the extra latency of a uevent (the kernel gate blocks storage regardless). */
  pollIntervalMs?: number;
  /** Requested socket receive buffer; 1 MiB as USBGuard uses, so a burst between two polls is kept. */
  rcvbufBytes?: number;
}

/** The libc calls used, bound through koffi. */
interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Uint32Array, len: number): number;
  setsockopt(fd: number, level: number, name: number, value: Int32Array, len: number): number;
  recvfrom(fd: number, buf: Uint8Array, len: number, flags: number, from: Uint32Array, fromLen: Uint32Array): number | bigint;
  close(fd: number): number;
  errno(): number;
}

// Linux ABI constants (x86-64 and arm64 share them).
const AF_NETLINK = 16;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const NETLINK_KOBJECT_UEVENT = 15;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const MSG_DONTWAIT = 0x40;
const EINTR = 4;
const EAGAIN = 11;
const ENOBUFS = 105;

/** A uevent is at most UEVENT_BUFFER_SIZE (2048) in the kernel; 16 KiB leaves room. */
const BUFFER_BYTES = 16384;
/** Datagrams taken in one turn before yielding to the event loop (the rest follow at once). */
const DRAIN_MAX = 256;

function sourceError(detail: string, cause?: unknown): AppError {
  return new AppError('UEVENT_ERR_SOURCE', formatError('UEVENT_ERR_SOURCE', detail), cause === undefined ? undefined : { cause });
}

/** Loads koffi and binds libc; koffi is required only here, when the Linux platform watches. */
function loadLibc(): Libc {
  type Koffi = typeof import('koffi');
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (err) {
    throw sourceError('koffi is not installed', err);
  }
  let lib: ReturnType<Koffi['load']>;
  try {
    lib = koffi.load('libc.so.6');
  } catch (err) {
    throw sourceError('libc.so.6 could not be loaded', err);
  }
  return {
    socket: lib.func('int socket(int, int, int)') as Libc['socket'],
    bind: lib.func('int bind(int, const void *, uint32_t)') as Libc['bind'],
    setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)') as Libc['setsockopt'],
    recvfrom: lib.func('intptr_t recvfrom(int, void *, size_t, int, void *, uint32_t *)') as Libc['recvfrom'],
    close: lib.func('int close(int)') as Libc['close'],
    errno: () => koffi.errno(),
  };
}

/**
 * Kernel uevents from a NETLINK_KOBJECT_UEVENT socket bound to multicast group 1 (raw kernel
 * events; no udevd needed). Datagrams whose sender is not the kernel (nl_pid != 0) are dropped.
 *
 * Why a non-blocking socket drained on a timer, on the main thread: a blocking recvfrom must not
 * run on the main thread, and parked in koffi's async pool it kept process.exit() from returning
 * (platform.md §1.5). The earlier design gave it a worker thread, which cost a whole V8 isolate
 * (~13 MiB RSS, docs/benchmarks.md) for a socket that sees a few datagrams a day. A MSG_DONTWAIT
 * recvfrom returns at once, so stop() is immediate, and the 1 MiB receive buffer keeps a burst
 * between two polls; an overrun still surfaces as ENOBUFS and makes the platform rescan.
 */
export function createNetlinkUeventSource(opts: NetlinkUeventSourceOptions): UeventSource {
  const log = opts.log.child({ component: 'uevent-netlink' });
  const pollIntervalMs = opts.pollIntervalMs ?? 250;
  let libc: Libc | null = null;
  let fd = -1;
  let timer: NodeJS.Timeout | null = null;
  let foreignDrops = 0;
  const buf = new Uint8Array(BUFFER_BYTES);
  const from = new Uint32Array(3); // sockaddr_nl: u16 family, u16 pad, u32 nl_pid, u32 nl_groups
  const fromLen = new Uint32Array(1);

  function release(): void {
    if (timer) clearInterval(timer);
    timer = null;
    if (fd >= 0 && libc) libc.close(fd);
    fd = -1;
  }

  function open(c: Libc): number {
    const s = c.socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
    if (s < 0) throw sourceError(`socket failed, errno ${c.errno()}`);
    try {
      const rcvbuf = new Int32Array([opts.rcvbufBytes ?? 1 << 20]);
      // FORCE needs CAP_NET_ADMIN (the agent runs as root); the plain option is capped by rmem_max.
      if (c.setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf, 4) !== 0 && c.setsockopt(s, SOL_SOCKET, SO_RCVBUF, rcvbuf, 4) !== 0) {
        throw sourceError(`setsockopt(SO_RCVBUF) failed, errno ${c.errno()}`);
      }
      const addr = new Uint32Array(3);
      new Uint16Array(addr.buffer)[0] = AF_NETLINK;
      addr[2] = 1; // nl_groups: the kernel's broadcast group
      if (c.bind(s, addr, 12) !== 0) throw sourceError(`bind failed, errno ${c.errno()}`);
      return s;
    } catch (err) {
      c.close(s);
      throw err;
    }
  }

  /** Reads what is queued, up to DRAIN_MAX datagrams. Returns 'more' when it stopped at the cap. */
  function drain(c: Libc, handlers: UeventHandlers): 'empty' | 'more' | 'dead' {
    for (let i = 0; i < DRAIN_MAX; i++) {
      if (fd < 0) return 'dead';
      fromLen[0] = 12;
      const n = Number(c.recvfrom(fd, buf, buf.length, MSG_DONTWAIT, from, fromLen));
      if (n < 0) {
        const errno = c.errno();
        if (errno === EAGAIN) return 'empty';
        if (errno === EINTR) continue;
        if (errno === ENOBUFS) {
          handlers.onOverrun('uevent socket overrun (ENOBUFS)');
          continue;
        }
        release();
        handlers.onError(sourceError(`recvfrom failed, errno ${errno}`));
        return 'dead';
      }
      // Only the kernel (port id 0) is trusted; any local process can unicast to a netlink socket.
      if (fromLen[0] < 12 || from[1] !== 0) {
        foreignDrops++;
        // Warn once so a sender cannot flood the log.
        if (foreignDrops === 1) log.warn({ nl_pid: from[1] }, 'dropped uevent datagram not sent by the kernel');
        else log.debug({ nl_pid: from[1], dropped: foreignDrops }, 'dropped uevent datagram not sent by the kernel');
        continue;
      }
      try {
        handlers.onMessage(buf.slice(0, n));
      } catch (err) {
        log.error({ err }, 'uevent handler threw');
      }
    }
    return 'more';
  }

  function start(handlers: UeventHandlers): Promise<void> {
    try {
      if (fd >= 0) throw sourceError('already started');
      const c = (libc ??= loadLibc());
      fd = open(c);
      const poll = () => {
        // A burst larger than one turn continues right after pending I/O, not a whole interval later.
        if (drain(c, handlers) === 'more') setImmediate(poll);
      };
      timer = setInterval(poll, pollIntervalMs);
      log.debug({ poll_interval_ms: pollIntervalMs }, 'netlink uevent socket open');
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : sourceError(String(err)));
    }
  }

  function stop(): Promise<void> {
    release();
    return Promise.resolve();
  }

  return { start, stop };
}
