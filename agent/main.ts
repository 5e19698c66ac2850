import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { systemClock } from '../shared/clock.js';
import { sanitizeText } from '../shared/domain/sanitize.js';
import { isAppError, type ErrorCode } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/logger.js';
import { createAgent, type Agent, type AgentExtension, type StoppingFields } from './agent.js';
import { AGENT_DEFAULTS, AGENT_VERSION, IPC_SOCKET_FILE, ipcSocketPath, loadAgentConfig, type AgentConfig } from './config.js';
import { createAgentUnlock, type AgentUnlock } from './grants/agent-unlock.js';
import { ensureIdentity, ensureStateDir, loadIdentity, type AgentIdentity } from './identity.js';
import { createIpcServer, type IpcServer } from './ipc/ipc-server.js';
import { runRequestSoftware, runRequestUnlock, runUnlockCode, SEAT_EXIT, type SeatCliIo } from './ipc/seat-cli.js';
import { isFakePlatform, selectPlatform } from './platform/index.js';
import { createOutbox, type Outbox } from './store/outbox.js';
import { backoffDelay } from './transport/backoff.js';
import { establishCollectorCa, readPinnedCa, type PinnedCa } from './transport/ca-pin.js';
import { createCollectorClient } from './transport/collector-client.js';
import { createSensorHost, type SensorHost } from './sensors/sensor-host.js';
import { createSensorPlatform } from './sensors/sensor-platform.js';
import { registerSelfProtectCommands } from './selfprotect/cli.js';
import { AUTHORIZED_STOP_EXIT } from './selfprotect/install.js';
import { createSelfProtect, systemIsStopping, type SelfProtect } from './selfprotect/selfprotect.js';

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
  caFingerprint?: string;
  insecureDev?: boolean;
}

/** Environment variables read by `seatguard agent` (CLI flags win). */
export const AGENT_ENV = {
  collectorUrl: 'SEATGUARD_COLLECTOR_URL',
  stateDir: 'SEATGUARD_STATE_DIR',
  // A token in the environment stays out of `ps` output, unlike a flag.
  enrollToken: 'SEATGUARD_ENROLL_TOKEN',
  caFingerprint: 'SEATGUARD_CA_FINGERPRINT',
} as const;

/** Codes after which retrying cannot help: the operator must act. */
const FATAL_ENROLL_CODES: ReadonlySet<ErrorCode> = new Set(['ENROLL_ERR_TOKEN', 'ENROLL_ERR_SEAT_NAME', 'AGENT_ERR_IDENTITY', 'AGENT_ERR_CA_PIN', 'CONFIG_ERR_INVALID']);

/**
 * `seatguard agent --collector URL --state DIR [...]`: enforces the USB policy on this seat and
 * reports to the collector. The first start enrolls with --enroll-token; later starts reuse the
 * identity in the state dir. SIGTERM/SIGINT stop it gracefully; USB stays blocked after exit.
 */
export function registerAgentCommand(program: Command): Command {
  const agentCmd = program
    .command('agent')
    .description('run the endpoint agent: keep USB mass storage blocked and report to the collector')
    .option('--collector <url>', `collector base URL, e.g. https://10.0.0.5:8443 (env ${AGENT_ENV.collectorUrl})`)
    .option('--ca-fingerprint <sha256>', `collector CA fingerprint printed by the collector / token command; needed on the first start (env ${AGENT_ENV.caFingerprint})`)
    .option('--insecure-dev', 'allow a plain http:// collector: no encryption, no server authentication (development only)')
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
  First start on a seat (pins the collector CA, enrolls, then runs):
    ${AGENT_ENV.enrollToken}=sgt_... seatguard agent --collector https://collector:8443 \\
      --ca-fingerprint sha256:... --state /var/lib/seatguard
  Later starts (the CA pinned in the state dir is used):
    seatguard agent --collector https://collector:8443 --state /var/lib/seatguard
  Development without USB hardware:
    seatguard agent --collector https://127.0.0.1:8443 --ca-fingerprint sha256:... --state ./.data/agent --platform fake

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
          caFingerprint: opts.caFingerprint ?? process.env[AGENT_ENV.caFingerprint] ?? undefined,
          insecureDev: opts.insecureDev,
        });
      } catch (err) {
        const code = isAppError(err) ? err.code : 'CLI_ERR_USAGE';
        cmd.error(`${code}: ${err instanceof Error ? err.message : String(err)}`, { exitCode: 2, code });
      }
      await runAgent(config);
    });
  registerSeatCommands(agentCmd);
  registerSelfProtectCommands(agentCmd);
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

