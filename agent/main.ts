import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { systemClock } from '../shared/clock.js';
import { sanitizeText } from '../shared/domain/sanitize.js';
import { isAppError, type ErrorCode } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { createAgent, type Agent, type AgentExtension } from './agent.js';
import { AGENT_DEFAULTS, AGENT_VERSION, IPC_SOCKET_FILE, ipcSocketPath, loadAgentConfig, type AgentConfig } from './config.js';
import { createAgentUnlock, type AgentUnlock } from './grants/agent-unlock.js';
import { ensureIdentity, ensureStateDir, loadIdentity, type AgentIdentity } from './identity.js';
import { createIpcServer, type IpcServer } from './ipc/ipc-server.js';
import { runRequestUnlock, runUnlockCode, SEAT_EXIT, type SeatCliIo } from './ipc/seat-cli.js';
import { attachFakeScript } from './platform/fake/fake-script.js';
import { isFakePlatform, selectPlatform } from './platform/index.js';
import { createOutbox, type Outbox } from './store/outbox.js';
import { backoffDelay } from './transport/backoff.js';
import { createCollectorClient } from './transport/collector-client.js';
import { createSensorHost, type SensorHost } from './sensors/sensor-host.js';
import { createSensorPlatform } from './sensors/sensor-platform.js';

interface AgentCliOptions {
  collector?: string;
  state?: string;
  platform?: string;
  enrollToken?: string;
  seatName?: string;
  logLevel?: string;
  sysfsRoot?: string;
  resyncIntervalMs?: string;
  backoffBaseMs?: string;
  backoffCapMs?: string;
  flushTimeoutMs?: string;
  fakeStdin?: boolean;
  ipcSocket?: string;
}

/** Environment variables read by `seatguard agent` (CLI flags win). */
export const AGENT_ENV = {
  collectorUrl: 'SEATGUARD_COLLECTOR_URL',
  stateDir: 'SEATGUARD_STATE_DIR',
  // A token in the environment stays out of `ps` output, unlike a flag.
  enrollToken: 'SEATGUARD_ENROLL_TOKEN',
} as const;

/** Codes after which retrying cannot help: the operator must act. */
const FATAL_ENROLL_CODES: ReadonlySet<ErrorCode> = new Set(['ENROLL_ERR_TOKEN', 'ENROLL_ERR_SEAT_NAME', 'AGENT_ERR_IDENTITY']);

/**
 * `seatguard agent --collector URL --state DIR [...]`: enforces the USB policy on this seat and
 * reports to the collector. The first start enrolls with --enroll-token; later starts reuse the
 * identity in the state dir. SIGTERM/SIGINT stop it gracefully; USB stays blocked after exit.
 */
export function registerAgentCommand(program: Command): Command {
  const agentCmd = program
    .command('agent')
    .description('run the endpoint agent: keep USB mass storage blocked and report to the collector')
    .option('--collector <url>', `collector base URL, e.g. http://10.0.0.5:8443 (env ${AGENT_ENV.collectorUrl})`)
    .option('--state <dir>', `state directory: identity, key and outbox, created 0700 (env ${AGENT_ENV.stateDir})`)
    .addOption(new Option('--platform <name>', 'USB backend').choices(['auto', 'linux', 'fake', 'windows']).default(AGENT_DEFAULTS.platform))
    .option('--enroll-token <token>', `single-use enrollment token, needed on the first start only (prefer env ${AGENT_ENV.enrollToken})`)
    .option('--seat-name <name>', 'seat name to enroll under (default: the host name)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', AGENT_DEFAULTS.logLevel)
    .option('--sysfs-root <dir>', 'sysfs mount point for the linux platform', AGENT_DEFAULTS.sysfsRoot)
    .option('--ipc-socket <path>', `local socket for the seat CLI, mode 0666 (default STATE/${IPC_SOCKET_FILE})`)
    .addOption(new Option('--resync-interval-ms <ms>', 'full USB rescan period (0 = off)').hideHelp())
    .addOption(new Option('--backoff-base-ms <ms>', 'reconnect backoff base').hideHelp())
    .addOption(new Option('--backoff-cap-ms <ms>', 'reconnect backoff cap').hideHelp())
    .addOption(new Option('--flush-timeout-ms <ms>', 'graceful stop: wait this long for the outbox to drain').hideHelp())
    .addOption(new Option('--fake-stdin', 'fake platform: read device commands (JSON lines) from stdin; testing only').hideHelp())
    .addHelpText(
      'after',
      `
Examples:
  First start on a seat (enrolls, then runs):
    ${AGENT_ENV.enrollToken}=sgt_... seatguard agent --collector http://collector:8443 --state /var/lib/seatguard
  Later starts:
    seatguard agent --collector http://collector:8443 --state /var/lib/seatguard
  Development without USB hardware:
    seatguard agent --collector http://127.0.0.1:8443 --state ./.data/agent --platform fake

Security: stopping the agent never unblocks USB storage; controllers stay at
interface_authorized_default=0 until reboot.`,
    )
    .action(async (opts: AgentCliOptions, cmd: Command) => {
      let config: Readonly<AgentConfig>;
      try {
        config = loadAgentConfig({
          collectorUrl: opts.collector ?? process.env[AGENT_ENV.collectorUrl],
          stateDir: opts.state ?? process.env[AGENT_ENV.stateDir],
          platform: opts.platform,
          enrollToken: opts.enrollToken ?? process.env[AGENT_ENV.enrollToken] ?? undefined,
          seatName: opts.seatName,
          logLevel: opts.logLevel,
          sysfsRoot: opts.sysfsRoot,
          resyncIntervalMs: opts.resyncIntervalMs,
          backoffBaseMs: opts.backoffBaseMs,
          backoffCapMs: opts.backoffCapMs,
          flushTimeoutMs: opts.flushTimeoutMs,
          fakeStdin: opts.fakeStdin,
          ipcSocket: opts.ipcSocket,
        });
      } catch (err) {
        const code = isAppError(err) ? err.code : 'CLI_ERR_USAGE';
        cmd.error(`${code}: ${err instanceof Error ? err.message : String(err)}`, { exitCode: 2, code });
      }
      await runAgent(config);
    });
  registerSeatCommands(agentCmd);
  return agentCmd;
}

