#!/usr/bin/env node
/**
 * Entry of the one-file agent bundle (<build>/scripts/seatguard-agent.js, built by
 * scripts/bundle-agent.ts), which a seat's systemd unit runs: `seatguard agent` and its
 * subcommands, nothing else. Same commands and options as `seatguard agent` through the full CLI
 * (scripts/seatguard.ts), which keeps working from the separate modules.
 *
 * Why a bundle: as ~830 separate ES modules the agent held ~13 MiB more resident memory (module
 * records, per-module sources and top-level code) than the same code as one file; see
 * docs/benchmarks.md "Agent footprint".
 */
import { Command } from 'commander';
import { AGENT_VERSION } from './config.js';
import { registerAgentCommand } from './main.js';
import { registerProbeCommand } from './probe.js';

const program = new Command().name('seatguard').version(AGENT_VERSION).showHelpAfterError();
registerProbeCommand(registerAgentCommand(program));
await program.parseAsync(process.argv);
