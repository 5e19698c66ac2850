import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { createLogger } from '../../shared/logger.js';
import { createCollector } from '../../collector/collector.js';
import { parseListen } from '../../collector/cli-args.js';
import { runSimulatedFleet, type SimulatedFleet } from './simulate.js';

interface DemoOptions {
  data: string;
  listen: string;
  seats: string;
  logLevel: string;
  insecureDev?: boolean;
}

/**
 * `seatguard demo`: what `npm start` runs. A collector on the embedded SQLite default plus a small
 * simulated fleet on the fake platform, both in this process, with state kept under --data so a
 * restart continues where it stopped.
 */
export function registerDemoCommand(program: Command): Command {
  return program
    .command('demo')
    .description('run a collector with a simulated fleet (what `npm start` runs)')
    .option('--data <dir>', 'data directory (collector database, seat identities)', '.data/demo')
    .option('--listen <host:port>', 'listen address (loopback)', '127.0.0.1:8443')
    .option('--seats <n>', 'number of simulated seats', '12')
    .option('--log-level <level>', 'collector log level', 'warn')
    .option('--insecure-dev', 'plain http/ws instead of HTTPS/WSS (development only)')
    .action(async (opts: DemoOptions) => {
      const dataDir = resolve(opts.data);
      const listen = parseListen(opts.listen);
      const seats = Math.max(1, Math.min(200, Number.parseInt(opts.seats, 10) || 12));
      mkdirSync(join(dataDir, 'collector'), { recursive: true, mode: 0o700 });
      const log = createLogger({ level: opts.logLevel as 'warn', name: 'seatguard-demo' });
      const collector = createCollector({ dataDir: join(dataDir, 'collector'), host: listen.host, port: listen.port, log, insecureDev: opts.insecureDev === true });
      const { url, caFingerprint } = await collector.start();
      const caFile = join(dataDir, 'collector', 'tls', 'ca.pem');
      const tls = collector.tls;
      const credentials = await ensureDemoUsers(collector.users, join(dataDir, 'demo-credentials.txt'));

      let fleet: SimulatedFleet | null = null;
      fleet = await runSimulatedFleet({
        collectorUrl: url,
        // The simulated seats trust the CA straight from the local data dir (same machine).
        ca: tls && { pem: tls.caPem, fingerprint: tls.caFingerprint },
        seats,
        durationS: 0,
        stateDir: join(dataDir, 'seats'),
        enrollTokens: () => collector.createEnrollmentToken({ ttlMs: 10 * 60_000, department: 'demo' }),
        meanActionIntervalMs: 8_000,
        log: log.child({ component: 'simulate' }),
      });

      const lines = [
        '',
        'seatguard demo is running',
        `  console / API : ${url}/`,
        ...(caFingerprint
          ? [
              `  TLS CA        : ${caFile}`,
              `                  fingerprint ${caFingerprint}`,
              '                  the browser warns about this private CA: import ca.pem as a trusted authority,',
              '                  or compare the fingerprint in the certificate viewer before you continue',
            ]
          : ['  TLS           : OFF (--insecure-dev): traffic and console sessions are unencrypted']),
        `  health        : ${url}/api/health`,
        '  demo users    : (password beside each; also in ' + join(dataDir, 'demo-credentials.txt') + ')',
        ...credentials.map((c) => `                  ${c}`),
        `  API token     : ${collector.apiTokenFile}  (curl ${caFingerprint ? `--cacert ${caFile} ` : ''}-H "Authorization: Bearer $(cat ${collector.apiTokenFile})" ${url}/api/v1/seats)`,
        `  seats         : ${seats} simulated seats (fake platform), state in ${join(dataDir, 'seats')}`,
        `  data          : ${dataDir}  (rm -rf it to start over)`,
        '  stop          : Ctrl-C',
        '',
      ];
      process.stdout.write(lines.join('\n'));

      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        await fleet?.stop();
        await collector.stop();
        process.exitCode = 0;
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });
}

const DEMO_USERS = [
  { username: 'admin', roles: ['admin'], note: '系统管理员 users, policy' },
  { username: 'maint1', roles: ['maintainer'], note: '电脑维护人员 approve/execute unlocks' },
  { username: 'maint2', roles: ['maintainer'], note: '电脑维护人员 (a second person: no self-approval)' },
  { username: 'duty', roles: ['duty'], note: '值班人员 alerts, handover' },
  { username: 'officer', roles: ['officer'], note: '安全管理员 read all, export' },
  { username: 'auditor', roles: ['auditor'], note: '安全审计员 read-only incl. audit trail' },
] as const;

/**
 * Creates the demo accounts once, with random passwords kept in a 0600 file under the demo data
 * dir (demo only: a real site creates users with `seatguard user add`).
 */
async function ensureDemoUsers(users: { create: (i: { username: string; password: string; roles: readonly string[]; departments: '*' }, actor: string) => Promise<unknown>; getByUsername: (u: string) => unknown }, file: string): Promise<string[]> {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim().split('\n');
  const lines: string[] = [];
  for (const u of DEMO_USERS) {
    const password = randomBytes(9).toString('base64url');
    if (users.getByUsername(u.username)) {
      lines.push(`${u.username.padEnd(8)} (exists; password unchanged)  ${u.note}`);
      continue;
    }
    await users.create({ username: u.username, password, roles: u.roles, departments: '*' }, 'system');
    lines.push(`${u.username.padEnd(8)} ${password}  ${u.note}`);
  }
  writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  return lines;
}
