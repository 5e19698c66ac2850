/** Quotes one argument for POSIX sh (busybox ash): single quotes, with embedded ones escaped. */
export function shq(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
