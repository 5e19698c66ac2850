/**
 * Build step (after tsc): bundles the agent's entry (dist/agent/bundle-entry.js) and everything it
 * imports into one ES module, dist/scripts/seatguard-agent.js, which `seatguard agent install`
 * puts on the systemd unit's ExecStart (agent/build-root.ts agentEntry()).
 *
 * Why: the agent as ~830 separate ES modules (683 of them typebox's) held ~13 MiB more resident
 * memory than the same code as one file (docs/benchmarks.md, "Agent footprint"). The bundle is
 * made from tsc's output, so the code it runs is the code the tests compiled.
 *
 * Left outside the bundle, loaded from node_modules at run time: native addons (better-sqlite3,
 * koffi, usb) and systeminformation (loaded with `require` and dropped again after each BIOS read,
 * agent/platform/linux/firmware/si-bios.ts). pino is inside: loaded from node_modules it was ~15
 * CommonJS files and −3 to −4 MiB RSS when bundled (measured); the agent logs to stdout and never
 * starts a pino transport, the one part (worker threads) that resolves files by path.
 *
 * TypeBox must not be in it: the agent checks with generated validators (shared/protocol/
 * validators.gen.ts, agent/generated-checks.ts), and TypeBox's ~680 modules were the last ~4 MiB of
 * its idle RSS. A value import of a schema module slipping back in fails this build, not a
 * benchmark weeks later (test/e2e/agent-bundle.test.ts checks the metafile too).
 *
 *   node dist/scripts/bundle-agent.js [--out FILE] [--metafile FILE]
 */
import { build } from 'esbuild';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';

/** Packages whose modules must never be inside the agent bundle (input paths, as esbuild's metafile lists them). */
const FORBIDDEN_IN_AGENT_BUNDLE = /(^|[\\/])node_modules[\\/]typebox[\\/]/;

const EXTERNAL = ['better-sqlite3', 'koffi', 'usb', 'systeminformation', 'bufferutil', 'utf-8-validate'];

const distDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const outfile = resolve(arg('out') ?? join(distDir, 'scripts', 'seatguard-agent.js'));

const result = await build({
  entryPoints: [join(distDir, 'agent', 'bundle-entry.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: EXTERNAL,
  // Whitespace and syntax only: names stay readable in stack traces and logs.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'eof',
  // ws, commander and pino are CommonJS; inside an ES module their require() calls need a real require.
  banner: { js: "import { createRequire as __sgCreateRequire } from 'node:module';\nconst require = __sgCreateRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
});

const metaOut = arg('metafile');
if (metaOut) writeFileSync(metaOut, JSON.stringify(result.metafile));
const forbidden = Object.keys(result.metafile.inputs).filter((p) => FORBIDDEN_IN_AGENT_BUNDLE.test(p));
if (forbidden.length > 0) {
  // Who pulled it in is the useful part: the modules outside the package that import it.
  const importers = Object.entries(result.metafile.inputs)
    .filter(([p, i]) => !FORBIDDEN_IN_AGENT_BUNDLE.test(p) && i.imports.some((imp) => FORBIDDEN_IN_AGENT_BUNDLE.test(imp.path)))
    .map(([p]) => p);
  process.stderr.write(`agent bundle: ${forbidden.length} TypeBox modules are inside, imported by ${importers.join(', ')}\n`);
  process.exit(1);
}
const bytes = Object.values(result.metafile.outputs)[0]?.bytes ?? 0;
process.stdout.write(`agent bundle: ${relative(process.cwd(), outfile)} (${(bytes / 1024).toFixed(0)} KiB, ${Object.keys(result.metafile.inputs).length} modules)\n`);
