/**
 * V8 flags the agent's node process is started with on a seat: the systemd unit puts them on its
 * ExecStart line (agent/selfprotect/install.ts), and the footprint benchmark starts the agent the
 * same way (test/bench/agent-footprint.ts). They cannot be set from inside the process: V8 sizes the
 * young generation when the isolate is created, and v8.setFlagsFromString afterwards has no effect
 * on it (measured).
 *
 * --max-semi-space-size=1: by default V8 grows each of the two young-generation semi-spaces to
 * 16 MiB when a process allocates fast, which the agent does once, while it loads ~830 modules at
 * start, and keeps them for minutes. Capped at 1 MiB, the agent's peak RSS over its first minute is
 * ~96 MiB instead of ~110 MiB (5 paired runs), and ~82 instead of ~85 MiB once settled; idle CPU
 * was not higher in any pair (docs/benchmarks.md, agent footprint).
 */
export const AGENT_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=1']);
