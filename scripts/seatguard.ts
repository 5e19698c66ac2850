#!/usr/bin/env node
/**
 * The one `seatguard` CLI. Each area registers its own subcommands; this file only assembles them
 * and hands argv to commander.
 */
import { Command } from 'commander';
import { registerAgentCommand } from '../agent/main.js';
import { registerProbeCommand } from '../agent/probe.js';
import { registerCollectorCommand, registerTokenCommand } from '../collector/main.js';
import { registerRulesCommand } from './commands/rules.js';
import { AGENT_VERSION } from '../agent/config.js';

const program = new Command()
  .name('seatguard')
  .description('USB storage, firmware and software lockdown for call-center seats (agent + collector)')
  .version(AGENT_VERSION)
  .showHelpAfterError();

registerCollectorCommand(program);
registerTokenCommand(program);
const agent = registerAgentCommand(program);
registerProbeCommand(agent);
registerRulesCommand(program);

await program.parseAsync(process.argv);
