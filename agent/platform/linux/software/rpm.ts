import { sanitizeText } from '../../../../shared/domain/sanitize.js';
import type { InstalledPackage } from '../../sensors.js';

/** Relative to the root: rpm's database directory (rpmdb.sqlite on newer systems, Packages on older). */
export const RPM_DIR = 'var/lib/rpm';

/** Query format: one package per line, tab-separated. EPOCH and VENDOR print "(none)" when unset. */
export const RPM_QUERY_FORMAT = '%{NAME}\\t%{EPOCH}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{INSTALLTIME}\\t%{VENDOR}\\n';

/** Arguments for `rpm -qa`, with `--root` when reading a tree other than '/'. */
export function rpmQueryArgs(root: string): string[] {
  const args = ['-qa', '--qf', RPM_QUERY_FORMAT];
  if (root !== '/' && root !== '') args.unshift('--root', root);
  return args;
}

const none = (s: string | undefined) => (s === undefined || s === '' || s === '(none)' ? null : s);

/**
 * Parses the output of `rpm -qa --qf RPM_QUERY_FORMAT`. Skips gpg-pubkey pseudo-packages and lines
 * that do not have the five fields; counts the latter as malformed.
 */
export function parseRpmQuery(stdout: string): { packages: InstalledPackage[]; malformed: number } {
  const packages: InstalledPackage[] = [];
  let malformed = 0;
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const f = line.replace(/\r$/, '').split('\t');
    if (f.length !== 5 || !f[0]) {
      malformed++;
      continue;
    }
    const [rawName, evr, arch, , vendor] = f;
    if (rawName === 'gpg-pubkey') continue;
    const version = (evr ?? '').replace(/^\(none\):/, '');
    packages.push({
      name: sanitizeText(rawName ?? '', 128),
      version: none(version) === null ? null : sanitizeText(version, 128),
      arch: none(arch) === null ? null : sanitizeText(arch ?? '', 32),
      publisher: none(vendor) === null ? null : sanitizeText(vendor ?? '', 128),
      source: 'rpm',
    });
  }
  return { packages, malformed };
}
