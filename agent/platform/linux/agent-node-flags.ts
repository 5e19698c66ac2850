/**
 * V8 flags the agent's node process is started with on a seat: the systemd unit puts them on its
 * ExecStart line (agent/selfprotect/install.ts), and the footprint benchmark starts the agent the
 * same way (test/bench/agent-footprint.ts). They cannot be set from inside the process: V8 sizes the
 * young generation and picks its tiers when the isolate is created, and v8.setFlagsFromString
 * afterwards has no effect on either (measured for the young generation).
 *
 * --max-semi-space-size=1: by default V8 grows each of the two young-generation semi-spaces to
 * 16 MiB when a process allocates fast, which the agent does once, at start, and keeps them for
 * minutes. Capped at 1 MiB, the agent's peak RSS over its first minute was ~96 MiB instead of
 * ~110 MiB (5 paired runs), ~82 instead of ~85 MiB once settled; idle CPU not higher in any pair.
 *
 * --lite-mode: V8 without its optimizing tiers (it implies --jitless) and with feedback vectors
 * allocated lazily. The agent spends its life waiting; its hot paths are a 10 s /proc scan and a
 * few frames a minute, which the interpreter runs at about the same CPU (docs/benchmarks.md,
 * "Agent footprint"), while the compilers' code pages in the node binary and their heap are never
 * touched: −8 to −16 MiB RSS in paired runs of the bundled agent, all of it the binary's text pages
 * and V8 heap. Cost: WebAssembly does not exist under --jitless, so node's built-in `fetch`
 * (undici's wasm parser) throws. The agent uses node:http/https; test/unit/agent/
 * lite-mode-compat.test.ts keeps fetch and WebAssembly out of the agent's code.
 */
export const AGENT_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=1', '--lite-mode']);

/**
 * glibc malloc settings in the agent's environment: the systemd unit sets them with Environment=
 * lines (agent/selfprotect/install.ts) and the footprint benchmark starts the agent with them. glibc
 * reads them once, before node's first allocation, so like the V8 flags they cannot be set from
 * inside the process. Outside V8's own pages the agent's anonymous memory is glibc's heap (OpenSSL,
 * SQLite, libuv, V8's malloc'd side tables): 4.3 MiB of the agent's ~14 MiB anonymous (smaps, [heap]).
 *
 * MALLOC_ARENA_MAX=1: every thread that mallocs (V8's GC workers, libuv's pool, SQLite) otherwise
 * gets its own arena, each keeping its own free pages. The agent allocates little and rarely, so
 * one lock-shared arena costs no measurable CPU.
 * MALLOC_TOP_PAD_=0, MALLOC_TRIM_THRESHOLD_=65536: by default glibc pads each heap growth by 128 KiB
 * and keeps at least 128 KiB free at the top of the heap before giving it back (more once its
 * dynamic mmap threshold has risen); the agent's start-up burst (enrolment, first scans) leaves that
 * behind for its whole idle life.
 * MALLOC_MMAP_THRESHOLD_=65536: blocks of 64 KiB and up get their own mapping, returned on free,
 * instead of leaving holes in the heap; setting it also stops glibc raising the threshold (and the
 * trim threshold with it) after the first large frees.
 *
 * Measured together, in paired runs of the bundled agent (all variants at once against one collector,
 * the bench's 10 s warm-up, then a 30 s window): peak 55.9–56.5 MiB against 57.3–58.5 for the same
 * unit without them in the same runs (−1.2 to −1.7), anonymous 13.5–14.2 against 14.9–16.0 MiB,
 * idle CPU 0.30–0.43 against 0.33–0.47 %. Each part alone gained less or not robustly (arena 1
 * alone: −0.9 in one pair, none in the next). docs/benchmarks.md "Agent footprint", round 4.
 */
export const AGENT_NODE_ENV: Readonly<Record<string, string>> = Object.freeze({
  MALLOC_ARENA_MAX: '1',
  MALLOC_TOP_PAD_: '0',
  MALLOC_TRIM_THRESHOLD_: '65536',
  MALLOC_MMAP_THRESHOLD_: '65536',
});
