/**
 * Source of the worker thread that owns the NETLINK_KOBJECT_UEVENT socket. It is evaluated as a
 * CommonJS script (`new Worker(src, { eval: true })`) so the same code runs from TypeScript under
 * vitest and from dist/ without a separate build step.
 *
 * Why a worker: koffi calls block their thread; a blocking recvfrom parked in koffi's async pool
 * kept process.exit() from returning (platform.md §1.5). Here the blocking call lives on its own
 * thread, SO_RCVTIMEO wakes it every `recvTimeoutMs` to look at the shared stop flag, and stop()
 * therefore returns within one timeout.
 *
 * Messages to the parent: {type:'ready'} | {type:'message', data:Uint8Array} |
 * {type:'overrun'} | {type:'foreign', pid} | {type:'fatal', stage, errno?, message?}.
 * Linux ABI constants (x86-64 and arm64 share them): AF_NETLINK 16, SOCK_DGRAM 2,
 * SOCK_CLOEXEC 0x80000, NETLINK_KOBJECT_UEVENT 15, SOL_SOCKET 1, SO_RCVBUF 8,
 * SO_RCVBUFFORCE 33, SO_RCVTIMEO 20, EINTR 4, EAGAIN 11, ENOBUFS 105.
 */
export const NETLINK_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

function run() {
  let koffi;
  try {
    koffi = require(workerData.koffiPath);
  } catch (err) {
    parentPort.postMessage({ type: 'fatal', stage: 'load-koffi', message: String(err && err.message) });
    return;
  }
  let libc;
  try {
    libc = koffi.load('libc.so.6');
  } catch (err) {
    parentPort.postMessage({ type: 'fatal', stage: 'load-libc', message: String(err && err.message) });
    return;
  }
  const socket = libc.func('int socket(int, int, int)');
  const bind = libc.func('int bind(int, const void *, uint32_t)');
  const setsockopt = libc.func('int setsockopt(int, int, int, const void *, uint32_t)');
  const recvfrom = libc.func('intptr_t recvfrom(int, void *, size_t, int, void *, uint32_t *)');
  const close = libc.func('int close(int)');
  const stop = new Int32Array(workerData.stopFlag);

  const fd = socket(16, 2 | 0x80000, 15);
  if (fd < 0) {
    parentPort.postMessage({ type: 'fatal', stage: 'socket', errno: koffi.errno() });
    return;
  }
  try {
    // Typed arrays give the native struct layouts (timeval = two longs, sockaddr_nl = u16,u16,u32,u32).
    const rcvbuf = new Int32Array([workerData.rcvbufBytes]);
    if (setsockopt(fd, 1, 33, rcvbuf, 4) !== 0 && setsockopt(fd, 1, 8, rcvbuf, 4) !== 0) {
      parentPort.postMessage({ type: 'fatal', stage: 'setsockopt(SO_RCVBUF)', errno: koffi.errno() });
      return;
    }
    const ms = workerData.recvTimeoutMs;
    const timeout = new BigInt64Array([BigInt(Math.floor(ms / 1000)), BigInt((ms % 1000) * 1000)]);
    if (setsockopt(fd, 1, 20, timeout, 16) !== 0) {
      parentPort.postMessage({ type: 'fatal', stage: 'setsockopt(SO_RCVTIMEO)', errno: koffi.errno() });
      return;
    }
    const addr = new Uint32Array(3);
    new Uint16Array(addr.buffer)[0] = 16;
    addr[2] = 1;
    if (bind(fd, addr, 12) !== 0) {
      parentPort.postMessage({ type: 'fatal', stage: 'bind', errno: koffi.errno() });
      return;
    }
    parentPort.postMessage({ type: 'ready' });

    const buf = new Uint8Array(workerData.bufferBytes);
    const from = new Uint32Array(3);
    const fromLen = new Uint32Array(1);
    while (Atomics.load(stop, 0) === 0) {
      fromLen[0] = 12;
      const n = Number(recvfrom(fd, buf, buf.length, 0, from, fromLen));
      if (n < 0) {
        const errno = koffi.errno();
        if (errno === 11 || errno === 4) continue;
        if (errno === 105) {
          parentPort.postMessage({ type: 'overrun' });
          continue;
        }
        parentPort.postMessage({ type: 'fatal', stage: 'recvfrom', errno });
        return;
      }
      // Only the kernel (port id 0) is trusted; anyone can unicast to a netlink socket.
      if (fromLen[0] < 12 || from[1] !== 0) {
        parentPort.postMessage({ type: 'foreign', pid: from[1] });
        continue;
      }
      const data = buf.slice(0, n);
      parentPort.postMessage({ type: 'message', data }, [data.buffer]);
    }
  } finally {
    close(fd);
  }
}

run();
`;