interface SeatCommandOptions {
  state?: string;
  ipcSocket?: string;
  device?: string;
  list?: boolean;
  offline?: boolean;
  reason?: string;
  duration?: string;
}

const stdio: SeatCliIo = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
};

/** The socket the seat CLI talks to: --ipc-socket, else STATE/agent.sock (--state or the env). */
function seatSocket(opts: SeatCommandOptions, cmd: Command): string {
  if (opts.ipcSocket) return opts.ipcSocket;
  const state = opts.state ?? process.env[AGENT_ENV.stateDir];
  if (!state) cmd.error('CLI_ERR_USAGE: --state DIR (or --ipc-socket PATH) is required', { exitCode: SEAT_EXIT.usage, code: 'CLI_ERR_USAGE' });
  return join(state, IPC_SOCKET_FILE);
}

/**
 * `seatguard agent request-unlock` and `seatguard agent unlock-code`: the seat user's commands,
 * answered by the running agent over its local socket (agent/ipc).
 */
function registerSeatCommands(agentCmd: Command): void {
  agentCmd
    .command('request-unlock')
    .description('ask for a temporary unlock of a blocked USB storage device on this seat')
    .option('--state <dir>', `the agent's state directory (env ${AGENT_ENV.stateDir})`)
    .option('--ipc-socket <path>', `the agent's local socket (default STATE/${IPC_SOCKET_FILE})`)
    .option('--list', 'list the USB storage devices on this seat and their state')
    .option('--device <port>', 'the port of the device, as --list shows it (e.g. 1-2)')
    .option('--reason <text>', 'the work reason (required for a request)')
    .option('--duration <d>', 'how long, e.g. 30m, 2h (the approver may shorten it)', '30m')
    .option('--offline', 'the collector is unreachable: print a challenge to read out to the IT maintainer')
    .addHelpText(
      'after',
      `
Examples:
  seatguard agent request-unlock --state /var/lib/seatguard --list
  seatguard agent request-unlock --state /var/lib/seatguard --device 1-2 --reason "copy the call report" --duration 30m
  seatguard agent request-unlock --state /var/lib/seatguard --device 1-2 --offline

The OS user name sent with the request is a claim of this client, not verified by the agent.`,
    )
    .action(async (_o: SeatCommandOptions, cmd: Command) => {
      const opts = cmd.optsWithGlobals<SeatCommandOptions>();
      const code = await runRequestUnlock(
        {
          socketPath: seatSocket(opts, cmd),
          ...(opts.device === undefined ? {} : { device: opts.device }),
          ...(opts.list === undefined ? {} : { list: opts.list }),
          ...(opts.offline === undefined ? {} : { offline: opts.offline }),
          ...(opts.reason === undefined ? {} : { reason: opts.reason }),
          ...(opts.duration === undefined ? {} : { duration: opts.duration }),
        },
        stdio,
      );
      process.exitCode = code;
    });

  agentCmd
    .command('unlock-code')
    .description('enter the offline unlock code the IT maintainer read out for a pending challenge')
    .argument('<code>', 'the code, e.g. 01TV-7Q2M-…')
    .option('--state <dir>', `the agent's state directory (env ${AGENT_ENV.stateDir})`)
    .option('--ipc-socket <path>', `the agent's local socket (default STATE/${IPC_SOCKET_FILE})`)
    .action(async (code: string, _o: SeatCommandOptions, cmd: Command) => {
      const opts = cmd.optsWithGlobals<SeatCommandOptions>();
      process.exitCode = await runUnlockCode({ socketPath: seatSocket(opts, cmd), code }, stdio);
    });
}

