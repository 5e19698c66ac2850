#!/usr/bin/env node
/**
 * The one `seatguard` CLI. Each area registers its own subcommands; this file only assembles them
 * and hands argv to commander.
 *
 * Subcommands are loaded lazily: `seatguard agent` must not pay for loading fastify, the collector
 * and the simulator at every seat start (on a slow seat that was seconds before the USB gate
 * closed). Only `seatguard --help` (or an unknown command) loads everything.
 */
import { Command } from 'commander';
import { AGENT_VERSION } from '../agent/config.js';

type Loader = (program: Command) => Promise<void>;

const LOADERS: Record<string, Loader> = {
  collector: async (p) => void (await import('../collector/main.js')).registerCollectorCommand(p),
  token: async (p) => void (await import('../collector/main.js')).registerTokenCommand(p),
  agent: async (p) => {
    const agent = (await import('../agent/main.js')).registerAgentCommand(p);
    (await import('../agent/probe.js')).registerProbeCommand(agent);
  },
  rules: async (p) => void (await import('./commands/rules.js')).registerRulesCommand(p),
  simulate: async (p) => void (await import('./commands/simulate.js')).registerSimulateCommand(p),
  demo: async (p) => void (await import('./commands/demo.js')).registerDemoCommand(p),
  user: async (p) => void (await import('./commands/user.js')).registerUserCommand(p),
  unlock: async (p) => void (await import('./commands/unlock.js')).registerUnlockCommand(p),
  software: async (p) => void (await import('./commands/software.js')).registerSoftwareCommand(p),
  'maintenance-code': async (p) => void (await import('./commands/maintenance-code.js')).registerMaintenanceCodeCommand(p),
  audit: async (p) => void (await import('./commands/audit.js')).registerAuditCommand(p),
  backup: async (p) => void (await import('./commands/backup.js')).registerBackupCommand(p),
  restore: async (p) => void (await import('./commands/backup.js')).registerRestoreCommand(p),
};

const program = new Command()
  .name('seatguard')
  .description('USB storage, firmware and software lockdown for call-center seats (agent + collector)')
  .version(AGENT_VERSION)
  .showHelpAfterError();

const wanted = process.argv[2];
const loader = wanted !== undefined ? LOADERS[wanted] : undefined;
if (loader && Object.hasOwn(LOADERS, wanted!)) await loader(program);
else for (const load of Object.values(LOADERS)) await load(program);

await program.parseAsync(process.argv);
