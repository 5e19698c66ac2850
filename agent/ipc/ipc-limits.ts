/** Limits of the local request protocol, shared by its schemas (ipc-schema.ts) and its code (ipc-protocol.ts). */
export const IPC_VERSION = 1;
/** Longest request line accepted, in bytes (newline included). */
export const IPC_MAX_LINE_BYTES = 8 * 1024;
/** Shortest and longest unlock a seat may ask for (the collector applies its own, usually tighter, bounds). */
export const IPC_MIN_DURATION_MS = 1_000;
export const IPC_MAX_DURATION_MS = 7 * 24 * 3_600_000;