async function runAgent(config: Readonly<AgentConfig>): Promise<void> {
  const log = createLogger({ level: config.logLevel, name: 'seatguard-agent' });
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection');
    process.exit(1);
  });

  let outbox: Outbox;
  let agent: Agent;
  let unlock: AgentUnlock;
  let identity: AgentIdentity | null;
  let platformName: 'linux' | 'windows' | 'fake';
  let ipc: IpcServer | null = null;
  let sensorHost: SensorHost | null = null;
  try {
    ensureStateDir(config.stateDir);
    identity = loadIdentity(config.stateDir);
    if (!identity && !config.enrollToken) {
      log.fatal({ state_dir: config.stateDir }, 'not enrolled yet: pass --enroll-token (or set SEATGUARD_ENROLL_TOKEN) on the first start');
      process.exit(2);
    }
    const platform = selectPlatform(config.platform, { sysfsRoot: config.sysfsRoot, log });
    platformName = platform.name;
    if (config.fakeStdin && isFakePlatform(platform)) attachFakeScript(platform.usb, process.stdin, log);
    outbox = createOutbox({ path: join(config.stateDir, 'outbox.db') });
    const box = outbox;
    unlock = createAgentUnlock({ stateDir: config.stateDir, platform: platform.usb, emit: (type, body) => void box.append(type, body), clock: systemClock, log });
    if (identity?.offlineSecret) unlock.setOfflineSecret({ agentId: identity.agentId, secret: identity.offlineSecret });
    // Compliance sensors (firmware, software, processes, network). Not awaited: the first full scans
    // must not delay USB enforcement or the collector link.
    const host = createSensorHost({
      sensors: createSensorPlatform({ platform: platform.name, log }),
      emit: (type, body) => void box.append(type, body),
      log,
      clock: systemClock,
      stateDir: config.stateDir,
    });
    sensorHost = host;
    const sensorExtension: AgentExtension = { start: () => (void host.start(), Promise.resolve()), stop: () => host.stop() };
    agent = createAgent({ platform, outbox, log, clock: systemClock, config, policy: unlock.policy, extensions: [unlock, sensorExtension] });
    // Enforcement first: the seat is locked whether or not the collector is reachable.
    await agent.start();
  } catch (err) {
    log.fatal({ err }, 'agent failed to start');
    process.exit(isAppError(err) && err.code === 'CONFIG_ERR_INVALID' ? 2 : 1);
  }

  // The seat CLI is a convenience: a socket that cannot open leaves enforcement untouched.
  const seatUnlock = unlock;
  const socketPath = ipcSocketPath(config);
  const server = createIpcServer({ socketPath, handle: (req) => seatUnlock.handleSeatRequest(req), log, monotonicMs: () => systemClock.monotonic() });
  try {
    await server.start();
    ipc = server;
  } catch (err) {
    log.error({ err, socket: socketPath }, 'seat request socket unavailable; request-unlock and unlock-code will not work');
  }

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal; exiting now (USB stays blocked)');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutdown requested');
    Promise.resolve(ipc?.stop())
      .then(() => agent.stop(`signal ${signal}`))
      .then(
      () => {
        seatUnlock.close();
        outbox.close();
        process.exit(0);
      },
      (err: unknown) => {
        log.fatal({ err }, 'graceful stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const hostname = sanitizeText(osHostname(), 253) || 'unknown-host';
  const id = identity ?? (await enrollWithRetry(config, hostname, platformName, log, () => stopping));
  if (!id || stopping) return;
  agent.connect(
    createCollectorClient({
      collectorUrl: config.collectorUrl,
      identity: id,
      outbox,
      log,
      clock: systemClock,
      hello: { agent_version: AGENT_VERSION, platform: platformName, hostname },
      lockState: () => agent.lockState(),
      uptimeS: () => Math.floor(process.uptime()),
      backoffBaseMs: config.backoffBaseMs,
      backoffCapMs: config.backoffCapMs,
      sendWindow: config.sendWindow,
      onMessage: (msg) => {
        if (msg.type === 'sensor.config') void sensorHost?.applyConfig(msg.body);
        else seatUnlock.onCollectorMessage(msg);
      },
    }),
  );
  if (id.offlineSecret) seatUnlock.setOfflineSecret({ agentId: id.agentId, secret: id.offlineSecret });
}

/** Enrolls, retrying network failures with backoff; a refused token ends the process (exit 2). */
async function enrollWithRetry(
  config: Readonly<AgentConfig>,
  hostname: string,
  platform: 'linux' | 'windows' | 'fake',
  log: Logger,
  stopping: () => boolean,
): Promise<AgentIdentity | null> {
  for (let attempt = 0; !stopping(); attempt++) {
    try {
      return await ensureIdentity({
        stateDir: config.stateDir,
        collectorUrl: config.collectorUrl,
        enrollToken: config.enrollToken,
        hostname,
        platform,
        seatName: config.seatName,
        log,
      });
    } catch (err) {
      if (isAppError(err) && FATAL_ENROLL_CODES.has(err.code)) {
        log.fatal({ err }, 'enrollment refused; USB stays blocked, fix the token or seat name and restart');
        process.exit(2);
      }
      const delay = backoffDelay(attempt, config.backoffBaseMs, config.backoffCapMs);
      log[attempt >= 4 ? 'warn' : 'info']({ err, attempt, retry_in_ms: delay }, 'enrollment failed; retrying');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  return null;
}