/** A seat command: it finds the running agent's socket through these two options (seatSocket). */
function seatCommand(agentCmd: Command, name: string, description: string): Command {
  return agentCmd
    .command(name)
    .description(description)
    .option('--state <dir>', `the agent's state directory (env ${AGENT_ENV.stateDir})`)
    .option('--ipc-socket <path>', `the agent's local socket (default STATE/${IPC_SOCKET_FILE})`);
}

/**
 * `seatguard agent request-unlock` and `seatguard agent unlock-code`: the seat user's commands,
 * answered by the running agent over its local socket (agent/ipc).
 */
function registerSeatCommands(agentCmd: Command): void {
  seatCommand(agentCmd, 'request-unlock', 'ask for a temporary unlock of a blocked USB storage device on this seat')
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

  seatCommand(agentCmd, 'request-software', 'ask for approval to install a software package on this seat (docs/software-requests.md)')
    .requiredOption('--package <name>', 'the exact package name, e.g. libreoffice-calc')
    // Not --version: the root program's --version is recognised anywhere on the command line.
    .option('--versions <range>', 'a version range, e.g. ">= 7.4" (default: any version)')
    .requiredOption('--reason <text>', 'the work reason')
    .addHelpText('after', '\nExample:\n  seatguard agent request-software --state /var/lib/seatguard --package libreoffice-calc --reason "monthly statistics"')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<SeatCommandOptions & { package?: string; versions?: string }>();
      process.exitCode = await runRequestSoftware(
        {
          socketPath: seatSocket(opts, cmd),
          ...(opts.package === undefined ? {} : { package: opts.package }),
          ...(opts.versions === undefined ? {} : { version: opts.versions }),
          ...(opts.reason === undefined ? {} : { reason: opts.reason }),
        },
        stdio,
      );
    });

  seatCommand(agentCmd, 'unlock-code', 'enter the offline unlock code the IT maintainer read out for a pending challenge')
    .argument('<code>', 'the code, e.g. 01TV-7Q2M-…')
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
  let selfProtect: SelfProtect | null = null;
  // Set by a maintenance request; the signal path and the authorized path share one shutdown.
  let shutdown: ((signal: string, fields: StoppingFields, exitCode: number) => void) | null = null;
  let seatSecret: { agentId: string; secret: Buffer } | null = null;
  try {
    ensureStateDir(config.stateDir);
    identity = loadIdentity(config.stateDir);
    if (!identity && !config.enrollToken) {
      log.fatal({ state_dir: config.stateDir }, 'not enrolled yet: pass --enroll-token (or set SEATGUARD_ENROLL_TOKEN) on the first start');
      process.exit(2);
    }
    if (config.collectorUrl.startsWith('https:') && !config.caFingerprint && !readPinnedCa(config.stateDir)) {
      log.fatal({ state_dir: config.stateDir }, `no collector CA pinned yet: pass --ca-fingerprint (or set ${AGENT_ENV.caFingerprint}) on the first start`);
      process.exit(2);
    }
    if (config.insecureDev) log.warn({ insecure_dev: true }, 'insecure-dev: agent traffic is unencrypted and the collector is not authenticated');
    const platform = selectPlatform(config.platform, { sysfsRoot: config.sysfsRoot, log });
    platformName = platform.name;
    // Loaded only for this test mode: its script schema is compiled at load, which a seat never needs.
    if (config.fakeStdin && isFakePlatform(platform)) (await import('./platform/fake/fake-script.js')).attachFakeScript(platform.usb, process.stdin, log);
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
    if (identity?.offlineSecret) seatSecret = { agentId: identity.agentId, secret: identity.offlineSecret };
    const sp = createSelfProtect({
      stateDir: config.stateDir,
      secret: () => seatSecret,
      emit: (type, body) => void box.append(type, body),
      log,
      nowMs: () => systemClock.now(),
      ...(process.env.SEATGUARD_INTEGRITY_INTERVAL_MS ? { intervalMs: Math.max(1_000, Number(process.env.SEATGUARD_INTEGRITY_INTERVAL_MS) || 0) } : {}),
      onAuthorizedStop: ({ purpose, codeId }) =>
        shutdown?.(`maintenance ${purpose}`, { authorized: true, code_id: codeId, purpose }, AUTHORIZED_STOP_EXIT),
    });
    selfProtect = sp;
    // The code hash rides on agent.started, which the lock records once the controllers are locked:
    // hashing there (90–350 ms for the whole tree) keeps it off the path to the closed gate.
    // Findings are reported after agent.started.
    let integrity: ReturnType<typeof sp.startIntegrity> | undefined;
    const integrityAtStart = () => (integrity ??= sp.startIntegrity());
    const sensorExtension: AgentExtension = { start: () => (void host.start(), Promise.resolve()), stop: () => host.stop() };
    agent = createAgent({
      platform,
      outbox,
      log,
      clock: systemClock,
      config,
      policy: unlock.policy,
      extensions: [unlock, sensorExtension],
      startedFields: () => {
        const i = integrityAtStart();
        return { ...(i.codeSha256 ? { code_sha256: i.codeSha256 } : {}), ...(i.rebaselinedBy ? { rebaselined_by: i.rebaselinedBy } : {}) };
      },
    });
    // Enforcement first: the seat is locked whether or not the collector is reachable.
    await agent.start();
    integrityAtStart();
    sp.afterStart();
  } catch (err) {
    log.fatal({ err }, 'agent failed to start');
    process.exit(isAppError(err) && err.code === 'CONFIG_ERR_INVALID' ? 2 : 1);
  }

  // The seat CLI is a convenience: a socket that cannot open leaves enforcement untouched.
  const seatUnlock = unlock;
  const socketPath = ipcSocketPath(config);
  const sp = selfProtect;
  const server = createIpcServer({
    socketPath,
    handle: (req) => (req.op === 'maintenance' && sp ? sp.handle(req) : seatUnlock.handleSeatRequest(req)),
    log,
    monotonicMs: () => systemClock.monotonic(),
  });
  try {
    await server.start();
    ipc = server;
  } catch (err) {
    log.error({ err, socket: socketPath }, 'seat request socket unavailable; request-unlock and unlock-code will not work');
  }

  let stopping = false;
  const stopWith = (why: string, fields: StoppingFields, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    log.info({ why, authorized: fields.authorized === true }, 'shutdown requested');
    selfProtect?.stop();
    Promise.resolve(ipc?.stop())
      .then(() => agent.stop(why, fields))
      .then(
      () => {
        seatUnlock.close();
        outbox.close();
        process.exit(exitCode);
      },
      (err: unknown) => {
        log.fatal({ err }, 'graceful stop failed');
        process.exit(1);
      },
    );
  };
  shutdown = stopWith;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal; exiting now (USB stays blocked)');
      process.exit(1);
    }
    // A signal carries no maintenance code: reported as unauthorized unless the whole system is going down.
    const systemShutdown = platformName === 'linux' && systemIsStopping();
    stopWith(`signal ${signal}`, { authorized: false, ...(systemShutdown ? { system_shutdown: true } : {}) }, 0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const hostname = sanitizeText(osHostname(), 253) || 'unknown-host';
  const ca = config.collectorUrl.startsWith('https:') ? await pinWithRetry(config, identity?.caFingerprint ?? null, log, () => stopping) : null;
  if (stopping || (config.collectorUrl.startsWith('https:') && !ca)) return;
  const id = await enrollWithRetry(config, hostname, platformName, ca, log, () => stopping);
  if (!id || stopping) return;
  agent.connect(
    createCollectorClient({
      collectorUrl: config.collectorUrl,
      ca,
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
  if (id.offlineSecret) seatSecret = { agentId: id.agentId, secret: id.offlineSecret };
}

/**
 * The collector CA to trust: pinned in the state dir, or fetched and checked against
 * --ca-fingerprint. Network failures are retried; a fingerprint mismatch ends the process (exit 2)
 * before anything (token, key) was sent.
 */
async function pinWithRetry(config: Readonly<AgentConfig>, recorded: string | null, log: Logger, stopping: () => boolean): Promise<PinnedCa | null> {
  for (let attempt = 0; !stopping(); attempt++) {
    try {
      return await establishCollectorCa({ collectorUrl: config.collectorUrl, stateDir: config.stateDir, pin: config.caFingerprint, recorded, log });
    } catch (err) {
      if (isAppError(err) && FATAL_ENROLL_CODES.has(err.code)) {
        log.fatal({ err, code: err.code }, 'collector CA refused; USB stays blocked, check --ca-fingerprint and restart');
        process.exit(2);
      }
      const delay = backoffDelay(attempt, config.backoffBaseMs, config.backoffCapMs);
      log[attempt >= 4 ? 'warn' : 'info']({ err, attempt, retry_in_ms: delay }, 'collector CA download failed; retrying');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  return null;
}

/** Enrolls, retrying network failures with backoff; a refused token ends the process (exit 2). */
async function enrollWithRetry(
  config: Readonly<AgentConfig>,
  hostname: string,
  platform: 'linux' | 'windows' | 'fake',
  ca: PinnedCa | null,
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
        ca,
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
