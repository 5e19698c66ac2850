/**
 * Locale-independent string order (UTF-16 code units) for sorting names into a stable output.
 *
 * `localeCompare` would do, but its first call loads ICU's collation data: ~2 MiB of the node
 * binary's read-only pages (icudt) become resident in the agent for its whole life, for an order
 * nobody reads as a language (measured with /proc/PID/pagemap, docs/benchmarks.md). It also made
 * the order depend on the seat's locale.
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
