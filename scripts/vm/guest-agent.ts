import type { GuestShell } from './command-channel.js';
import { shq } from './shell-quote.js';
import { waitUntil } from './wait.js';

/** How to start `seatguard agent` inside the guest. */
export interface GuestAgentOptions {
  /** The seatguard CLI script on the host; the same path inside `chroot /host`. */
  cliPath: string;
  /** Host node binary (same path inside the chroot). */
  nodePath: string;
  /** Collector URL as the guest sees it (https://10.0.2.2:PORT). */
  collectorUrl: string;
  /** Agent state directory inside the chroot; must be writable (the /run tmpfs). */
  stateDir: string;
  enrollToken: string;
  /** The collector CA fingerprint the agent pins on its first start (https collectors). */
  caFingerprint?: string | null;
  /** More CLI arguments, appended as given. */
  extraArgs?: string[];
}

/** The seatguard agent running inside the guest under `chroot /host`. */
export interface GuestAgent {
  pid: number;
  /** performance.now() on the host when the start command returned. */
  startedAt: number;
  isAlive(): Promise<boolean>;
  kill(signal: 'KILL' | 'TERM'): Promise<void>;
  /** The agent's stdout+stderr so far (guest file). */
  log(): Promise<string>;
}

/** Guest-side path of the agent's log (outside the chroot, on the guest's /tmp). */
const LOG_DIR = '/tmp';
let runs = 0;

/**
 * Starts `seatguard agent` inside the guest, detached from the command channel (setsid), with the
 * host's node and node_modules seen through the read-only 9p root.
 */
export async function startGuestAgent(shell: GuestShell, opts: GuestAgentOptions): Promise<GuestAgent> {
  const logFile = `${LOG_DIR}/seatguard-agent-${++runs}.log`;
  const cli = opts.cliPath;
  const args = [
    'agent',
    '--platform', 'linux',
    '--collector', opts.collectorUrl,
    '--state', opts.stateDir,
    '--enroll-token', opts.enrollToken,
    ...(opts.caFingerprint ? ['--ca-fingerprint', opts.caFingerprint] : []),
    ...(opts.extraArgs ?? []),
  ];
  const cmd = [
    `mkdir -p /host${shq(opts.stateDir)} /host/run/tmp`,
    // setsid does not fork here (a background job is no group leader), chroot and env exec, so $! is node's pid.
    `setsid chroot /host /usr/bin/env HOME=/run TMPDIR=/run/tmp ${shq(opts.nodePath)} ${shq(cli)} ${args.map(shq).join(' ')} </dev/null >${logFile} 2>&1 &`,
    'echo $!',
  ].join('\n');
  const out = await shell.check(cmd, { timeoutMs: 15_000 });
  const pid = Number(out.trim().split('\n').pop());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`agent start printed no pid: ${JSON.stringify(out)}`);
  const startedAt = performance.now();
  const isAlive = async () => {
    // A zombie (state Z) counts as dead: init reaps late. The cmdline check guards against pid
    // reuse: the in-guest sampler spawns enough processes for pids to wrap around during a run.
    const r = await shell.run(`[ -d /proc/${pid} ] && grep -q seatguard /proc/${pid}/cmdline && ! grep -q '^State:.*Z' /proc/${pid}/status`, { timeoutMs: 10_000 });
    return r.code === 0;
  };
  return {
    pid,
    startedAt,
    isAlive,
    async kill(signal) {
      await shell.run(`kill -${signal} ${pid}`, { timeoutMs: 10_000 });
      await waitUntil(async () => !(await isAlive()), { timeoutMs: 20_000, intervalMs: 100, what: `agent pid ${pid} to exit` });
    },
    log: () => shell.check(`cat ${logFile}`, { timeoutMs: 20_000 }),
  };
}

/**
 * Loads the seatguard CLI once inside the guest (`agent --help`), so later agent starts read node
 * modules from the guest page cache instead of 9p. Returns the host milliseconds it took.
 */
export async function warmGuestCli(shell: GuestShell, opts: { cliPath: string; nodePath: string }): Promise<number> {
  const t0 = performance.now();
  await shell.check(`chroot /host ${shq(opts.nodePath)} ${shq(opts.cliPath)} agent --help >/dev/null`, { timeoutMs: 180_000 });
  return performance.now() - t0;
}
