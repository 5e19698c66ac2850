import { existsSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { AppError, isAppError } from '../shared/errors.js';
import { createLogger, silentLogger } from '../shared/logger.js';
import { systemClock } from '../shared/clock.js';
import { parseDuration, parseListen, parseLogLevel } from './cli-args.js';
import { createCollector, DB_FILE } from './collector.js';
import { parseAlertsConfig, type AlertsConfig } from './config.js';
import { createEnrollmentService } from './enrollment/enrollment-service.js';
import { openStore } from './store/store.js';
import { createAuditLog } from './audit/audit-log.js';
import { hashSecret } from './auth/hash-secret.js';
import { hostname as osHostname } from 'node:os';
import { caFingerprintOfPem } from '../shared/ca-fingerprint.js';
import { CA_CERT_FILE, ensureGeneratedTls, pemCertificates, TLS_DIR } from './tls/tls-material.js';

interface CollectorCliOptions {
  data: string;
  listen: string;
  logLevel: string;
  alertsConfig?: string;
  backupDir?: string;
  insecureDev?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsName?: string[];
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Reads `--alerts-config FILE` (JSON: channels, engine, dispatcher). Its content is never logged. */
function readAlertsConfig(file: string): { alerts: AlertsConfig; othersCanRead: boolean } {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(file, 'utf8');
    mode = statSync(file).mode;
  } catch (cause) {
    throw new AppError('CONFIG_ERR_INVALID', `Invalid configuration: cannot read --alerts-config ${file}`, { cause });
  }
  // POSIX permission bits (on Windows they are synthetic and this only errs towards a warning).
  return { alerts: parseAlertsConfig(text), othersCanRead: (mode & 0o077) !== 0 };
}

interface TokenCreateOptions {
  data: string;
  ttl?: string;
  department?: string;
  seatPattern?: string;
  collectorUrl?: string;
  tlsCa?: string;
}

/**
 * The fingerprint agents should pin for the collector on `dataDir`: --tls-ca when the collector
 * serves a configured certificate, else DATA/tls/ca.pem (created now when the collector has not
 * run yet; the collector reuses it).
 */
async function pinnedFingerprint(dataDir: string, tlsCa: string | undefined): Promise<string> {
  if (tlsCa) {
    const pem = pemCertificates(readFileSync(tlsCa, 'utf8'))[0];
    if (!pem) throw new AppError('CLI_ERR_USAGE', `--tls-ca ${tlsCa} holds no PEM certificate`);
    return caFingerprintOfPem(pem);
  }
  const caFile = join(dataDir, TLS_DIR, CA_CERT_FILE);
  if (existsSync(caFile)) return caFingerprintOfPem(readFileSync(caFile, 'utf8'));
  return (await ensureGeneratedTls({ dataDir })).caFingerprint;
}

function failUsage(cmd: Command, err: unknown): never {
  const code = isAppError(err) ? err.code : 'CLI_ERR_USAGE';
  const message = err instanceof Error ? err.message : String(err);
  return cmd.error(`${code}: ${message}`, { exitCode: 2, code });
}

/**
 * `seatguard collector --data DIR --listen HOST:PORT [--log-level L] [--alerts-config FILE]`: runs the collector until
 * SIGTERM/SIGINT, then stops gracefully (pending batch committed and acked, sockets closed 4503).
 */
export function registerCollectorCommand(program: Command): Command {
  return program
    .command('collector')
    .description('run the central collector (agent gateway, API)')
    .requiredOption('--data <dir>', 'data directory (database, api-token file)')
    .option('--listen <host:port>', 'listen address', '127.0.0.1:8443')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', 'info')
    .option('--alerts-config <file>', 'JSON file with alert channels and engine settings (holds secrets: keep it 0600)')
    .option('--backup-dir <dir>', 'take an online backup into DIR every 24 h, keeping the newest 14 (docs/operations.md)')
    .option('--tls-cert <file>', 'serve this PEM certificate chain (leaf first) instead of the one generated in DATA/tls')
    .option('--tls-key <file>', 'private key of --tls-cert (PEM)')
    .option('--tls-ca <file>', 'the CA agents pin (PEM); default the top certificate of --tls-cert')
    .option('--tls-name <name>', 'extra DNS name or IP address for the generated server certificate (repeatable)', collect)
    .option('--insecure-dev', 'serve plain http/ws: no encryption, no server authentication (development only)')
    .action(async (opts: CollectorCliOptions, cmd: Command) => {
      let listen: { host: string; port: number };
      let level: ReturnType<typeof parseLogLevel>;
      let alertsFile: ReturnType<typeof readAlertsConfig> | undefined;
      try {
        if (opts.insecureDev && (opts.tlsCert || opts.tlsKey || opts.tlsCa || opts.tlsName)) throw new AppError('CLI_ERR_USAGE', '--insecure-dev cannot be combined with --tls-* options');
        if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) throw new AppError('CLI_ERR_USAGE', '--tls-cert and --tls-key go together');
        if (opts.tlsCa && !opts.tlsCert) throw new AppError('CLI_ERR_USAGE', '--tls-ca needs --tls-cert and --tls-key');
        listen = parseListen(opts.listen);
        level = parseLogLevel(opts.logLevel);
        if (opts.alertsConfig !== undefined) alertsFile = readAlertsConfig(opts.alertsConfig);
      } catch (err) {
        failUsage(cmd, err);
      }
      const log = createLogger({ level, name: 'seatguard-collector' });
      if (alertsFile?.othersCanRead) log.warn({ file: opts.alertsConfig }, 'alerts config file is readable by other users; it holds channel secrets');
      process.on('uncaughtException', (err) => {
        log.fatal({ err }, 'uncaught exception');
        process.exit(1);
      });
      process.on('unhandledRejection', (err) => {
        log.fatal({ err }, 'unhandled rejection');
        process.exit(1);
      });
      let collector: ReturnType<typeof createCollector>;
      try {
        const tls = {
          ...(opts.tlsCert ? { certFile: opts.tlsCert } : {}),
          ...(opts.tlsKey ? { keyFile: opts.tlsKey } : {}),
          ...(opts.tlsCa ? { caFile: opts.tlsCa } : {}),
          ...(opts.tlsName ? { names: opts.tlsName } : {}),
        };
        collector = createCollector({
          dataDir: opts.data,
          host: listen.host,
          port: listen.port,
          log,
          insecureDev: opts.insecureDev === true,
          ...(opts.insecureDev ? {} : { tls }),
          ...(alertsFile ? { alerts: alertsFile.alerts } : {}),
          ...(opts.backupDir ? { backup: { dir: opts.backupDir } } : {}),
        });
        const started = await collector.start();
        if (started.caFingerprint) {
          log.info(
            { ca_fingerprint: started.caFingerprint, ca_file: opts.tlsCa ?? (opts.tlsCert ? opts.tlsCert : join(opts.data, TLS_DIR, CA_CERT_FILE)) },
            'agents pin this CA: seatguard agent --ca-fingerprint <ca_fingerprint>; browsers can import ca_file',
          );
        }
      } catch (err) {
        log.fatal({ err }, 'collector failed to start');
        process.exit(1);
      }
      log.info({ api_token_file: collector.apiTokenFile }, 'api token is in this file (readable by the owner only)');
      let signalled = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (signalled) {
          log.warn({ signal }, 'second signal; exiting without graceful stop');
          process.exit(1);
        }
        signalled = true;
        log.info({ signal }, 'shutdown requested');
        collector.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            log.fatal({ err }, 'graceful stop failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
}

/** `seatguard token create --data DIR [--ttl 24h] [--department D] [--seat-pattern GLOB]`: prints a new enrollment token. */
export function registerTokenCommand(program: Command): Command {
  const token = program.command('token').description('enrollment tokens');
  token
    .command('create')
    .description('create a single-use enrollment token and print it')
    .requiredOption('--data <dir>', 'collector data directory')
    .option('--ttl <duration>', 'lifetime, e.g. 30m, 24h, 7d', '24h')
    .option('--department <name>', 'department recorded on the enrolled seat')
    .option('--seat-pattern <glob>', 'seat names allowed to enroll, e.g. CC-LYON-*')
    .option('--collector-url <url>', 'collector URL to put in the printed agent command line', `https://${osHostname()}:8443`)
    .option('--tls-ca <file>', 'the CA the collector was given with --tls-ca (default DATA/tls/ca.pem)')
    .addHelpText('after', '\nThe token alone goes to stdout; the CA fingerprint and a ready-to-paste agent command go to stderr.')
    .action(async (opts: TokenCreateOptions, cmd: Command) => {
      let ttlMs: number;
      try {
        ttlMs = parseDuration(opts.ttl ?? '24h');
      } catch (err) {
        failUsage(cmd, err);
      }
      mkdirSync(opts.data, { recursive: true, mode: 0o700 });
      // Goes through the database directly (WAL + busy_timeout), so it works beside a running collector.
      const store = openStore(join(opts.data, DB_FILE));
      try {
        const service = createEnrollmentService({ store, clock: systemClock, log: silentLogger() });
        const audit = createAuditLog(store.db, { clock: systemClock, log: silentLogger() });
        // The token and its audit record are written together, or neither is.
        const value = store.transaction(() => {
          const t = service.createToken({
            ttlMs,
            ...(opts.department === undefined ? {} : { department: opts.department }),
            ...(opts.seatPattern === undefined ? {} : { seatPattern: opts.seatPattern }),
          });
          audit.append({
            actor: 'system',
            action: 'token.enrollment_create',
            targetType: 'enrollment_token',
            targetId: hashSecret(t).slice(0, 16),
            detail: { via: 'cli', ttl_ms: ttlMs, department: opts.department ?? null },
          });
          return t;
        });
        process.stdout.write(`${value}\n`);
        const url = (opts.collectorUrl ?? `https://${osHostname()}:8443`).replace(/\/+$/, '');
        if (url.startsWith('http://')) {
          process.stderr.write(`\nOn the seat (insecure-dev, unencrypted):\n  SEATGUARD_ENROLL_TOKEN=${value} seatguard agent --collector ${url} --insecure-dev --state /var/lib/seatguard-agent\n`);
        } else {
          const fp = await pinnedFingerprint(opts.data, opts.tlsCa);
          process.stderr.write(
            `\nCollector CA fingerprint: ${fp}\nOn the seat:\n  SEATGUARD_ENROLL_TOKEN=${value} seatguard agent --collector ${url} --ca-fingerprint ${fp} --state /var/lib/seatguard-agent\n`,
          );
        }
      } catch (err) {
        failUsage(cmd, err);
      } finally {
        store.close();
      }
    });
  return token;
}

// Lets `node dist/collector/main.js collector ...` run before scripts/seatguard.ts exists.
function isEntryPoint(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(argv1)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const program = new Command('seatguard');
  registerCollectorCommand(program);
  registerTokenCommand(program);
  program.parseAsync(process.argv).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
